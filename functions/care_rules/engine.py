"""What the care engine decides about one member and one rule. Pure: no AWS here.

* :class:`Facts` is what a rule's conditions and templates read of a member: the stored
  profile, stats with their derived state, points account and open tickets (the member
  partition's ``#`` items). The derived state (lifecycle stage, RFM, tags, orders in the
  last 30 days) is read as stored: the projector writes it with each order and the hourly
  refresh when it changes with time.
* :func:`evaluate` applies ``all`` / ``any`` / ``not`` over ``{field, op, value}`` leaves. A
  field the member lacks matches only ``ne`` and ``not_in``. Numbers and decimal strings
  compare as decimals; times (RFC 3339 UTC) as text, which orders them.
* :func:`period` is the once-per key of a firing in the member's local calendar.
* :func:`quiet_until` is the end of the quiet-hours window a local time falls in.
* :func:`over_cap` / :func:`reserve` keep the frequency cap: at most ``limit`` marketing
  emails in any ``days`` member-local calendar days, counted by the day each was sent.
* :func:`date_keys` and :func:`local_at` place a date trigger: which month-days are
  celebrated on a local day (29 February in other years on 28 February, or 1 March), and
  the instant of ``at`` on that day in the member's zone (DST included)."""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from care_rules import layout
from care_rules.rules import AllOf, AnyOf, Leaf, NotOf
from loyalty import keys

Item = dict[str, Any]


@dataclass(frozen=True)
class Facts:
    member_id: str
    profile: Item = field(default_factory=dict)
    stats: Item = field(default_factory=dict)
    balance: Item = field(default_factory=dict)
    open_tickets: int = 0
    default_tier: str = ""

    @property
    def erased(self) -> bool:
        return bool(self.profile.get("erased_at"))

    @property
    def email(self) -> str | None:
        address = self.profile.get("email")
        return str(address) if address else None

    @property
    def owner(self) -> str | None:
        owner = self.profile.get("owner")
        return str(owner) if owner else None

    @property
    def tier(self) -> str:
        return str(self.balance.get("tier") or self.default_tier)

    def zone(self, fallback: ZoneInfo) -> ZoneInfo:
        """The member's time zone, else ``fallback`` (the tenant's)."""
        name = self.profile.get("time_zone")
        if name:
            try:
                return ZoneInfo(str(name))
            except (ZoneInfoNotFoundError, ValueError):
                return fallback
        return fallback

    def value(self, path: str, event_data: Mapping[str, Any] | None = None) -> Any:
        """A condition field's value, None when the member has none."""
        if path.startswith("event.data."):
            return _dig(event_data or {}, path.removeprefix("event.data.").split("."))
        group, _, name = path.partition(".")
        if path == "tier":
            return self.tier
        if path in ("lifecycle_stage", "tags"):
            return self.stats.get(path)
        if path == "rfm.segment":
            return (self.stats.get("rfm") or {}).get("segment")
        if path == "profile.locale":
            return self.profile.get("locale")
        if group == "stats":
            return self._stat(name)
        if group == "points":
            return int(self.balance.get(name, 0))
        return None

    def _stat(self, name: str) -> Any:
        count = int(self.stats.get("orders_count", 0))
        spend = Decimal(str(self.stats.get("total_spend", "0")))
        if name == "orders_count":
            return count
        if name == "total_spend":
            return spend
        if name == "average_order_value":
            return (spend / count).quantize(Decimal("0.01")) if count else Decimal("0")
        if name == "orders_last_30_days":
            return int(self.stats.get(name, 0))
        return self.stats.get(name)


def facts_from(member_id: str, items: Mapping[str, Item], default_tier: str) -> Facts:
    """The facts of a member from its ``#`` items by sort key."""
    return Facts(
        member_id=member_id,
        profile=dict(items.get(keys.PROFILE_SK) or {}),
        stats=dict(items.get(keys.STATS_SK) or {}),
        balance=dict(items.get(keys.BALANCE_SK) or {}),
        open_tickets=sum(1 for sk in items if sk.startswith(keys.TICKET_MARKER_PREFIX)),
        default_tier=default_tier,
    )


def _dig(data: Mapping[str, Any], parts: list[str]) -> Any:
    value: Any = data
    for part in parts:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


# Conditions -----------------------------------------------------------------------


def evaluate(condition: Any, facts: Facts, event_data: Mapping[str, Any] | None = None) -> bool:
    if condition is None:
        return True
    if isinstance(condition, AllOf):
        return all(evaluate(c, facts, event_data) for c in condition.all)
    if isinstance(condition, AnyOf):
        return any(evaluate(c, facts, event_data) for c in condition.any)
    if isinstance(condition, NotOf):
        return not evaluate(condition.not_, facts, event_data)
    if isinstance(condition, Leaf):
        return compare(condition.op, facts.value(condition.field, event_data), condition.value)
    raise TypeError(f"not a condition: {type(condition).__name__}")


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value))
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _same(actual: Any, expected: Any) -> bool:
    if isinstance(actual, bool) or isinstance(expected, bool):
        return actual is expected
    left, right = _number(actual), _number(expected)
    if left is not None and right is not None:
        return left == right
    return actual is not None and str(actual) == str(expected)


