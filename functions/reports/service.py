"""The service figures of the KPI reports, from the counters of the tickets. Pure: no AWS
here, no clock, no configuration.

Guarantees (docs/kpis.md "Service", docs/tickets.md "Service figures"):

- :func:`ticket_counts` is a ticket's whole contribution to the day buckets, a function
  of its stored item alone (its ``report`` attribute, written with every change of the
  ticket), so a stream record adds ``ticket_counts(new) - ticket_counts(old)`` and the
  counters always equal the sum over the tickets' latest items. An item without a
  ``report`` (a ticket not written since the attribute exists) counts nothing.
- Each instant counts on its program-local day (``tz``), in the day bucket
  ``bucket_day``; no month buckets are kept for these counters.
- :func:`service_figures` reads only the period's day buckets and computes each figure
  by its definition in ``reports.kpis``; the median first response of the histogram
  counters equals ``kpis.median`` of the times themselves (below the cap).

The counters, per day bucket:

- ``tickets_opened`` on the day the ticket was created, ``complaints`` too when its
  category is ``complaint`` (its category now);
- ``tickets_resolved`` on the day of its latest resolve while it is resolved or closed,
  ``one_touch`` too when it was resolved with exactly one public reply and never
  reopened, ``reopened_resolved`` too when it was reopened at least once before it;
- ``sla_<target>_achieved`` / ``sla_<target>_breached`` for ``first_response``,
  ``next_reply`` and ``resolution`` on the day of the target's due time, once decided
  (a target running, paused or undecided adds nothing; next reply counts once per
  ticket: breached when any episode was, on the due day of the latest episode);
- ``frb<n>`` and ``frc<n>`` on the day of the first response: ``n`` its business and
  calendar whole minutes; ``n`` of 10080 (a week) or more counts in ``frb10080+`` /
  ``frc10080+``, which the median reads as 10080."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from loyalty.timeutil import local_day, parse_rfc3339
from reports import kpis
from reports.orders import Amounts
from reports.periods import Period, bucket_day

if TYPE_CHECKING:  # reports.figures calls this module: no import cycle at run time
    from reports.figures import Buckets

TARGETS = ("first_response", "next_reply", "resolution")
OUTCOMES = ("achieved", "breached")
COMPLAINT = "complaint"
MINUTES_CAP = 10080  # a week of minutes: from here on, one overflow counter
BUSINESS, CALENDAR = "frb", "frc"
_HISTOGRAM = re.compile(r"(frb|frc)([0-9]+)(\+?)")


def _day(value: Any, tz: ZoneInfo) -> str:
    return bucket_day(local_day(parse_rfc3339(str(value)), tz))


def minutes_counter(prefix: str, minutes: int) -> str:
    """``frb42``; from the cap on, ``frb10080+``."""
    return f"{prefix}{MINUTES_CAP}+" if minutes >= MINUTES_CAP else f"{prefix}{minutes}"


def _add(counts: Amounts, bucket: str, name: str) -> None:
    counts[(bucket, name)] = counts.get((bucket, name), Decimal(0)) + 1


def _resolution(counts: Amounts, report: Mapping[str, Any], tz: ZoneInfo) -> None:
    resolved_at = report.get("resolved_at")
    if not resolved_at:
        return
    day = _day(resolved_at, tz)
    _add(counts, day, "tickets_resolved")
    if report.get("one_touch") is True:
        _add(counts, day, "one_touch")
    if int(report.get("reopened") or 0) > 0:
        _add(counts, day, "reopened_resolved")


def _targets(counts: Amounts, report: Mapping[str, Any], tz: ZoneInfo) -> None:
    targets = report.get("sla") or {}
    for target in TARGETS:
        state = targets.get(target) or {}
        outcome = state.get("outcome")
        if outcome in OUTCOMES and state.get("due_at"):
            _add(counts, _day(state["due_at"], tz), f"sla_{target}_{outcome}")


def _first_response(counts: Amounts, report: Mapping[str, Any], tz: ZoneInfo) -> None:
    first = report.get("first_response")
    if not first:
        return
    day = _day(first["at"], tz)
    _add(counts, day, minutes_counter(BUSINESS, int(first["business_minutes"])))
    _add(counts, day, minutes_counter(CALENDAR, int(first["calendar_minutes"])))


def ticket_counts(item: Mapping[str, Any] | None, tz: ZoneInfo) -> Amounts:
    """The ticket's counters, (day bucket, counter) -> count, from its stored item (a
    stream image); {} for None or an item without ``report``."""
    report = item.get("report") if item is not None else None
    if not isinstance(report, Mapping):
        return {}
    counts: Amounts = {}
    opened = _day(report["created_at"], tz)
    _add(counts, opened, "tickets_opened")
    if report.get("category") == COMPLAINT:
        _add(counts, opened, "complaints")
    _resolution(counts, report, tz)
    _targets(counts, report, tz)
    _first_response(counts, report, tz)
    return counts


def histogram(b: Buckets, p: Period, prefix: str) -> dict[int, int]:
    """minutes -> count of the period's first responses (the overflow counter at the cap)."""
    out: dict[int, int] = {}
    for day in p.days():
        for name, value in b.counts.get(bucket_day(day), {}).items():
            found = _HISTOGRAM.fullmatch(name)
            if found is None or found.group(1) != prefix:
                continue
            minutes = min(int(found.group(2)), MINUTES_CAP)
            out[minutes] = out.get(minutes, 0) + int(value)
    return out


def _nth(ordered: list[tuple[int, int]], index: int) -> int:
    """The value at ``index`` (0-based) of the sorted values the histogram stands for."""
    seen = 0
    for value, count in ordered:
        seen += count
        if index < seen:
            return value
    raise IndexError(index)


def histogram_median(counts: Mapping[int, int]) -> float | None:
    """``kpis.median`` of the values ``counts`` (value -> how many) stands for, without
    listing them; counts of 0 or less are no values."""
    ordered = sorted((value, count) for value, count in counts.items() if count > 0)
    total = sum(count for _, count in ordered)
    if total == 0:
        return None
    middle = total // 2
    if total % 2:
        return float(_nth(ordered, middle))
    return (_nth(ordered, middle - 1) + _nth(ordered, middle)) / 2


def _sum_days(b: Buckets, p: Period, name: str) -> int:
    return sum(b.count(bucket_day(day), name) for day in p.days())


def service_figures(b: Buckets, p: Period) -> dict[str, Any]:
    """The service figures of period ``p`` from its day buckets (``complaint_rate``
    divides by the period's ``orders`` counter)."""
    resolved = _sum_days(b, p, "tickets_resolved")
    found: dict[str, Any] = {
        "tickets_opened": _sum_days(b, p, "tickets_opened"),
        "tickets_resolved": resolved,
    }
    for target in TARGETS:
        found[f"sla_{target}"] = kpis.sla_compliance(
            _sum_days(b, p, f"sla_{target}_achieved"), _sum_days(b, p, f"sla_{target}_breached")
        )
    found["median_first_response_business_minutes"] = histogram_median(histogram(b, p, BUSINESS))
    found["median_first_response_calendar_minutes"] = histogram_median(histogram(b, p, CALENDAR))
    found["one_touch_rate"] = kpis.one_touch_rate(_sum_days(b, p, "one_touch"), resolved)
    found["reopen_rate"] = kpis.reopen_rate(_sum_days(b, p, "reopened_resolved"), resolved)
    found["complaint_rate"] = kpis.complaint_rate(_sum_days(b, p, "complaints"), _sum_days(b, p, "orders"))
    return found
