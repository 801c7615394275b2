"""Report periods and the rollup bucket names, over local dates.

Guarantees:
- pure: dates and strings in, periods and strings out; no data access, no clock;
- a :class:`Period` is ``[start, end)`` in local dates with ``end`` exclusive: a day
  (``end = start + 1``), an ISO week (Monday to the next Monday) or a calendar month
  (the 1st to the next 1st); constructing any other period raises ``ValueError``;
- ``report_id`` is ``"<kind>-<start>"`` and :func:`parse_report_id` is its exact inverse:
  it raises ``ValueError`` on anything else (an unknown kind, a malformed date, a start
  not aligned to its kind);
- :func:`periods_due` lists each completed period after the last one done, in order,
  so a missed run catches up and a repeated run finds nothing new;
- bucket names: ``D2026-03-10`` (a day), ``W2026-03-09`` (the Monday of an ISO week),
  ``M2026-03`` (a month), ``C2026-03`` (the cohort of a first-order month).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal, get_args

Kind = Literal["daily", "weekly", "monthly"]
KINDS: tuple[Kind, ...] = get_args(Kind)
PERIODS_PER_YEAR: dict[Kind, int] = {"daily": 365, "weekly": 52, "monthly": 12}

_REPORT_ID = re.compile(r"(daily|weekly|monthly)-([0-9]{4}-[0-9]{2}-[0-9]{2})")
_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
_ONE_DAY = timedelta(days=1)


def first_of_month(day: date) -> date:
    """The 1st of the month of ``day``."""
    return day.replace(day=1)


def month_after(day: date) -> date:
    """The 1st of the month after the month of ``day``."""
    if day.month == 12:
        return date(day.year + 1, 1, 1)
    return date(day.year, day.month + 1, 1)


def month_before(day: date) -> date:
    """The 1st of the month before the month of ``day``."""
    return first_of_month(first_of_month(day) - _ONE_DAY)


def monday_of(day: date) -> date:
    """The Monday of the ISO week of ``day``."""
    return day - timedelta(days=day.weekday())


def month_of(day: date) -> str:
    """``YYYY-MM`` of ``day``."""
    return f"{day.year:04d}-{day.month:02d}"


def _start_of(kind: Kind, day: date) -> date:
    if kind == "daily":
        return day
    if kind == "weekly":
        return monday_of(day)
    return first_of_month(day)


def _end_of(kind: Kind, start: date) -> date:
    if kind == "daily":
        return start + _ONE_DAY
    if kind == "weekly":
        return start + timedelta(days=7)
    return month_after(start)


@dataclass(frozen=True, order=True)
class Period:
    """One report period ``[start, end)``; only aligned periods can be built."""

    kind: Kind
    start: date  # local date, inclusive
    end: date  # local date, exclusive

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown period kind {self.kind!r}")
        if _start_of(self.kind, self.start) != self.start:
            raise ValueError(f"a {self.kind} period cannot start on {self.start.isoformat()}")
        if _end_of(self.kind, self.start) != self.end:
            raise ValueError(f"a {self.kind} period from {self.start.isoformat()} ends elsewhere")

    @property
    def report_id(self) -> str:
        """``"<kind>-<start>"``, e.g. ``"monthly-2026-02-01"``."""
        return f"{self.kind}-{self.start.isoformat()}"

    def previous(self) -> Period:
        """The period of the same kind just before this one."""
        return period_of(self.kind, self.start - _ONE_DAY)

    def next(self) -> Period:
        """The period of the same kind just after this one."""
        return period_of(self.kind, self.end)

    def days(self) -> list[date]:
        """Every local date of the period, in order."""
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days)]

    @property
    def periods_per_year(self) -> int:
        """365, 52 or 12: the periods of this kind in a year (to annualise churn)."""
        return PERIODS_PER_YEAR[self.kind]


def period_of(kind: Kind, day: date) -> Period:
    """The period of ``kind`` that contains ``day``."""
    if kind not in KINDS:
        raise ValueError(f"unknown period kind {kind!r}")
    start = _start_of(kind, day)
    return Period(kind, start, _end_of(kind, start))


def parse_report_id(report_id: str) -> Period:
    """The period of a ``report_id``; ``ValueError`` on anything that is not exactly
    ``"<kind>-<YYYY-MM-DD>"`` with a start aligned to its kind."""
    found = _REPORT_ID.fullmatch(report_id) if isinstance(report_id, str) else None
    if found is None:
        raise ValueError("not a report id")
    kind: Kind = found.group(1)  # type: ignore[assignment]  # the pattern admits only kinds
    start = date.fromisoformat(found.group(2))  # ValueError on an impossible date
    period = period_of(kind, start)
    if period.start != start:
        raise ValueError(f"a {kind} period cannot start on {start.isoformat()}")
    return period


def periods_due(kind: Kind, last_done: Period | None, today: date) -> list[Period]:
    """The completed periods (``end <= today``) after ``last_done``, oldest first; on a
    first run (``last_done`` None) only the latest completed one."""
    latest = period_of(kind, today).previous()
    if last_done is None:
        return [latest]
    if last_done.kind != kind:
        raise ValueError(f"a {last_done.kind} period is not a {kind} one")
    due: list[Period] = []
    period = last_done.next()
    while period.end <= today:
        due.append(period)
        period = period.next()
    return due


# --- bucket names ----------------------------------------------------------------------


def bucket_day(day: date) -> str:
    """``D2026-03-10``: the bucket of one local day."""
    return f"D{day.isoformat()}"


def bucket_week(day: date) -> str:
    """``W2026-03-09``: the bucket of the ISO week of ``day``, named by its Monday."""
    return f"W{monday_of(day).isoformat()}"


def bucket_month(day: date) -> str:
    """``M2026-03``: the bucket of the month of ``day``."""
    return f"M{month_of(day)}"


def bucket_cohort(month: str) -> str:
    """``C2026-03``: the bucket of the members whose first order fell in ``month``
    (``YYYY-MM``); ``ValueError`` on anything else."""
    if not isinstance(month, str) or _MONTH.fullmatch(month) is None:
        raise ValueError("not a YYYY-MM month")
    return f"C{month}"


def bucket_of(period: Period) -> str:
    """The D, W or M bucket of a period."""
    if period.kind == "daily":
        return bucket_day(period.start)
    if period.kind == "weekly":
        return bucket_week(period.start)
    return bucket_month(period.start)
