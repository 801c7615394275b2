"""A member's derived state, its stored form, and when it next changes without a
new event. Pure: no AWS here.

The state is what the member view derives at read time (``segments``: lifecycle
stage, RFM scores and segment, tags, orders in the last 30 days). It depends on
the clock only through time windows: days since the last order (or since
registering) against the lifecycle and recency thresholds, and which recent
orders fall inside each order-counting window. So between two events it is a
step function of time, and the next step can be computed: the stored copy of the
state carries that instant (``next_change_at``) in a due index, and the refresh
job re-derives only the members whose step has come.

Instants are millisecond-precise, as every stored time is. The view compares
days with ``<=``, so a rule with a limit of L days flips just after ``t + L``
days: the first instant that re-derives to the new state is ``t + L days + 1 ms``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ingest.members import segments
from ingest.members.projection import MemberStats
from ingest.members.segments import Rfm
from loyalty import keys
from loyalty.program import ProgramConfig
from loyalty.timeutil import iso, parse_rfc3339

TICK = timedelta(milliseconds=1)
_LAST_INSTANT = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class MemberState:
    lifecycle_stage: str
    rfm: Rfm | None
    tags: tuple[str, ...]
    orders_last_30_days: int


# The derived state as stored on the stats item; gsi1pk/gsi1sk list it in the member
# due index while a change is due (sparse: absent when the state stays as it is).
STATE_FIELDS = (
    "lifecycle_stage",
    "rfm",
    "tags",
    "orders_last_30_days",
    "state_at",
    "due_at",
    "gsi1pk",
    "gsi1sk",
)


def state_fields(
    tenant: str, member: str, state: MemberState, at: datetime, due: datetime | None
) -> dict[str, Any]:
    """The derived state as stored: evaluated at ``at``, next changing at ``due``."""
    fields: dict[str, Any] = {
        "lifecycle_stage": state.lifecycle_stage,
        "tags": list(state.tags),
        "orders_last_30_days": state.orders_last_30_days,
        "state_at": iso(at),
    }
    if state.rfm is not None:
        fields["rfm"] = {
            "recency": state.rfm.recency,
            "frequency": state.rfm.frequency,
            "monetary": state.rfm.monetary,
            "segment": state.rfm.segment,
        }
    if due is not None:
        fields["due_at"] = iso(due)
        fields.update(keys.member_due_index(tenant, member, iso(due)))
    return fields


def derive(
    stats: MemberStats, registered_at: str | None, now: datetime, config: ProgramConfig
) -> MemberState:
    """The member's derived figures at ``now``, by the same rules as the member view."""
    return MemberState(
        lifecycle_stage=segments.lifecycle_stage(stats, registered_at, now, config),
        rfm=segments.rfm(stats, now, config),
        tags=tuple(segments.tags(stats, now, config)),
        orders_last_30_days=segments.orders_within(stats, now, segments.RECENT_DAYS),
    )


def _after(moment: datetime, days: int) -> datetime | None:
    """The first instant past ``moment + days``; None beyond the calendar."""
    if _LAST_INSTANT - moment <= timedelta(days=days) + TICK:
        return None
    return moment + timedelta(days=days) + TICK


def _steps(stats: MemberStats, registered_at: str | None, config: ProgramConfig) -> set[datetime]:
    """Every instant at which a rule's comparison with the clock can flip: the
    idle limits counted from the last order and from registering, and each kept
    order leaving each counting window."""
    idle_limits = segments.idle_limits(config)
    windows = segments.order_windows(config)
    steps: set[datetime | None] = set()
    for anchor in filter(None, (stats.last_order_at, registered_at)):
        start = parse_rfc3339(anchor)
        steps.update(_after(start, days) for days in idle_limits)
    for order in stats.recent_orders:
        start = parse_rfc3339(order.last)
        steps.update(_after(start, days) for days in windows)
    return {step for step in steps if step is not None}


def next_change_at(
    stats: MemberStats, registered_at: str | None, now: datetime, config: ProgramConfig
) -> datetime | None:
    """The earliest instant strictly after ``now`` at which ``derive`` gives another
    state with no new event; None when the state stays as it is for good.

    Until an order stamped after ``now`` comes into its windows, every figure moves
    one way only (idle days grow: the stage only advances new -> active or
    reactivated -> at-risk -> lapsed and recency only falls; orders only leave
    windows: counts, frequency and tags only fall), so once the state differs from
    today's it never returns to it, and a binary search over the candidate steps
    finds the first change. An order stamped in the future (within the intake's
    tolerance) counts from its own time on, which bounds the search."""
    current = derive(stats, registered_at, now, config)
    arrivals = [t for t in (parse_rfc3339(order.first) for order in stats.recent_orders) if t > now]
    bound = min(arrivals, default=None)
    candidates = sorted(
        step
        for step in _steps(stats, registered_at, config)
        if step > now and (bound is None or step < bound)
    )
    low, high = 0, len(candidates)
    while low < high:
        middle = (low + high) // 2
        if derive(stats, registered_at, candidates[middle], config) != current:
            high = middle
        else:
            low = middle + 1
    return candidates[low] if low < len(candidates) else bound


@dataclass(frozen=True)
class StageChange:
    at: datetime
    before: str
    after: str


@dataclass(frozen=True)
class Refresh:
    state: MemberState
    next_change_at: datetime | None
    stage_changes: tuple[StageChange, ...]


def refresh(
    stats: MemberStats,
    registered_at: str | None,
    stage: str,
    due: datetime,
    until: datetime,
    config: ProgramConfig,
) -> Refresh:
    """Catch up a stored state (``stage``, next change ``due``) to ``until``: every
    step due up to then, in time order, with each lifecycle stage change at the
    instant it happened (so a late or repeated run finds the same changes), the
    state at ``until`` and the next change after it."""
    changes: list[StageChange] = []
    at: datetime | None = due
    while at is not None and at <= until:
        found = derive(stats, registered_at, at, config).lifecycle_stage
        if found != stage:
            changes.append(StageChange(at, stage, found))
            stage = found
        at = next_change_at(stats, registered_at, at, config)
    return Refresh(derive(stats, registered_at, until, config), at, tuple(changes))
