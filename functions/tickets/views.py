"""The API's views of tickets: a ticket with its SLA, metrics, messages and history, and
a list entry. Pure: maps the ticket rules' shapes (``tickets.domain``) to the response
models (``tickets.models``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from loyalty.timeutil import iso
from tickets import workflow
from tickets.desk import Evaluated, is_breaching
from tickets.domain import Minutes, TargetState
from tickets.models import (
    ChangeOut,
    MessageOut,
    MetricsOut,
    MinutesOut,
    SlaOut,
    TargetOut,
    TicketOut,
    TicketSummaryOut,
)


def _when(at: datetime | None) -> str | None:
    return iso(at) if at is not None else None


def _target(state: TargetState) -> TargetOut:
    return TargetOut(
        due_at=_when(state.due_at),
        achieved_at=_when(state.achieved_at),
        breached=state.breached,
        business_minutes=state.business_minutes,
        calendar_minutes=state.calendar_minutes,
        paused=state.paused,
    )


def _minutes(value: Minutes | None) -> MinutesOut | None:
    return MinutesOut(business=value.business, calendar=value.calendar) if value is not None else None


def ticket_out(found: Evaluated) -> TicketOut:
    ticket, sla, metrics = found.ticket, found.sla, found.metrics
    return TicketOut(
        ticket_id=ticket.ticket_id,
        subject=ticket.subject,
        description=ticket.description,
        member_id=ticket.member_id,
        priority=ticket.priority,
        category=ticket.category,
        queue=ticket.queue,
        status=ticket.status,
        assignee=ticket.assignee,
        channel=ticket.channel,
        created_at=iso(ticket.created_at),
        resolved_at=_when(ticket.resolved_at),
        reopened=workflow.reopen_count(ticket.changes),
        csat=ticket.csat,
        sla=SlaOut(
            policy=sla.policy,
            policy_version=sla.policy_version,
            first_response=_target(sla.first_response),
            next_reply=_target(sla.next_reply),
            resolution=_target(sla.resolution),
        ),
        metrics=MetricsOut(
            first_response=_minutes(metrics.first_response),
            resolution=_minutes(metrics.resolution),
            longest_reply_wait=_minutes(metrics.longest_reply_wait),
            breached=dict(metrics.breached),
            achieved=dict(metrics.achieved),
            reopened=metrics.reopened,
            one_touch=metrics.one_touch,
            csat=metrics.csat,
        ),
        messages=[
            MessageOut(message_id=m.message_id, kind=m.kind, author=m.author, body=m.body, at=iso(m.at))
            for m in ticket.messages
        ],
        history=[
            ChangeOut(at=iso(c.at), by=c.by, field=c.field, before=c.before, after=c.after)
            for c in ticket.changes
        ],
    )


def summary_out(item: dict[str, Any], now: datetime) -> TicketSummaryOut:
    return TicketSummaryOut(
        ticket_id=str(item["ticket_id"]),
        status=item["status"],
        priority=item["priority"],
        category=item.get("category", "other"),
        queue=str(item.get("queue", "")),
        assignee=item.get("assignee"),
        member_id=item.get("member_id"),
        created_at=str(item["created_at"]),
        policy=str(item.get("policy", "")),
        next_due=item.get("next_due"),
        breaching=is_breaching(item.get("next_due"), now),
        reopened=int(item.get("reopened", 0)),
    )
