"""Time helpers. "Now" always comes from the triggering event (API request time,
schedule time), never from a module-level clock, so the local stack can drive
the same code with simulated time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, AwareDatetime

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)


def _representable(value: datetime) -> datetime:
    # Offsets near the ends of the calendar cannot be converted to UTC; reject them
    # as input errors instead of failing later when the value is normalised.
    try:
        utc = value.astimezone(UTC)
    except OverflowError as err:
        raise ValueError("timestamp is outside the supported range") from err
    if not EARLIEST <= utc < LATEST:
        raise ValueError("timestamp must be between 1970-01-01 and 9998-12-31 (UTC)")
    return value


Timestamp = Annotated[AwareDatetime, AfterValidator(_representable)]
"""An RFC 3339 timestamp with an offset, representable in UTC (API input type)."""


def parse_rfc3339(text: str) -> datetime:
    """An RFC 3339 timestamp with an explicit offset (or Z)."""
    value = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp must carry a UTC offset, e.g. 2026-11-23T10:00:00Z")
    return value


def iso(moment: datetime) -> str:
    """Canonical, lexicographically sortable UTC form: 2026-11-23T10:00:00.000Z."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def from_epoch_ms(ms: int | float) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def local_day(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def days_between(first: date, last: date) -> list[date]:
    """Every day from first to last inclusive (empty when first > last)."""
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]
