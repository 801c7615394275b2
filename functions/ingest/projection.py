"""Member profile and stats projected from events. Pure: no AWS here."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class MemberStats:
    orders_count: int = 0
    total_spend: Decimal = Decimal("0")
    first_order_at: str | None = None
    last_order_at: str | None = None
    version: int = 0

    @property
    def average_order_value(self) -> Decimal:
        if not self.orders_count:
            return Decimal("0")
        return (self.total_spend / self.orders_count).quantize(Decimal("0.01"))


def apply_order(stats: MemberStats, occurred_at: str, total: Decimal) -> MemberStats:
    """Event time decides first/last order: a late order never moves last_order_at backwards."""
    return replace(
        stats,
        orders_count=stats.orders_count + 1,
        total_spend=stats.total_spend + total,
        first_order_at=min(filter(None, [stats.first_order_at, occurred_at])),
        last_order_at=max(filter(None, [stats.last_order_at, occurred_at])),
        version=stats.version + 1,
    )


PROFILE_FIELDS = ("email", "name", "birthday", "time_zone", "locale")


def profile_changes(data: dict[str, Any]) -> dict[str, Any]:
    """The profile attributes an event sets; absent fields are left as they were."""
    changes = {name: data[name] for name in PROFILE_FIELDS if data.get(name) is not None}
    if consent := data.get("consent"):
        changes["consent"] = consent
    return changes


def birthday_month_day(birthday: str) -> str:
    """'1990-04-17' or '--04-17' -> '04-17'."""
    return birthday[-5:]