def _order(actual: Any, expected: Any) -> int | None:
    left, right = _number(actual), _number(expected)
    if left is not None and right is not None:
        return (left > right) - (left < right)
    if isinstance(actual, str) and isinstance(expected, str):
        return (actual > expected) - (actual < expected)
    return None


_ORDERING = {"gt": lambda c: c > 0, "gte": lambda c: c >= 0, "lt": lambda c: c < 0, "lte": lambda c: c <= 0}


def compare(op: str, actual: Any, expected: Any) -> bool:
    """One leaf. A list field (``tags``) is ``in`` a list when any element is, and
    ``contains`` a value when one element equals it."""
    if op == "eq":
        return _same(actual, expected)
    if op == "ne":
        return not _same(actual, expected)
    if op in ("in", "not_in"):
        found = _within(actual, expected)
        return found if op == "in" else not found
    if op == "contains":
        if isinstance(actual, list | tuple | set):
            return any(_same(a, expected) for a in actual)
        return isinstance(actual, str) and str(expected) in actual
    cmp = _order(actual, expected)
    return cmp is not None and _ORDERING[op](cmp)


def _within(actual: Any, options: Any) -> bool:
    choices = options if isinstance(options, list) else [options]
    values = actual if isinstance(actual, list | tuple | set) else [actual]
    return any(_same(v, c) for v in values if v is not None for c in choices)


# Once-per, quiet hours, frequency cap -----------------------------------------------


def period(once_per: str | None, local: datetime, instance: str) -> str | None:
    """The once-per key of a firing matched at ``local`` (member-local time); None for a
    rule that acts on every trigger. ``match`` for a re-armed trigger (inactivity, delay)
    is the episode itself: each anchor event starts one."""
    if once_per is None:
        return None
    if once_per == "day":
        return f"day:{local.date().isoformat()}"
    if once_per == "week":
        year, week, _ = local.isocalendar()
        return f"week:{year}-W{week:02d}"
    if once_per == "month":
        return f"month:{local.year}-{local.month:02d}"
    if once_per == "year":
        return f"year:{local.year}"
    if once_per == "ever":
        return "ever"
    if once_per == "match":
        rearmed = instance.startswith((f"{layout.INACTIVE_SOURCE}:", f"{layout.DELAY_SOURCE}:"))
        return f"match:{instance}" if rearmed else "match"
    raise ValueError(f"unknown once_per {once_per!r}")


def clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def quiet_until(local: datetime, start: time, end: time) -> datetime | None:
    """The end of the quiet window ``local`` falls in (member-local, aware), or None
    outside it. The window may cross midnight (21:00–09:00)."""
    now = local.time().replace(tzinfo=None)
    crosses = start > end
    inside = (now >= start or now < end) if crosses else start <= now < end
    if not inside:
        return None
    day = local.date() + timedelta(days=1) if crosses and now >= start else local.date()
    return wall_time(day, end, local.tzinfo)


def wall_time(day: date, at: time, zone: Any) -> datetime:
    """``at`` on ``day`` in ``zone`` as a UTC instant; a wall time skipped by a DST
    change is read with the offset before it (zoneinfo's fold 0)."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def over_cap(sent: Mapping[str, str], instance: str, day: date, limit: int, days: int) -> bool:
    """Whether one more marketing email on member-local ``day`` would exceed the cap;
    an email this firing already reserved is within it."""
    if instance in sent:
        return False
    first = (day - timedelta(days=days - 1)).isoformat()
    return sum(1 for d in sent.values() if first <= d <= day.isoformat()) >= limit


def reserve(sent: Mapping[str, str], instance: str, day: date, days: int) -> dict[str, str]:
    """The cap's record with this firing's email on ``day``; days no window can reach
    again are dropped, so the record holds at most about ``limit`` entries."""
    first = (day - timedelta(days=days - 1)).isoformat()
    kept = {k: d for k, d in sent.items() if d >= first}
    kept[instance] = day.isoformat()
    return kept


# Date triggers ----------------------------------------------------------------------


def date_keys(day: date, offset_days: int, leap_day: str = "feb28") -> list[str]:
    """The month-days (``MM-DD``) whose date, moved by ``offset_days``, is ``day``: a
    rule with offset -3 greets on ``day`` the members whose date is three days later. A
    29 February date is kept on 28 February in other years (``leap_day`` ``feb28``), or on
    1 March (``mar1``)."""
    anniversary = day - timedelta(days=offset_days)
    found = [f"{anniversary.month:02d}-{anniversary.day:02d}"]
    if not calendar.isleap(anniversary.year):
        stand_in = (2, 28) if leap_day == "feb28" else (3, 1)
        if (anniversary.month, anniversary.day) == stand_in:
            found.append("02-29")
    return found


def local_at(day: date, at: str, zone: ZoneInfo) -> datetime:
    return wall_time(day, clock(at), zone)
