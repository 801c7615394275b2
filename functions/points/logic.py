"""Points rules. Pure: no AWS here.

Simplified for now: 1 point per whole currency unit of the order total,
credited as available at once. Pending windows, expiry lots, tiers and
redemptions build on this ledger shape."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal


@dataclass(frozen=True)
class LedgerEntry:
    tenant_id: str
    member_id: str
    entry_type: str  # earn, redeem, ...
    points: int  # signed
    source: str  # the business key: source event id (or request id)
    occurred_at: str  # RFC 3339, UTC
    day: str  # program-local day, for the daily activity index
    reason: str

    @property
    def entry_key(self) -> str:
        """Deterministic: the same source can never produce a second entry."""
        return f"L#{self.occurred_at}#{self.source}#{self.entry_type}"


def points_for_order(total: Decimal) -> int:
    if total < 0:
        raise ValueError("order total cannot be negative")
    return int(total.to_integral_value(rounding=ROUND_FLOOR))


def earn_for_order(
    tenant_id: str, member_id: str, event_id: str, order_id: str, total: Decimal, occurred_at: str, day: str
) -> LedgerEntry | None:
    points = points_for_order(total)
    if points == 0:
        return None
    return LedgerEntry(
        tenant_id=tenant_id,
        member_id=member_id,
        entry_type="earn",
        points=points,
        source=event_id,
        occurred_at=occurred_at,
        day=day,
        reason=f"order {order_id}",
    )
