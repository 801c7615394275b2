"""Time helpers. "Now" always comes from the triggering event (API request time,
schedule time), never from a module-level clock, so the local stack can drive
the same code with simulated time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo


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
