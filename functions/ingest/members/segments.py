"""Lifecycle stage, RFM and tags: the segments a member falls into, derived from
their figures and the clock. Pure: no AWS here.

When is a member lapsed? When their last order is more than
``lifecycle.lapsed_days`` (180) days ago; or, having never ordered, once more
than ``lifecycle.new_days`` (30) days have passed since they registered (at
once when the registration is unknown). Otherwise a member is ``new``
(registered within ``new_days`` and no order yet, or a single order placed
within ``new_days``), ``active`` (last order within ``lifecycle.active_days``,
90), ``at-risk`` (last order between ``active_days`` and ``lapsed_days`` ago)
or ``reactivated`` (active after a gap of more than ``lapsed_days`` between
their last two orders). The thresholds, the RFM score limits and the tag rules
come from ``config/program.yaml`` (``loyalty.program.ProgramConfig``); the
figures in brackets are the values there.

Days are compared with ``<=``: a limit of L days still holds exactly L days
later and flips just after. ``idle_limits`` and ``order_windows`` list every
limit and window the rules compare with, which is how ``ingest.members.state``
finds when a member's segments next change with no new event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from ingest.members.projection import MemberStats
from loyalty.program import ProgramConfig
from loyalty.timeutil import parse_rfc3339

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
