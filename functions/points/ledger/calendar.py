"""Calendar helpers of the ledger: days in the program's time zone, months
clamped to their last day. Pure."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from loyalty.timeutil import iso, parse_rfc3339


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (or earlier), clamped to the month's last day."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    following = date(year + month // 12, month % 12 + 1, 1)
    return date(year, month, min(day.day, (following - timedelta(days=1)).day))


def start_of(day: str, tz: ZoneInfo) -> str:
    """The first instant of a program-local day, as UTC ISO."""
    return iso(datetime.combine(date.fromisoformat(day), time(0), tzinfo=tz))


def month_of(moment: str, tz: ZoneInfo) -> str:
    return parse_rfc3339(moment).astimezone(tz).strftime("%Y-%m")


def day_of(moment: str, tz: ZoneInfo) -> str:
    return parse_rfc3339(moment).astimezone(tz).date().isoformat()


def is_day(text: str) -> bool:
    """Whether ``text`` is an ISO day (a pending lot's key), not an order id."""
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10
