"""The member-level KPI counters of the rollups, and the readers that turn summed
buckets back into report figures.

A member's counted order days (local date -> counted orders that day) map to that
member's whole contribution, ``Counts``: (bucket, counter) -> int. Summing the
contributions of every member gives the buckets a report reads; a change to one member's
orders is applied as :func:`member_delta`, so the sum always equals a recount.

Guarantees:
- pure: no data access, no clock; ``Counts`` never hold a zero;
- ``member_delta(before, after)`` is exactly ``member_counts(after) -
  member_counts(before)`` (zeros dropped, negative values kept), so a sequence of deltas
  telescopes to the contribution of the final order days;
- each reader reads only the buckets its docstring names (:func:`buckets_needed`), and
  over the summed contributions gives what a recount over every member's orders gives:
  ``distinct`` the period's active, repurchasing and new customers, ``active_at`` the
  members active at a moment (``kpis.active_members``), ``churned`` the members active
  at a period's start and not at its end, ``cohort_row`` one row of
  ``kpis.cohort_retention``.

Counters (``w`` is each of the windows, by default 90 and 365 days):
- on the D, W and M bucket of each period with an order: ``active`` 1, ``repurchasers``
  1 with at least 2 orders in it, ``new`` 1 for the period of the first order day;
- the active moments of window ``w`` (an order day in ``[d - w, d)``) form runs
  ``[a, b)``: ``up{w}`` on ``D(a)``, ``down{w}`` on ``D(b)``, ``at{w}`` on ``M(m)`` for
  each month whose 1st falls in ``[a, b)``;
- ``churned`` (window ``active_days``) on the D, W and M bucket of each period that holds
  a day ``b - 1`` and whose start is active and end is not;
- ``m{k}`` on ``C{first order month}``: 1 for each month ``k`` months after the first
  order month with an order day (``m0`` counts the cohort).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import date, timedelta
from typing import TypeAlias

from reports import kpis
from reports.periods import (
    KINDS,
    Kind,
    Period,
    bucket_cohort,
    bucket_day,
    bucket_month,
    bucket_of,
    bucket_week,
    first_of_month,
    month_after,
    month_of,
    period_of,
)

Counts: TypeAlias = Counter[tuple[str, str]]
Buckets: TypeAlias = Mapping[str, Mapping[str, int]]
Run: TypeAlias = tuple[date, date]

ACTIVE_DAYS = kpis.ACTIVE_DAYS
LONG_WINDOW = 365
_BUCKET: dict[Kind, Callable[[date], str]] = {
    "daily": bucket_day,
    "weekly": bucket_week,
    "monthly": bucket_month,
}


def _order_days(days: Mapping[date, int]) -> list[date]:
    if any(count < 0 for count in days.values()):
        raise ValueError("a negative order count")
    return sorted(d for d, count in days.items() if count > 0)


def _windows(active_days: int, long_window: int) -> tuple[int, ...]:
    if active_days < 1 or long_window < 1:
        raise ValueError("a window is at least one day")
    return tuple(dict.fromkeys((active_days, long_window)))


def active_runs(order_days: Iterable[date], window: int) -> list[Run]:
    """The runs ``[a, b)`` of moments at which the member is active: an order day ``o``
    makes the moments ``o + 1 .. o + window`` active; overlapping or touching runs merge."""
    runs: list[Run] = []
    span = timedelta(days=window + 1)
    for day in sorted(order_days):
        a, b = day + timedelta(days=1), day + span
        if runs and a <= runs[-1][1]:
            runs[-1] = (runs[-1][0], max(runs[-1][1], b))
        else:
            runs.append((a, b))
    return runs


def _is_active(runs: list[Run], moment: date) -> bool:
    return any(a <= moment < b for a, b in runs)


def _activity(counts: Counts, days: Mapping[date, int], order_days: list[date]) -> None:
    for kind in KINDS:
        orders: Counter[str] = Counter()
        for day in order_days:
            orders[_BUCKET[kind](day)] += days[day]
        for bucket, number in orders.items():
            counts[bucket, "active"] = 1
            if number >= 2:
                counts[bucket, "repurchasers"] = 1
        counts[_BUCKET[kind](order_days[0]), "new"] = 1


def _coverage(counts: Counts, runs: list[Run], window: int) -> None:
    for a, b in runs:
        counts[bucket_day(a), f"up{window}"] += 1
        counts[bucket_day(b), f"down{window}"] += 1
        month = month_after(a) if a.day > 1 else a
        while month < b:
            counts[bucket_month(month), f"at{window}"] += 1
            month = month_after(month)


def _churn(counts: Counts, runs: list[Run]) -> None:
    for kind in KINDS:
        periods = {period_of(kind, b - timedelta(days=1)) for _, b in runs}
        for period in periods:
            if _is_active(runs, period.start) and not _is_active(runs, period.end):
                counts[bucket_of(period), "churned"] += 1


def _cohort(counts: Counts, order_days: list[date]) -> None:
    first = order_days[0]
    months = {(d.year - first.year) * 12 + d.month - first.month for d in order_days}
    for k in months:
        counts[bucket_cohort(month_of(first)), f"m{k}"] = 1


def member_counts(
    days: Mapping[date, int], active_days: int = ACTIVE_DAYS, long_window: int = LONG_WINDOW
) -> Counts:
    """One member's whole contribution to the buckets, from their counted order days
    (local date -> counted orders that day; 0 or absent: none)."""
    windows = _windows(active_days, long_window)
    order_days = _order_days(days)
    counts: Counts = Counter()
    if not order_days:
        return counts
    _activity(counts, days, order_days)
    for window in windows:
        runs = active_runs(order_days, window)
        _coverage(counts, runs, window)
        if window == active_days:
            _churn(counts, runs)
    _cohort(counts, order_days)
    return counts


def member_delta(
    before: Mapping[date, int],
    after: Mapping[date, int],
    active_days: int = ACTIVE_DAYS,
    long_window: int = LONG_WINDOW,
) -> Counts:
    """``member_counts(after) - member_counts(before)``: zeros dropped, negatives kept."""
    change = member_counts(after, active_days, long_window)
    change.subtract(member_counts(before, active_days, long_window))
    return Counter({key: value for key, value in change.items() if value != 0})


# --- readers over the summed buckets ---------------------------------------------------


def _value(buckets: Buckets, bucket: str, counter: str) -> int:
    return int(buckets.get(bucket, {}).get(counter, 0))


def distinct(buckets: Buckets, period: Period) -> tuple[int, int, int]:
    """(active_customers, repurchasers, new_customers) of the period. Reads the period's
    own bucket only (``D``, ``W`` or ``M``: ``bucket_of(period)``)."""
    bucket = bucket_of(period)
    return (
        _value(buckets, bucket, "active"),
        _value(buckets, bucket, "repurchasers"),
        _value(buckets, bucket, "new"),
    )


def _active_at_days(moment: date) -> list[date]:
    first = first_of_month(moment)
    return [first + timedelta(days=i) for i in range(1, (moment - first).days + 1)]


def active_at(buckets: Buckets, moment: date, window: int) -> int:
    """The members with an order day in ``[moment - window, moment)``. Reads
    ``at{window}`` of ``M(moment)`` and ``up{window}`` - ``down{window}`` of each
    ``D(x)``, x from the 2nd of the moment's month to ``moment`` (none on a 1st)."""
    total = _value(buckets, bucket_month(moment), f"at{window}")
    for day in _active_at_days(moment):
        bucket = bucket_day(day)
        total += _value(buckets, bucket, f"up{window}") - _value(buckets, bucket, f"down{window}")
    return total


