"""Member profile and stats projected from events and profile updates. Pure: no AWS here."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

from loyalty.timeutil import iso, parse_rfc3339

# Personal data: removed on erasure, never logged.
PERSONAL_FIELDS = (
    "email",
    "phone",
    "name",
    "birthday",
    "time_zone",
    "locale",
    "consent_email",
    "consent_sms",
)
PROFILE_FIELDS = (*PERSONAL_FIELDS, "owner")


@dataclass(frozen=True)
class MemberStats:
    orders_count: int = 0
    total_spend: Decimal = Decimal("0")
    first_order_at: str | None = None
    last_order_at: str | None = None
    # Order times within the longest window a rule reads (config), oldest first.
    recent_orders: tuple[str, ...] = field(default_factory=tuple)
    version: int = 0

    @property
    def average_order_value(self) -> Decimal:
        if not self.orders_count:
            return Decimal("0")
        return (self.total_spend / self.orders_count).quantize(Decimal("0.01"))


def apply_order(stats: MemberStats, occurred_at: str, total: Decimal, window_days: int) -> MemberStats:
    """Event time decides first/last order: a late order never moves last_order_at backwards."""
    last = max(filter(None, [stats.last_order_at, occurred_at]))
    horizon = iso(parse_rfc3339(last) - timedelta(days=window_days))
    recent = tuple(sorted(t for t in (*stats.recent_orders, occurred_at) if t >= horizon))
    return replace(
        stats,
        orders_count=stats.orders_count + 1,
        total_spend=stats.total_spend + total,
        first_order_at=min(filter(None, [stats.first_order_at, occurred_at])),
        last_order_at=last,
        recent_orders=recent,
        version=stats.version + 1,
    )


def profile_changes(data: dict[str, Any]) -> dict[str, Any]:
    """The profile fields an event or request sets; absent fields are left as they were.
    Consent is kept per channel, so updating one channel leaves the other."""
    changes = {name: data[name] for name in PROFILE_FIELDS if data.get(name) is not None}
    for channel, consent in (data.get("consent") or {}).items():
        changes[f"consent_{channel}"] = consent
    return changes


def merge_profile(current: dict[str, Any], changes: dict[str, Any], at: str) -> dict[str, Any] | None:
    """Apply ``changes`` made at ``at`` field by field: a field keeps the newest value by
    event time, so a late event never overwrites a newer one, yet still fills the fields
    it is the newest for. None when nothing changes, or when the member was erased."""
    if current.get("erased_at"):
        return None
    field_at = dict(current.get("field_at") or {})
    merged = dict(current)
    for name, value in changes.items():
        if field_at.get(name, "") > at:
            continue
        merged[name] = value
        field_at[name] = at
    if merged == current and field_at == (current.get("field_at") or {}):
        return None
    merged["field_at"] = field_at
    return merged


def birthday_month_day(birthday: str) -> str:
    """'1990-04-17' or '--04-17' -> '04-17'."""
    return birthday[-5:]
