"""ISO-8601 durations and RFC 3339 timestamps for the local stack.

``parse_duration`` accepts ``PnYnMnWnDTnHnMnS`` with any non-empty subset of the
components, in that order, each a non-negative integer of ASCII digits, except the
seconds, which may have a fraction (``PT0.5S`` or ``PT0,5S``, at most microsecond
precision). Weeks may be combined with the other components (``P1W2D``, as in
ISO 8601-1:2019). Rejected with ``ValueError``: signs (negative durations), an empty
``P`` or ``PT``, a ``T`` without a time component, fractions outside the seconds,
lowercase designators, whitespace and anything else that does not match.

``Duration.add_to`` applies a duration to an aware datetime:

1. years and months as calendar arithmetic on the wall clock, clamping the day to the
   end of the month (Jan 31 + ``P1M`` = Feb 28, or Feb 29 in a leap year);
2. weeks and days as calendar days on the wall clock of the datetime's own zone
   (``P1D`` keeps the local time across a DST change);
3. hours, minutes and seconds as exact elapsed time.

When step 1-2 lands on a wall time that does not exist (spring-forward gap) it is
shifted forward by the length of the gap (02:30 becomes 03:30 in Europe/Berlin), as
RFC 5545 and ``java.time`` do; on a wall time that occurs twice the offset of the
original datetime is kept if it is one of the two, otherwise the earlier one is used.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal

__all__ = ["Duration", "parse_duration", "parse_rfc3339"]

_MICROSECOND = Decimal("0.000001")

_DURATION_RE = re.compile(
    r"P(?:(?P<years>[0-9]+)Y)?(?:(?P<months>[0-9]+)M)?(?:(?P<weeks>[0-9]+)W)?(?:(?P<days>[0-9]+)D)?"
    r"(?P<time>T(?:(?P<hours>[0-9]+)H)?(?:(?P<minutes>[0-9]+)M)?(?:(?P<seconds>[0-9]+(?:[.,][0-9]+)?)S)?)?",
    re.ASCII,
)
_FRACTION_OUTSIDE_SECONDS_RE = re.compile(r"[0-9][.,][0-9]+[YMWDH]", re.ASCII)

_RFC3339_RE = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})[Tt ]"
    r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})(?:\.(?P<fraction>[0-9]+))?"
    r"(?:(?P<utc>[Zz])|(?P<sign>[+-])(?P<offset_hours>[0-9]{2}):(?P<offset_minutes>[0-9]{2}))",
    re.ASCII,
)
_LEAP_SECOND = 60
_MAX_OFFSET_HOURS = 23
_MAX_OFFSET_MINUTES = 59


@dataclass(frozen=True)
class Duration:
    """A non-negative ISO-8601 duration; components are kept as written, not normalised."""

    years: int = 0
    months: int = 0
    weeks: int = 0
    days: int = 0
    hours: int = 0
    minutes: int = 0
    seconds: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        for name in ("years", "months", "weeks", "days", "hours", "minutes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"Duration.{name} must be a non-negative int, got {value!r}")
        seconds = self.seconds
        if not isinstance(seconds, Decimal) or not seconds.is_finite() or seconds < 0:
            raise ValueError(f"Duration.seconds must be a non-negative finite Decimal, got {seconds!r}")
        if seconds != seconds.quantize(_MICROSECOND):
            raise ValueError(f"Duration.seconds supports at most microsecond precision, got {seconds}")

    @property
    def elapsed(self) -> timedelta:
        """The exact-time part (hours, minutes, seconds) as a ``timedelta``."""
        microseconds = int(self.seconds / _MICROSECOND)
        return timedelta(hours=self.hours, minutes=self.minutes, microseconds=microseconds)

    def add_to(self, t: datetime) -> datetime:
        """``t`` plus this duration, in ``t``'s own time zone (see the module docstring).

        ``t`` must be timezone-aware (``ValueError`` otherwise). Raises ``ValueError`` or
        ``OverflowError`` if the result is outside the range of ``datetime``.
        """
        if t.tzinfo is None or t.utcoffset() is None:
            raise ValueError(f"add_to needs a timezone-aware datetime, got naive {t!r}")
        zone = t.tzinfo
        result = t
        if self.years or self.months or self.weeks or self.days:
            wall = t.replace(tzinfo=None, fold=0)
            if self.years or self.months:
                month_index = wall.year * 12 + wall.month - 1 + self.years * 12 + self.months
                year, month = divmod(month_index, 12)
                month += 1
                if not 1 <= year <= datetime.max.year:
                    raise ValueError(f"{t.isoformat()} + {self} is outside the supported years")
                wall = wall.replace(
                    year=year, month=month, day=min(wall.day, calendar.monthrange(year, month)[1])
                )
            wall += timedelta(days=7 * self.weeks + self.days)
            result = _localize(wall, zone, t.utcoffset())
        elapsed = self.elapsed
        if not elapsed:
            return result
        return (result.astimezone(UTC) + elapsed).astimezone(zone)

    def __str__(self) -> str:
        """Canonical ISO-8601 form: zero components left out, ``PT0S`` for zero."""
        date_part = "".join(
            f"{value}{unit}"
            for value, unit in ((self.years, "Y"), (self.months, "M"), (self.weeks, "W"), (self.days, "D"))
            if value
        )
        time_part = "".join(
            f"{value}{unit}" for value, unit in ((self.hours, "H"), (self.minutes, "M")) if value
        )
        if self.seconds:
            time_part += f"{self.seconds.normalize():f}S"
        if not date_part and not time_part:
            return "PT0S"
        return f"P{date_part}" + (f"T{time_part}" if time_part else "")


def _localize(wall: datetime, zone: tzinfo, preferred_offset: timedelta | None) -> datetime:
    """Attach ``zone`` to a naive wall time, resolving gaps and overlaps, normalised."""
    earlier = wall.replace(tzinfo=zone, fold=0)
    later = wall.replace(tzinfo=zone, fold=1)
    if earlier.utcoffset() == later.utcoffset():
        return earlier
    if later.utcoffset() == preferred_offset and _exists(later):
        return later
    # An overlap resolves to the earlier instant; in a gap fold=0 applies the offset
    # from before the transition, which moves the time forward by the gap's length.
    return earlier.astimezone(UTC).astimezone(zone)


def _exists(local: datetime) -> bool:
    return local.astimezone(UTC).astimezone(local.tzinfo).replace(tzinfo=None) == local.replace(tzinfo=None)


def _invalid_duration(text: str) -> ValueError:
    if re.match(r"[+-]?P", text) and ("-" in text or "+" in text):
        reason = "signs are not allowed (negative durations are not supported)"
    elif text in ("P", "PT"):
        reason = "it has no components"
    elif text.endswith("T"):
        reason = "'T' must be followed by at least one of H, M or S"
    elif _FRACTION_OUTSIDE_SECONDS_RE.search(text):
        reason = "only the seconds may have a fraction"
    else:
        reason = "expected the form PnYnMnWnDTnHnMnS, e.g. P1D, PT2H or P1DT12H30M"
    return ValueError(f"invalid ISO-8601 duration {text!r}: {reason}")


def parse_duration(text: str) -> Duration:
    """Parse an ISO-8601 duration such as ``P1D``, ``P1M``, ``P2W`` or ``P1DT12H30M``."""
    match = _DURATION_RE.fullmatch(text)
    if match is None or text == "P" or (match["time"] is not None and match["time"] == "T"):
        raise _invalid_duration(text)
    seconds = Decimal(match["seconds"].replace(",", ".")) if match["seconds"] else Decimal(0)
    if seconds != seconds.quantize(_MICROSECOND):
        raise ValueError(f"invalid ISO-8601 duration {text!r}: seconds finer than a microsecond")

    def number(name: str) -> int:
        value = match[name]
        return int(value) if value else 0

    return Duration(
        years=number("years"),
        months=number("months"),
        weeks=number("weeks"),
        days=number("days"),
        hours=number("hours"),
        minutes=number("minutes"),
        seconds=seconds,
    )


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 timestamp with an explicit ``Z`` or ``±HH:MM`` offset.

    Returns an aware datetime with a fixed offset (``UTC`` for ``Z``, ``+00:00`` and
    ``-00:00``). ``T``, ``t`` or a space separate date and time; fractions finer than a
    microsecond are truncated. Naive timestamps, leap seconds (``:60``), impossible
    dates and anything else invalid raise ``ValueError``.
    """
    match = _RFC3339_RE.fullmatch(text)
    if match is None:
        reason = "expected YYYY-MM-DDTHH:MM:SS[.fraction] followed by Z or +HH:MM/-HH:MM"
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?", text):
            reason = "it has no UTC offset; add Z or +HH:MM"
        raise ValueError(f"invalid RFC 3339 timestamp {text!r}: {reason}")
    if int(match["second"]) == _LEAP_SECOND:
        raise ValueError(f"invalid RFC 3339 timestamp {text!r}: leap seconds are not supported")
    zone: tzinfo = UTC
    if match["sign"]:
        offset_hours, offset_minutes = int(match["offset_hours"]), int(match["offset_minutes"])
        if offset_hours > _MAX_OFFSET_HOURS or offset_minutes > _MAX_OFFSET_MINUTES:
            raise ValueError(f"invalid RFC 3339 timestamp {text!r}: offset out of range")
        offset = timedelta(hours=offset_hours, minutes=offset_minutes)
        if offset:
            zone = timezone(-offset if match["sign"] == "-" else offset)
    fraction = (match["fraction"] or "")[:6].ljust(6, "0")
    try:
        return datetime(
            int(match["year"]),
            int(match["month"]),
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"]),
            int(fraction),
            tzinfo=zone,
        )
    except ValueError as exc:
        raise ValueError(f"invalid RFC 3339 timestamp {text!r}: {exc}") from None
