"""The member 360 view, built from the member's stored items: lifecycle stage,
RFM and tags are derived at read time (``ingest.members.segments``) from the
stored profile and stats and the request time, so they are right even when no
new event has arrived. Pure: no AWS here."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ingest.members import segments
from ingest.members.models import ConsentOut, ExpiringOut, MemberOut, PointsOut, ProfileOut, RfmOut, StatsOut
from ingest.members.projection import stats_from_item
from loyalty import keys
from loyalty.program import ProgramConfig

UTC_ZONE = ZoneInfo("UTC")
# A ticket in one of these statuses is done (tickets.domain.DONE_STATUSES, which the
# marker's summary ``status`` carries).
TICKET_DONE_STATUSES = frozenset({"resolved", "closed"})


def build_view(
    member_id: str,
    items: dict[str, dict[str, Any]],
    now: datetime,
    config: ProgramConfig,
    tz: ZoneInfo = UTC_ZONE,
) -> MemberOut | None:
    """The member's stored items by sort key (profile, stats, balance, ticket
    markers) as the API view; None when nothing is known about the member."""
    if not items:
        return None
    profile = items.get(keys.PROFILE_SK) or {}
    stats = stats_from_item(items.get(keys.STATS_SK))
    balance = items.get(keys.BALANCE_SK) or {}
    found = segments.rfm(stats, now, config)
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
        points=points_view(balance),
        stats=StatsOut(
            orders_count=stats.orders_count,
            total_spend=f"{stats.total_spend:.2f}",
            average_order_value=f"{stats.average_order_value:.2f}",
            first_order_at=stats.first_order_at,
            last_order_at=stats.last_order_at,
            orders_last_30_days=segments.orders_within(stats, now, segments.RECENT_DAYS),
        ),
        rfm=RfmOut(
            recency=found.recency, frequency=found.frequency, monetary=found.monetary, segment=found.segment
        )
        if found
        else None,
        lifecycle_stage=segments.lifecycle_stage(stats, profile.get("registered_at"), now, config),
        tags=segments.tags(stats, now, config),
        open_tickets=open_tickets(items),
    )


def open_tickets(items: dict[str, dict[str, Any]]) -> int:
    """The member's tickets not yet done: ticket markers whose summary ``status`` is not
    ``resolved`` or ``closed`` (a marker written before markers carried a status counts
    as open)."""
    return sum(
        1
        for sk, item in items.items()
        if sk.startswith(keys.TICKET_MARKER_PREFIX) and item.get("status") not in TICKET_DONE_STATUSES
    )


def points_view(balance: dict[str, Any]) -> PointsOut:
    """The buckets as of the last ledger write or sweep (the sweep runs every
    15 minutes), and the lots expiring within the notice window as the points
    function stored them with the buckets (``expiring``, computed at that write:
    the sweep writes when a lot enters the window and when it expires); nothing
    before the balance was first written with it. Read as stored."""
    expiring = {str(day): int(points) for day, points in (balance.get("expiring") or {}).items()}
    return PointsOut(
        available=int(balance.get("available", 0)),
        pending=int(balance.get("pending", 0)),
        held=int(balance.get("held", 0)),
        lifetime_earned=int(balance.get("lifetime_earned", 0)),
        expiring=[ExpiringOut(points=points, expires_on=day) for day, points in sorted(expiring.items())],
    )
