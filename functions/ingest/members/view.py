"""The member 360 view: lifecycle stage, RFM and tags are derived at read time
from the stored profile and stats and the request time, so they are right even
when no new event has arrived. Pure: no AWS here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ingest.members.models import ConsentOut, ExpiringOut, MemberOut, PointsOut, ProfileOut, RfmOut, StatsOut
from ingest.members.projection import MemberStats, OrderDay
from loyalty.program import ProgramConfig
from loyalty.timeutil import parse_rfc3339

YEAR = timedelta(days=365)
UTC_ZONE = ZoneInfo("UTC")
RECENT_DAYS = 30  # the view's orders_last_30_days
FREQUENCY_DAYS = 365  # RFM frequency: orders in the last year


def _days_since(moment: str, now: datetime) -> float:
    return (now - parse_rfc3339(moment)).total_seconds() / 86400


def lifecycle_stage(
    stats: MemberStats, registered_at: str | None, now: datetime, config: ProgramConfig
) -> str:
    """new | active | at-risk | lapsed | reactivated (thresholds in config/program.yaml).

    A member who never ordered is ``new`` within ``new_days`` of registering and
    ``lapsed`` after that (never converted)."""
    rules = config.lifecycle
    if not stats.last_order_at:
        if registered_at and _days_since(registered_at, now) <= rules.new_days:
            return "new"
        return "lapsed"
    idle = _days_since(stats.last_order_at, now)
    if stats.orders_count == 1 and idle <= rules.new_days:
        return "new"
    if idle > rules.lapsed_days:
        return "lapsed"
    if idle > rules.active_days:
        return "at-risk"
    return "reactivated" if _gap_before_last_order(stats) > rules.lapsed_days else "active"


def _gap_before_last_order(stats: MemberStats) -> float:
    """Days between the last two orders (beyond the kept window when only one is kept;
    none when the last day holds two)."""
    if stats.orders_count < 2 or not stats.last_order_at:
        return 0.0
    days = stats.recent_orders
    if days and days[-1].count >= 2:
        return 0.0
    if len(days) >= 2:
        return _days_since(days[-2].last, parse_rfc3339(days[-1].first))
    return float("inf")


@dataclass(frozen=True)
class Rfm:
    recency: int
    frequency: int
    monetary: int
    segment: str


def _score_at_most(value: float, thresholds: list[int]) -> int:
    for score, limit in zip((5, 4, 3, 2), thresholds, strict=True):
        if value <= limit:
            return score
    return 1


def _score_at_least(value: Decimal, thresholds: list[Decimal]) -> int:
    for score, limit in zip((5, 4, 3, 2), thresholds, strict=True):
        if value >= limit:
            return score
    return 1


def orders_within(stats: MemberStats, now: datetime, days: int) -> int:
    horizon = now - timedelta(days=days)
    return sum(
        d.count
        for d in stats.recent_orders
        if parse_rfc3339(d.first) <= now and horizon <= parse_rfc3339(d.last)
    )


def segment(recency: int, frequency: int) -> str:
    if recency >= 4 and frequency >= 4:
        return "champions"
    if recency >= 3 and frequency >= 3:
        return "loyal"
    if recency >= 4:
        return "promising"
    if recency <= 2 and frequency >= 4:
        return "cannot-lose"
    if recency <= 2 and frequency >= 3:
        return "at-risk"
    if recency <= 2:
        return "hibernating"
    return "needs-attention"


def rfm(stats: MemberStats, now: datetime, config: ProgramConfig) -> Rfm | None:
    """Recency: days since the last order; frequency: orders in the last 365 days;
    monetary: lifetime spend. None before the first order."""
    if not stats.last_order_at:
        return None
    rules = config.rfm
    recency = _score_at_most(_days_since(stats.last_order_at, now), rules.recency_days)
    frequency = _score_at_least(
        Decimal(orders_within(stats, now, FREQUENCY_DAYS)), [Decimal(n) for n in rules.frequency_orders]
    )
    monetary = _score_at_least(stats.total_spend, rules.monetary)
    return Rfm(recency, frequency, monetary, segment(recency, frequency))


def tags(stats: MemberStats, now: datetime, config: ProgramConfig) -> list[str]:
    found = []
    for rule in config.tags:
        if rule.min_orders is not None and rule.within_days is not None:
            if orders_within(stats, now, rule.within_days) >= rule.min_orders:
                found.append(rule.name)
        elif rule.min_spend is not None and stats.total_spend >= rule.min_spend:
            found.append(rule.name)
    return found


def idle_limits(config: ProgramConfig) -> set[int]:
    """Days since the last order (or since registering, before any order) at which
    ``lifecycle_stage`` or the RFM recency score can change: each rule above
    compares the idle days with ``<=`` / ``>`` against one of these."""
    lifecycle = config.lifecycle
    return {lifecycle.new_days, lifecycle.active_days, lifecycle.lapsed_days, *config.rfm.recency_days}


def order_windows(config: ProgramConfig) -> set[int]:
    """Every window (days) over which ``orders_within`` counts orders: the view's
    orders in the last 30 days, the RFM frequency, and each tag's ``within_days``."""
    return {RECENT_DAYS, FREQUENCY_DAYS, *(rule.within_days for rule in config.tags if rule.within_days)}


