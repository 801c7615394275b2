"""Assembles the member view from the stored items. Pure: no AWS here."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from points.logic import Balance
from points.models import MemberOut, PointsOut, ProfileOut, StatsOut


def member_view(member_id: str, items: dict[str, dict[str, Any]], balance: Balance) -> MemberOut | None:
    if not items:
        return None
    profile = items.get("#PROFILE")
    stats = items.get("#STATS") or {}
    orders = int(stats.get("orders_count", 0))
    spend = Decimal(str(stats.get("total_spend", "0")))
    average = (spend / orders).quantize(Decimal("0.01")) if orders else Decimal("0.00")
    return MemberOut(
        member_id=member_id,
        tier="member",
        profile=ProfileOut.model_validate({k: profile.get(k) for k in ProfileOut.model_fields})
        if profile
        else None,
        points=PointsOut(
            available=balance.available,
            pending=balance.pending,
            held=balance.held,
            lifetime_earned=balance.lifetime_earned,
        ),
        stats=StatsOut(
            orders_count=orders,
            total_spend=str(spend),
            average_order_value=str(average),
            first_order_at=stats.get("first_order_at"),
            last_order_at=stats.get("last_order_at"),
        ),
    )
