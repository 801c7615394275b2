"""The rollups recomputed from a set of events at once. Pure: no AWS here
(``reports.rebuild_store`` reads the event log and writes the result).

:func:`fold` applies every event to an empty state with the same rules as the stream
consumer (``reports.orders``, ``reports.rollups``) and takes the counters of the final
state, member by member and shard by shard. Because an event's incremental change is the
counters after it less those before, the incremental rollups of any delivery order, with
any repeats, equal the fold of the same events: the invariant the rebuild test holds."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from loyalty import keys
from loyalty.events.stored import StoredEvent
from loyalty.timeutil import local_day
from reports import changes, layout, orders, rollup
from reports.orders import Amounts, MemberState, OrderState


@dataclass
class MemberFold:
    registration: tuple[str, date] | None = None
    orders: dict[str, OrderState] = field(default_factory=dict)
    surveys: dict[str, Amounts] = field(default_factory=dict)  # event_id -> counters

    def days(self) -> dict[date, int]:
        out: dict[date, int] = {}
        for order in self.orders.values():
            if order.day is not None:
                out[order.day] = out.get(order.day, 0) + 1
        return out


@dataclass
class Folded:
    members: dict[str, MemberFold] = field(default_factory=dict)

    def counters(self, active_days: int) -> dict[tuple[str, int], dict[str, Decimal]]:
        """(bucket, shard) -> counter -> value, zeros dropped: what the counter items hold."""
        out: dict[tuple[str, int], dict[str, Decimal]] = defaultdict(dict)
        for member_id, member in self.members.items():
            shard = keys.shard_of(member_id, layout.SHARDS)
            parts: list[Amounts] = [orders.order_counts(o) for o in member.orders.values()]
            parts.append(orders.registration_counts(member.registration[1] if member.registration else None))
            parts += list(member.surveys.values())
            member_level = rollup.member_counts(member.days(), active_days)
            parts.append({k: Decimal(v) for k, v in member_level.items()})
            for (bucket, name), value in orders.merge(*parts).items():
                counters = out[(bucket, shard)]
                counters[name] = counters.get(name, Decimal(0)) + value
        return {k: {n: v for n, v in c.items() if v} for k, c in out.items() if any(c.values())}


def fold(ctx: changes.Context, events: Iterable[StoredEvent]) -> Folded:
    """Every event applied, in the order given (any order gives the same state)."""
    folded = Folded()
    for event in events:
        if event.type not in changes.ROLLUP_EVENTS:
            continue
        member = folded.members.setdefault(event.member_id, MemberFold())
        if event.type == "survey.answered":
            member.surveys.setdefault(event.event_id, changes.survey_change(ctx, event).counts)
            continue
        if event.type == "member.registered":
            change = changes.registration_change(ctx, event, MemberState(registration=member.registration))
            if change is not None:
                member.registration = change.registration
            continue
        order_id = str(event.data["order_id"])
        before = member.orders.get(order_id, OrderState(order_id))
        after = orders.apply_order_event(
            before,
            event.type,
            changes.event_key(event),
            local_day(event.occurred_at, ctx.tz),
            event.data,
            changes.base_amount(ctx, event),
        )
        if after is not None:
            member.orders[order_id] = after
    return folded