def churned(buckets: Buckets, period: Period) -> int:
    """The members active (window ``active_days``) at the period's start and not at its
    end. Reads ``churned`` of the period's own bucket only (``bucket_of(period)``)."""
    return _value(buckets, bucket_of(period), "churned")


def _months_between(first: str, last: str) -> int:
    return (int(last[:4]) - int(first[:4])) * 12 + int(last[5:7]) - int(first[5:7])


def cohort_row(buckets: Buckets, cohort_month: str, last_month: str) -> dict[str, object]:
    """``{"cohort", "size", "retention": [r1, ...]}`` of one first-order month
    (``YYYY-MM``), ``rk = m{k} / m0`` (``kpis.rate``) for each month k after the cohort
    month up to ``last_month``, as ``kpis.cohort_retention``. Reads ``C{cohort_month}``
    only."""
    bucket = bucket_cohort(cohort_month)
    bucket_cohort(last_month)  # validates it
    size = _value(buckets, bucket, "m0")
    retention = [
        kpis.rate(_value(buckets, bucket, f"m{k}"), size)
        for k in range(1, _months_between(cohort_month, last_month) + 1)
    ]
    return {"cohort": cohort_month, "size": size, "retention": retention}


def buckets_needed(
    period: Period, windows: Iterable[int] = (ACTIVE_DAYS, LONG_WINDOW)
) -> dict[str, frozenset[str]]:
    """Each bucket a report of ``period`` reads, with the counters it reads there:
    ``distinct`` and ``churned`` on the period's bucket, and ``active_at`` of each window
    at ``period.start`` and at ``period.end`` (``M`` of each moment and the ``D`` buckets
    from the 2nd of its month to it), sorted by bucket name."""
    needed: dict[str, set[str]] = {bucket_of(period): {"active", "repurchasers", "new", "churned"}}
    for window in windows:
        for moment in (period.start, period.end):
            needed.setdefault(bucket_month(moment), set()).add(f"at{window}")
            for day in _active_at_days(moment):
                needed.setdefault(bucket_day(day), set()).update({f"up{window}", f"down{window}"})
    return {bucket: frozenset(needed[bucket]) for bucket in sorted(needed)}
