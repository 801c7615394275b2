"""Business-hours calendars: when a service desk is open, and business-time arithmetic.

A calendar has an IANA time zone and weekly opening periods (several a day, given as
minutes of the local day). Public holidays and make-up workdays come from the
``holidays`` package for the calendar's country (no table is kept here); extra closed
and extra open dates come from the configuration. A day is closed when it is an extra
closed date; otherwise it is open with its weekday's periods (or, when it has none, the
periods of the calendar's make-up weekday) when it is an extra open date or a make-up
workday; otherwise it is closed on a public holiday and follows its weekday otherwise.

Guarantees: every instant in and out is a timezone-aware datetime and every instant out
is in UTC. Each day's periods are placed in wall time and converted to instants, so a
period keeps its wall-clock bounds across a DST change, and business minutes are the
elapsed minutes inside those periods. ``business_minutes_between(a, add_business_minutes(a,
m)) == m``. Holiday sets are computed once per country and year, and no search runs past
``MAX_SEARCH_DAYS`` (``CalendarError`` instead). Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

MINUTES_PER_DAY = 24 * 60
# A forward search (the next opening, a due time) gives up after this many days.
MAX_SEARCH_DAYS = 400
# ``business_minutes_between`` spans at most this many days.
MAX_SPAN_DAYS = 4000
MINUTE = timedelta(minutes=1)

Period = tuple[int, int]  # [start, end) in minutes of the local day, 0 <= start < end <= 1440


class CalendarError(ValueError):
    """A calendar that cannot answer: a naive datetime, or no opening within the search bound."""


@lru_cache(maxsize=256)
def holiday_year(country: str, subdiv: str | None, year: int) -> tuple[frozenset[date], frozenset[date]]:
    """(public holidays, make-up workdays) of ``country`` in ``year``, as ``holidays`` gives them."""
    found = holidays.country_holidays(country, subdiv=subdiv, years=year)
    days_off = frozenset(day for day in found if day.year == year)
    workdays = frozenset(day for day in found.weekend_workdays if day.year == year)
    return days_off, workdays


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise CalendarError("a timezone-aware datetime is required")
    return at.astimezone(UTC)


@dataclass(frozen=True)
class BusinessCalendar:
    """Opening hours in ``zone``. ``week`` maps a weekday (0 is Monday) to its periods."""

    zone: str
    week: Mapping[int, tuple[Period, ...]] = field(default_factory=dict)
    country: str | None = None
    subdiv: str | None = None
    makeup_weekday: int = 0
    closed_dates: frozenset[date] = frozenset()
    open_dates: frozenset[date] = frozenset()
    always_open: bool = False

    @classmethod
    def twenty_four_seven(cls, zone: str = "UTC") -> BusinessCalendar:
        """Always open: business time is elapsed time."""
        return cls(zone=zone, always_open=True)

    def __post_init__(self) -> None:
        ZoneInfo(self.zone)  # an unknown zone fails here, not at the first question
        for weekday, periods in self.week.items():
            if not 0 <= weekday <= 6:
                raise CalendarError(f"weekday {weekday} is not 0 (Monday) to 6 (Sunday)")
            previous_end = 0
            for start, end in periods:
                if not previous_end <= start < end <= MINUTES_PER_DAY:
                    raise CalendarError(f"weekday {weekday}: periods must be ordered and not overlap")
                previous_end = end

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    def periods_on(self, day: date) -> tuple[Period, ...]:
        """The local opening periods of ``day``, holidays and make-up workdays applied."""
        if self.always_open:
            return ((0, MINUTES_PER_DAY),)
        if day in self.closed_dates:
            return ()
        own = tuple(self.week.get(day.weekday(), ()))
        if day in self.open_dates:
            return own or tuple(self.week.get(self.makeup_weekday, ()))
        if self.country is None:
            return own
        days_off, workdays = holiday_year(self.country, self.subdiv, day.year)
        if day in workdays:
            return own or tuple(self.week.get(self.makeup_weekday, ()))
        return () if day in days_off else own

    def intervals_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """``day``'s opening periods as [start, end) UTC instants (bounds placed in wall time)."""
        return [(self._instant(day, start), self._instant(day, end)) for start, end in self.periods_on(day)]

    def _instant(self, day: date, minute: int) -> datetime:
        if minute == MINUTES_PER_DAY:
            day, minute = day + timedelta(days=1), 0
        wall = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=self.tz)
        return wall.astimezone(UTC)

    def _intervals_from(self, at: datetime, days: int) -> Iterator[tuple[datetime, datetime]]:
        """Opening intervals that end after ``at``, in order, over at most ``days`` local days."""
        first = at.astimezone(self.tz).date()
        for offset in range(days):
            for start, end in self.intervals_on(first + timedelta(days=offset)):
                if end > at:
                    yield max(start, at), end

    def is_open(self, at: datetime) -> bool:
        at = _utc(at)
        if self.always_open:
            return True
        return any(start <= at < end for start, end in self.intervals_on(at.astimezone(self.tz).date()))

    def next_opening(self, at: datetime) -> datetime:
        """``at`` when open, else the start of the next opening period."""
        at = _utc(at)
        if self.always_open:
            return at
        for start, _end in self._intervals_from(at, MAX_SEARCH_DAYS):
            return start
        raise CalendarError(f"calendar {self.zone}: no opening within {MAX_SEARCH_DAYS} days")

    def add_business_minutes(self, start: datetime, minutes: int) -> datetime:
        """The instant ``minutes`` business minutes after ``start`` (a start outside hours
        begins at the next opening; 0 minutes gives that opening)."""
        if minutes < 0:
            raise CalendarError("minutes must not be negative")
        start = _utc(start)
        if self.always_open:
            return start + minutes * MINUTE
        remaining = minutes * MINUTE
        for begin, end in self._intervals_from(start, MAX_SEARCH_DAYS):
            if remaining <= end - begin:
                return begin + remaining
            remaining -= end - begin
        raise CalendarError(f"calendar {self.zone}: {minutes} business minutes exceed {MAX_SEARCH_DAYS} days")

    def business_minutes_between(self, a: datetime, b: datetime) -> int:
        """Whole business minutes from ``a`` to ``b`` (0 when ``b`` is not after ``a``)."""
        a, b = _utc(a), _utc(b)
        if b <= a:
            return 0
        if self.always_open:
            return int((b - a) // MINUTE)
        days = (b.astimezone(self.tz).date() - a.astimezone(self.tz).date()).days + 1
        if days > MAX_SPAN_DAYS:
            raise CalendarError(f"calendar {self.zone}: a span over {MAX_SPAN_DAYS} days")
        total = timedelta()
        for begin, end in self._intervals_from(a, days):
            if begin >= b:
                break
            total += min(end, b) - begin
        return int(total // MINUTE)