def build_view(
    member_id: str,
    items: dict[str, dict[str, Any]],
    now: datetime,
    config: ProgramConfig,
    tz: ZoneInfo = UTC_ZONE,
) -> MemberOut | None:
    """The member's stored items ('#PROFILE', '#STATS', '#BALANCE', '#TICKET#...')
    as the API view; None when nothing is known about the member."""
    if not items:
        return None
    profile = items.get("#PROFILE") or {}
    stats = stats_from_item(items.get("#STATS"))
    balance = items.get("#BALANCE") or {}
    found = rfm(stats, now, config)
    return MemberOut(
        member_id=member_id,
        erased=bool(profile.get("erased_at")),
        profile=ProfileOut(
            **{
                name: profile.get(name)
                for name in (
                    "email",
                    "phone",
                    "name",
                    "birthday",
                    "time_zone",
                    "locale",
                    "owner",
                    "registered_at",
                )
            },
            consent={
                channel: ConsentOut.model_validate(profile[f"consent_{channel}"])
                for channel in ("email", "sms")
                if profile.get(f"consent_{channel}")
            },
        ),
        tier=str(balance.get("tier") or config.points.tiers[0].name),
        points=points_view(balance, now, config, tz),
        stats=StatsOut(
            orders_count=stats.orders_count,
            total_spend=f"{stats.total_spend:.2f}",
            average_order_value=f"{stats.average_order_value:.2f}",
            first_order_at=stats.first_order_at,
            last_order_at=stats.last_order_at,
            orders_last_30_days=orders_within(stats, now, RECENT_DAYS),
        ),
        rfm=RfmOut(
            recency=found.recency, frequency=found.frequency, monetary=found.monetary, segment=found.segment
        )
        if found
        else None,
        lifecycle_stage=lifecycle_stage(stats, profile.get("registered_at"), now, config),
        tags=tags(stats, now, config),
        open_tickets=sum(1 for sk in items if sk.startswith("#TICKET#")),
    )


def points_view(balance: dict[str, Any], now: datetime, config: ProgramConfig, tz: ZoneInfo) -> PointsOut:
    """The buckets as of the last ledger write or sweep (the sweep runs every
    15 minutes), and the lots expiring within the notice window."""
    today = now.astimezone(tz).date()
    horizon = (today + timedelta(days=config.points.expiring_notice_days)).isoformat()
    lots = {str(day): int(points) for day, points in (balance.get("lots") or {}).items()}
    return PointsOut(
        available=int(balance.get("available", 0)),
        pending=int(balance.get("pending", 0)),
        held=int(balance.get("held", 0)),
        lifetime_earned=int(balance.get("lifetime_earned", 0)),
        expiring=[
            ExpiringOut(points=points, expires_on=day)
            for day, points in sorted(lots.items())
            if today.isoformat() < day <= horizon
        ],
    )


def stats_from_item(item: dict[str, Any] | None) -> MemberStats:
    if not item:
        return MemberStats()
    return MemberStats(
        orders_count=int(item["orders_count"]),
        total_spend=Decimal(str(item["total_spend"])),
        first_order_at=item.get("first_order_at"),
        last_order_at=item.get("last_order_at"),
        recent_orders=order_days_from_item(item),
        version=int(item.get("version", 0)),
    )


def order_days_from_item(item: dict[str, Any]) -> tuple[OrderDay, ...]:
    """The stored order days; a stats item written before orders were kept by day
    lists each order time, which is grouped the same way here."""
    if "order_days" in item:
        return tuple(OrderDay(str(d["first"]), str(d["last"]), int(d["n"])) for d in item["order_days"])
    days: dict[str, OrderDay] = {}
    for at in sorted(str(t) for t in item.get("recent_orders") or ()):
        known = days.get(at[:10])
        days[at[:10]] = OrderDay(known.first, at, known.count + 1) if known else OrderDay(at, at, 1)
    return tuple(days.values())
