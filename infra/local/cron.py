"""Evaluate Amazon EventBridge Scheduler ``cron(...)`` and ``rate(...)`` expressions.

The local scheduler uses this module to fire the same schedules as AWS against a
simulated clock. ``parse`` validates an expression and returns a ``Schedule``;
``Schedule.occurrences`` lists the fire times in a window and ``Schedule.next_after``
finds the next one. All fire times are timezone-aware UTC datetimes.

Cron syntax: ``cron(minutes hours day-of-month month day-of-week year)``.

=============  ==========  ==================================================
Field          Values      Allowed syntax
=============  ==========  ==================================================
minutes        0-59        ``*``, value, ``a,b``, ``a-b``, ``*/n``, ``a/n``, ``a-b/n``
hours          0-23        as minutes
day-of-month   1-31        as minutes, plus ``?``, ``L``, ``nW``, ``LW``
month          1-12        as minutes; names ``JAN``-``DEC``
day-of-week    1-7         as minutes, plus ``?``, ``L``, ``nL``, ``n#k``;
                           1=SUN ... 7=SAT; names ``SUN``-``SAT``
year           1970-2199   as minutes
=============  ==========  ==================================================

* Exactly one of day-of-month and day-of-week must be ``?``.
* ``L`` in day-of-month is the last day of the month. ``L`` alone in day-of-week is
  7 (Saturday); ``nL`` (e.g. ``6L`` or ``FRIL``) is the last weekday *n* of the month.
* ``n#k`` (e.g. ``3#2`` or ``TUE#2``) is the k-th (1-5) weekday *n* of the month;
  months without one are skipped.
* ``W`` **is supported**: ``nW`` (e.g. ``15W``) fires on the weekday (Mon-Fri)
  nearest to day *n* without leaving the month (``1W`` on a Saturday is Monday the
  3rd; a Sunday last-of-month goes back to Friday); months shorter than *n* days are
  skipped. ``LW`` is the last weekday of the month.
* ``L``, ``LW``, ``nW``, ``nL`` and ``n#k`` must make up the whole field (no lists,
  ranges or steps with them), as in Quartz, which AWS cron follows.
* Names are case-insensitive and may be used in ranges, lists and steps
  (``MON-FRI``, ``JAN,JUL``). A range must not run backwards (``FRI-MON`` and
  ``22-2`` are rejected rather than wrapped around). A step must be between 1 and
  the number of values in the field.

Rate syntax: ``rate(value unit)`` with an integer value >= 1 and unit
``minute``/``hour``/``day`` when the value is 1, otherwise ``minutes``/``hours``/``days``
(AWS rejects ``rate(1 minutes)`` and ``rate(5 minute)``).

Time zones and daylight saving time (cron only; a rate is exact elapsed time, so
``rate(1 day)`` is always 24 hours apart, as in AWS):

* The fields are wall-clock time in the IANA zone passed as ``tz``.
* A wall time that falls into a spring-forward gap fires **once, at the first valid
  instant after the gap** (the transition itself): ``cron(30 2 * * ? *)`` in
  Europe/Berlin on 2024-03-31 fires at 03:00 CEST (01:00 UTC). Several gap times
  collapse into that one firing, and it is not repeated if the schedule also fires at
  the gap's end. Note that the AWS documentation says EventBridge Scheduler *skips*
  such an invocation; this module deliberately fires it instead.
* A wall time that occurs twice (fall-back) fires once, at its first occurrence
  (``fold=0``, the earlier instant).
"""

from __future__ import annotations

import calendar
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["MAX_YEAR", "MIN_YEAR", "CronSchedule", "RateSchedule", "Schedule", "parse"]

MIN_YEAR = 1970
MAX_YEAR = 2199

# Windows are clamped to these bounds before converting to local time, so that the
# local conversion can never overflow and no time is wasted before/after the years
# a cron expression can match.
_EARLIEST = datetime(MIN_YEAR - 1, 12, 30, tzinfo=UTC)
_LATEST = datetime(MAX_YEAR + 1, 1, 2, tzinfo=UTC)
_FAR_PAST = datetime.min.replace(tzinfo=UTC)
_FAR_FUTURE = datetime.max.replace(tzinfo=UTC)

