"""The rollups' use case: one stored event into the counters of the buckets it changes.

For each event the member's rollup state is read, the event applied to it
(``reports.orders``: once per order, refund, registration and answer), and the change of
every counter computed as the counters of the state after less those before, the
additive ones (``reports.orders``) and the member-level ones (``reports.rollup``:
distinct customers, who is active at each moment, churn, cohorts). It commits in one
transaction over the version read (``reports.rollup_store``), retried from a fresh read
when another change of the member came first. So a redelivered, repeated or reordered
event leaves the counters as one delivery of each, in any order, would.

An event whose day is before the day it was received (in the program's time zone) also
marks that day for each report kind, so the next reports restate the period that
holds it (``reports.reporting``)."""

from __future__ import annotations

from enum import StrEnum

from loyalty.commit import optimistic
from loyalty.events.stored import StoredEvent
from reports import rollup_store
from reports.changes import (
    ROLLUP_EVENTS,
    Context,
    order_change,
    registration_change,
    survey_change,
)
from reports.orders import Change, MemberState
from reports.rollup_store import AlreadyCounted


class Applied(StrEnum):
    APPLIED = "applied"
    UNCHANGED = "unchanged"  # a repeat, or an event that changes no figure


def _attempt(ctx: Context, event: StoredEvent) -> Applied:
    tenant, member_id = event.tenant_id, event.member_id
    if event.type == "survey.answered":
        try:
            rollup_store.commit(ctx.table, tenant, member_id, MemberState(), survey_change(ctx, event))
        except AlreadyCounted:
            return Applied.UNCHANGED
        return Applied.APPLIED
    member = rollup_store.load_member(ctx.table, tenant, member_id)
    change: Change | None
    if event.type == "member.registered":
        change = registration_change(ctx, event, member)
    else:
        order = rollup_store.load_order(ctx.table, tenant, member_id, str(event.data["order_id"]))
        change = order_change(ctx, event, member, order)
    if change is None:
        return Applied.UNCHANGED
    rollup_store.commit(ctx.table, tenant, member_id, member, change)
    return Applied.APPLIED


def apply_event(ctx: Context, event: StoredEvent) -> Applied:
    """Apply one event to the rollups (``ROLLUP_EVENTS``; others change nothing)."""
    if event.type not in ROLLUP_EVENTS:
        return Applied.UNCHANGED
    return optimistic(lambda: _attempt(ctx, event), what="member rollup")
