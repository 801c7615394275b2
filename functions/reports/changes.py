"""What one stored event changes in the rollups: the member's rollup state after it and
the counters it moves. Pure: no AWS here (``reports.rollups`` reads the state and commits).

Every counter's change is the counters of the state after the event less those before
(``reports.orders`` for the additive ones, ``reports.rollup`` for the member-level ones),
so incremental changes add up to the counters of the final state, whatever the order of
arrival (``reports.rebuild``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from loyalty.events.stored import StoredEvent
from loyalty.program import ProgramConfig
from loyalty.timeutil import iso, local_day
from reports import orders, rollup
from reports.orders import Amounts, Change, MemberState, OrderState

ORDER_EVENTS = frozenset({"order.placed", "order.cancelled", "order.refunded"})
ROLLUP_EVENTS = ORDER_EVENTS | {"member.registered", "survey.answered"}
REPORT_KINDS = ("daily", "weekly", "monthly")


@dataclass(frozen=True)
class Context:
    table: str
    tz: ZoneInfo
    program: ProgramConfig

    @property
    def active_days(self) -> int:
        return self.program.lifecycle.active_days


def event_key(event: StoredEvent) -> str:
    """The order in which duplicates are settled: the earliest occurrence, then the id."""
    return f"{iso(event.occurred_at)}#{event.event_id}"


def _late(ctx: Context, event: StoredEvent, day: date) -> tuple[tuple[str, str], ...]:
    """A day that had ended when its event arrived: every report kind restates it."""
    late = day < local_day(event.received_at, ctx.tz)
    return tuple((kind, day.isoformat()) for kind in REPORT_KINDS) if late else ()


def base_amount(ctx: Context, event: StoredEvent) -> Decimal | None:
    data = event.data
    if event.type == "order.placed":
        return ctx.program.to_base(
            Decimal(str(data["total"])), str(data.get("currency") or ctx.program.currency)
        )
    if event.type == "order.refunded":
        return ctx.program.to_base(
            Decimal(str(data["amount"])), str(data.get("currency") or ctx.program.currency)
        )
    return None


def order_change(ctx: Context, event: StoredEvent, member: MemberState, order: OrderState) -> Change | None:
    """Pure: the change an order event makes to the member's state and counters."""
    day = local_day(event.occurred_at, ctx.tz)
    after = orders.apply_order_event(
        order, event.type, event_key(event), day, event.data, base_amount(ctx, event)
    )
    if after is None:
        return None
    days = orders.day_change(member.days, order, after)
    counts = orders.merge(
        orders.difference(orders.order_counts(after), orders.order_counts(order)),
        {k: Decimal(v) for k, v in rollup.member_delta(member.days, days, ctx.active_days).items()},
    )
    late = set(_late(ctx, event, day))
    if order.day is not None and order.day != day:
        late |= set(_late(ctx, event, order.day))  # the day it counted on until now
    return Change(days=days, order=after, counts=counts, late=tuple(sorted(late)))


def registration_change(ctx: Context, event: StoredEvent, member: MemberState) -> Change | None:
    key, day = event_key(event), local_day(event.occurred_at, ctx.tz)
    if member.registration is not None and member.registration[0] <= key:
        return None
    before = member.registration[1] if member.registration else None
    counts = orders.difference(orders.registration_counts(day), orders.registration_counts(before))
    return Change(registration=(key, day), counts=counts, late=_late(ctx, event, day))


def survey_change(ctx: Context, event: StoredEvent) -> Change:
    day = local_day(event.occurred_at, ctx.tz)
    counts: Amounts = orders.survey_counts(day, str(event.data["kind"]), int(event.data["score"]))
    return Change(survey_event=event.event_id, counts=counts, late=_late(ctx, event, day))