_MONTH_NAMES = {name.upper(): i for i, name in enumerate(calendar.month_abbr) if name}
_WEEKDAY_NAMES = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}

_CRON_RE = re.compile(r"cron\((?P<body>[^()]*)\)", re.ASCII)
_RATE_RE = re.compile(r"rate\((?P<value>[0-9]+) (?P<unit>[a-z]+)\)", re.ASCII)
_NUMBER_RE = re.compile(r"[0-9]+", re.ASCII)
_RATE_UNITS = {"minute": 1, "hour": 60, "day": 24 * 60}


# --------------------------------------------------------------------------- helpers


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {value!r}")


def _as_utc(value: datetime) -> datetime:
    """``value`` in UTC; values beyond the range of ``datetime`` clamp to its ends."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return _FAR_PAST if value.year == datetime.min.year else _FAR_FUTURE


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {tz!r}") from exc


def _aws_weekday(year: int, month: int, day: int) -> int:
    """Day of week in AWS numbering: 1=SUN, 2=MON, ..., 7=SAT."""
    return (calendar.weekday(year, month, day) + 1) % 7 + 1


def _to_utc(wall: datetime, zone: ZoneInfo) -> datetime:
    """The instant a naive wall-clock time in ``zone`` fires at (see module docstring)."""
    local = wall.replace(tzinfo=zone)  # fold=0: the first occurrence of an ambiguous time
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == wall:
        return instant
    return _gap_end(wall, zone)


def _gap_end(wall: datetime, zone: ZoneInfo) -> datetime:
    """The first instant after the spring-forward gap that contains ``wall``.

    Inside a gap ``fold=1`` applies the offset after the transition (an instant before
    it) and ``fold=0`` the offset before it (an instant at or after it); the transition
    is the earliest instant whose local wall time is later than ``wall``. Binary search
    on whole seconds between the two.
    """
    lo = int(wall.replace(tzinfo=zone, fold=1).timestamp())
    hi = int(wall.replace(tzinfo=zone, fold=0).timestamp())
    lo, hi = min(lo, hi), max(lo, hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, zone).replace(tzinfo=None) > wall:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


# --------------------------------------------------------------------------- day rules


class _DayRule(ABC):
    """Which days of a given month a cron expression matches."""

    @abstractmethod
    def days(self, year: int, month: int) -> list[int]:
        """Matching days of the month, ascending."""


@dataclass(frozen=True)
class _DaysOfMonth(_DayRule):
    values: tuple[int, ...]

    def days(self, year: int, month: int) -> list[int]:
        last = calendar.monthrange(year, month)[1]
        return [d for d in self.values if d <= last]


@dataclass(frozen=True)
class _LastDayOfMonth(_DayRule):
    def days(self, year: int, month: int) -> list[int]:
        return [calendar.monthrange(year, month)[1]]


@dataclass(frozen=True)
class _NearestWeekday(_DayRule):
    day: int | None  # None: LW, the last weekday of the month

    def days(self, year: int, month: int) -> list[int]:
        last = calendar.monthrange(year, month)[1]
        day = last if self.day is None else self.day
        if day > last:
            return []
        weekday = _aws_weekday(year, month, day)
        if weekday == 7:  # Saturday: Friday before, or Monday after if that leaves the month
            return [day - 1] if day > 1 else [day + 2]
        if weekday == 1:  # Sunday: Monday after, or Friday before if that leaves the month
            return [day + 1] if day < last else [day - 2]
        return [day]


@dataclass(frozen=True)
class _DaysOfWeek(_DayRule):
    values: frozenset[int]

    def days(self, year: int, month: int) -> list[int]:
        first, last = calendar.monthrange(year, month)
        first_aws = (first + 1) % 7 + 1
        return [d for d in range(1, last + 1) if (first_aws + d - 2) % 7 + 1 in self.values]


@dataclass(frozen=True)
class _LastWeekdayOfMonth(_DayRule):
    weekday: int

    def days(self, year: int, month: int) -> list[int]:
        last = calendar.monthrange(year, month)[1]
        return [last - (_aws_weekday(year, month, last) - self.weekday) % 7]


@dataclass(frozen=True)
class _NthWeekdayOfMonth(_DayRule):
    weekday: int
    nth: int

    def days(self, year: int, month: int) -> list[int]:
        last = calendar.monthrange(year, month)[1]
        first_match = 1 + (self.weekday - _aws_weekday(year, month, 1)) % 7
        day = first_match + 7 * (self.nth - 1)
        return [day] if day <= last else []


# --------------------------------------------------------------------------- schedules


class Schedule(ABC):
    """A parsed EventBridge Scheduler expression."""

    expression: str

    @abstractmethod
    def occurrences(
        self, after: datetime, until: datetime, tz: str, anchor: datetime | None = None
    ) -> Iterator[datetime]:
        """All fire times ``t`` with ``after < t <= until``, ascending, as aware UTC datetimes.

        ``after``, ``until`` and ``anchor`` must be timezone-aware (``ValueError``
        otherwise, raised by this call, not on iteration). ``tz`` is the IANA zone
        the schedule is evaluated in. ``anchor`` only matters for ``rate(...)``.
        """

    def next_after(self, t: datetime, tz: str, anchor: datetime | None = None) -> datetime | None:
        """The first fire time strictly after ``t``, or ``None`` if there is none.

        ``anchor`` is passed on to ``occurrences`` (it only matters for ``rate(...)``;
        it defaults to ``t``, i.e. the next firing is ``t + interval``).
        """
        return next(self.occurrences(t, _FAR_FUTURE, tz, anchor), None)

    def __str__(self) -> str:
        return self.expression


@dataclass(frozen=True)
class RateSchedule(Schedule):
    """``rate(value unit)``: fires every ``interval`` of exact elapsed time."""

    expression: str
    value: int
    unit: str
    interval: timedelta = field(init=False)

    def __post_init__(self) -> None:
        minutes = self.value * _RATE_UNITS[self.unit.removesuffix("s")]
        object.__setattr__(self, "interval", timedelta(minutes=minutes))

    def occurrences(
        self, after: datetime, until: datetime, tz: str, anchor: datetime | None = None
    ) -> Iterator[datetime]:
        """Fire times ``anchor + k * interval`` for ``k >= 0`` with ``after < t <= until``.

        ``anchor`` should be the schedule's start time (EventBridge ``StartDate``, or the
        time the schedule was created when it has none); it defaults to ``after``, in which
        case the first firing is ``after + interval``. The anchor itself is a fire time
        (k=0) when it lies in the window. Nothing fires before the anchor. ``tz`` is
        validated but does not affect a rate: ``rate(1 day)`` is 24 hours even across a
        DST change, as in AWS.
        """
        _require_aware(after, "after")
        _require_aware(until, "until")
        if anchor is not None:
            _require_aware(anchor, "anchor")
        _zone(tz)
        return self._iterate(after, until, after if anchor is None else anchor)

    def _iterate(self, after: datetime, until: datetime, anchor: datetime) -> Iterator[datetime]:
        # In UTC: arithmetic between datetimes sharing a zone would use wall-clock time.
        after, until, start = _as_utc(after), _as_utc(until), _as_utc(anchor)
        if until < start:
            return
        first = 0 if start > after else (after - start) // self.interval + 1
        last = (until - start) // self.interval
        for k in range(first, last + 1):
            yield start + k * self.interval


@dataclass(frozen=True)
class CronSchedule(Schedule):
    """``cron(...)``: fires at matching wall-clock minutes (second 0) in the given zone."""

    expression: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: tuple[int, ...]
    years: tuple[int, ...]
    day_rule: _DayRule

    def occurrences(
        self, after: datetime, until: datetime, tz: str, anchor: datetime | None = None
    ) -> Iterator[datetime]:
        """Fire times in ``(after, until]``; ``anchor`` is validated but ignored for cron.

        The search walks matching years, months, days, hours and minutes in order
        (never minute by minute), so finding a rare occurrence is cheap.
        """
        _require_aware(after, "after")
        _require_aware(until, "until")
        if anchor is not None:
            _require_aware(anchor, "anchor")
        return self._iterate(after, until, _zone(tz))

    def _iterate(self, after: datetime, until: datetime, zone: ZoneInfo) -> Iterator[datetime]:
        after, until = _as_utc(after), _as_utc(until)
        if after >= _LATEST or until <= after:
            return
        # Mapping wall time -> instant is monotonic (non-decreasing), so no wall time
        # earlier than after's own wall time can fire after it, and the first fire time
        # past ``until`` ends the search.
        start = max(after, _EARLIEST).astimezone(zone).replace(tzinfo=None, fold=0)
        previous: datetime | None = None
        for wall in self._walls(start.replace(second=0, microsecond=0)):
            instant = _to_utc(wall, zone)
            if instant <= after or (previous is not None and instant <= previous):
                continue  # before the window, or a gap time collapsed onto the last firing
            if instant > until:
                return
            previous = instant
            yield instant

    def _walls(self, start: datetime) -> Iterator[datetime]:
        """Matching naive wall-clock times at or after ``start``, ascending."""
        start_ym = (start.year, start.month)
        for year in self.years:
            if year < start.year:
                continue
            for month in self.months:
                if (year, month) < start_ym:
                    continue
                in_start_month = (year, month) == start_ym
                for day in self.day_rule.days(year, month):
                    if in_start_month and day < start.day:
                        continue
                    on_start_day = in_start_month and day == start.day
                    for hour in self.hours:
                        if on_start_day and hour < start.hour:
                            continue
                        in_start_hour = on_start_day and hour == start.hour
                        for minute in self.minutes:
                            if in_start_hour and minute < start.minute:
                                continue
                            yield datetime(year, month, day, hour, minute)


# --------------------------------------------------------------------------- parsing


class _ExpressionError(ValueError):
    """A problem in one part of an expression; ``parse`` adds the expression itself."""


def _value(token: str, field_name: str, low: int, high: int, names: Mapping[str, int]) -> int:
    if _NUMBER_RE.fullmatch(token):
        number = int(token)
    elif token in names:
        number = names[token]
    else:
        raise _ExpressionError(f"invalid value {token!r} in {field_name} field")
    if not low <= number <= high:
        raise _ExpressionError(f"{field_name} value {number} is out of range {low}-{high}")
    return number


def _values(
    text: str, field_name: str, low: int, high: int, names: Mapping[str, int] | None = None
) -> tuple[int, ...]:
    """Parse ``*``, values, lists, ranges and steps into a sorted tuple of values."""
    names = names or {}
    result: set[int] = set()
    for part in text.split(","):
        if not part:
            raise _ExpressionError(f"empty list element in {field_name} field {text!r}")
        base, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not _NUMBER_RE.fullmatch(step_text):
                raise _ExpressionError(f"invalid step {step_text!r} in {field_name} field")
            step = int(step_text)
            if not 1 <= step <= high - low + 1:
                raise _ExpressionError(
                    f"step {step} in {field_name} field must be between 1 and {high - low + 1}"
                )
        if base == "*":
            first, last = low, high
        elif "-" in base:
            first_text, _, last_text = base.partition("-")
            first = _value(first_text, field_name, low, high, names)
            last = _value(last_text, field_name, low, high, names)
            if first > last:
                raise _ExpressionError(f"range {base!r} in {field_name} field runs backwards")
        else:
            first = _value(base, field_name, low, high, names)
            last = high if slash else first
        result.update(range(first, last + 1, step))
    return tuple(sorted(result))


def _day_of_month_rule(text: str) -> _DayRule:
    if text == "L":
        return _LastDayOfMonth()
    if text == "LW":
        return _NearestWeekday(None)
    if text.endswith("W"):
        day = text[:-1]
        if not _NUMBER_RE.fullmatch(day):
            raise _ExpressionError(f"invalid day-of-month {text!r}: W needs a single day, e.g. 15W")
        return _NearestWeekday(_value(day, "day-of-month", 1, 31, {}))
    if "L" in text or "W" in text:
        raise _ExpressionError(f"invalid day-of-month {text!r}: L and W must stand alone (L, LW, 15W)")
    return _DaysOfMonth(_values(text, "day-of-month", 1, 31))


def _day_of_week_rule(text: str) -> _DayRule:
    if text == "L":
        return _DaysOfWeek(frozenset({7}))
    if "#" in text:
        weekday_text, _, nth_text = text.partition("#")
        weekday = _value(weekday_text, "day-of-week", 1, 7, _WEEKDAY_NAMES)
        if not _NUMBER_RE.fullmatch(nth_text) or not 1 <= int(nth_text) <= 5:
            raise _ExpressionError(f"invalid day-of-week {text!r}: the number after # must be 1-5")
        return _NthWeekdayOfMonth(weekday, int(nth_text))
    if text.endswith("L"):
        return _LastWeekdayOfMonth(_value(text[:-1], "day-of-week", 1, 7, _WEEKDAY_NAMES))
    return _DaysOfWeek(frozenset(_values(text, "day-of-week", 1, 7, _WEEKDAY_NAMES)))


def _parse_cron(expression: str, body: str) -> CronSchedule:
    fields = body.upper().split()
    if len(fields) != 6:
        raise _ExpressionError(
            f"cron needs 6 fields (minutes hours day-of-month month day-of-week year), got {len(fields)}"
        )
    minute, hour, day_of_month, month, day_of_week, year = fields
    for name, text in (("minutes", minute), ("hours", hour), ("month", month), ("year", year)):
        if "?" in text:
            raise _ExpressionError(
                f"'?' is only allowed in the day-of-month and day-of-week fields, not {name}"
            )
    for name, text in (("day-of-month", day_of_month), ("day-of-week", day_of_week)):
        if "?" in text and text != "?":
            raise _ExpressionError(f"'?' must be the whole {name} field")
    if (day_of_month == "?") == (day_of_week == "?"):
        raise _ExpressionError("exactly one of day-of-month and day-of-week must be '?'")
    rule = _day_of_week_rule(day_of_week) if day_of_month == "?" else _day_of_month_rule(day_of_month)
    return CronSchedule(
        expression=expression,
        minutes=_values(minute, "minutes", 0, 59),
        hours=_values(hour, "hours", 0, 23),
        months=_values(month, "month", 1, 12, _MONTH_NAMES),
        years=_values(year, "year", MIN_YEAR, MAX_YEAR),
        day_rule=rule,
    )


def _parse_rate(expression: str, value_text: str, unit: str) -> RateSchedule:
    value = int(value_text)
    if value < 1:
        raise _ExpressionError("rate value must be at least 1")
    singular = unit.removesuffix("s")
    if singular not in _RATE_UNITS:
        raise _ExpressionError(f"unknown rate unit {unit!r}; use minute(s), hour(s) or day(s)")
    if value == 1 and unit != singular:
        raise _ExpressionError(f"a rate of 1 needs the singular unit {singular!r}, not {unit!r}")
    if value != 1 and unit == singular:
        raise _ExpressionError(f"a rate of {value} needs the plural unit {singular + 's'!r}, not {unit!r}")
    return RateSchedule(expression=expression, value=value, unit=unit)


def parse(expression: str) -> Schedule:
    """Parse an EventBridge Scheduler ``cron(...)`` or ``rate(...)`` expression.

    Raises ``ValueError`` naming the expression and the problem if it is invalid.
    """
    try:
        if cron := _CRON_RE.fullmatch(expression):
            return _parse_cron(expression, cron["body"])
        if rate := _RATE_RE.fullmatch(expression):
            return _parse_rate(expression, rate["value"], rate["unit"])
        if expression.startswith("rate("):
            raise _ExpressionError("expected rate(value unit), e.g. rate(5 minutes)")
        if expression.startswith("cron("):
            raise _ExpressionError("expected cron(minutes hours day-of-month month day-of-week year)")
        raise _ExpressionError("expected cron(...) or rate(...)")
    except _ExpressionError as exc:
        raise ValueError(f"invalid schedule expression {expression!r}: {exc}") from None
