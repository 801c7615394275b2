"""The stored items of a ticket, built and read back: the ticket item (with its place in
the timer index and the activity index), its list entries, and the ticket with its
timeline from the items of its partition. Pure: no AWS here; ``tickets.repository``
writes and reads them. Keys: ``tickets.layout``.

The ticket item carries ``report`` (:func:`report_of`): what the KPI reports count of
the ticket, derived at each write from its SLA and metrics as a read computes them at
that instant; no personal data and no free text, and equal for an equal ticket state
(docs/tickets.md "Service figures")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from loyalty import keys
from loyalty.events.stored import StoredEvent
from loyalty.timeutil import iso, local_day, parse_rfc3339
from tickets import layout, workflow
from tickets.domain import (
    DEFAULT_QUEUE,
    TARGETS,
    Change,
    Message,
    Metrics,
    Notification,
    Sla,
    TargetState,
    Ticket,
)

_SCALARS = (
    "tenant_id",
    "ticket_id",
    "subject",
    "description",
    "member_id",
    "member_tier",
    "priority",
    "category",
    "queue",
    "channel",
    "status",
    "assignee",
    "policy",
)


@dataclass(frozen=True)
class Commit:
    """What one transaction writes besides the ticket: its summary, timer, breaching key,
    events, and a round-robin pointer move ``(queue, before, after)``."""

    summary: dict[str, Any]
    timer_at: datetime | None
    warn_at: datetime | None
    events: Sequence[StoredEvent] = ()
    pointer: tuple[str, str | None, str] | None = None
    cap: tuple[str, int] | None = None  # an automatic assignment: its agent's load must stay under this
    breaches: Sequence[Notification] = ()  # breach notices sent now: listed in the activity index
    report: Mapping[str, Any] | None = None  # the ticket's ``report`` attribute (report_of)


def _time(value: Any) -> datetime | None:
    return parse_rfc3339(str(value)) if value else None


def message_from(item: dict[str, Any]) -> Message:
    return Message(
        message_id=str(item.get("message_id") or item["sk"].rsplit("#", 1)[-1]),
        kind=item.get("kind", "reply"),
        author=str(item.get("author", "")),
        body=str(item.get("body", "")),
        at=parse_rfc3339(str(item["at"])),
    )


def change_from(item: dict[str, Any]) -> Change:
    return Change(
        at=parse_rfc3339(str(item["at"])),
        by=str(item["by"]),
        field=str(item["field"]),
        before=item.get("before"),
        after=item.get("after"),
    )


def to_ticket(
    main: dict[str, Any], messages: Sequence[Message] = (), changes: Sequence[Change] = ()
) -> Ticket:
    """A ticket from its stored item (one written before statuses existed reads as open)."""
    return Ticket(
        tenant_id=str(main["tenant_id"]),
        ticket_id=str(main["ticket_id"]),
        subject=str(main.get("subject", "")),
        description=str(main.get("description", "")),
        member_id=main.get("member_id"),
        member_tier=main.get("member_tier"),
        priority=main.get("priority", "normal"),
        category=main.get("category", "other"),
        queue=str(main.get("queue", DEFAULT_QUEUE)),
        channel=str(main.get("channel", "")),
        status=main.get("status", "open"),
        assignee=main.get("assignee"),
        created_at=parse_rfc3339(str(main["created_at"])),
        policy=str(main.get("policy", "")),
        policy_version=int(main.get("policy_version", 0)),
        version=int(main.get("version", 0)),
        resolved_at=_time(main.get("resolved_at")),
        assign_at=_time(main.get("assign_at")),
        csat=int(main["csat"]) if main.get("csat") is not None else None,
        csat_at=str(main["csat_at"]) if main.get("csat_at") else None,
        csat_event_id=str(main["csat_event_id"]) if main.get("csat_event_id") else None,
        erased=bool(main.get("erased", False)),
        notices_sent=frozenset(str(claim) for claim in main.get("notices_sent") or ()),
        messages=tuple(sorted(messages, key=lambda m: m.at)),  # stable: the given order within an instant
        changes=tuple(changes),
    )


def _outcome(state: TargetState) -> str:
    """``breached`` (met late, or unmet at or past its due time), ``achieved`` (met by it)
    or ``open`` (not decided: running, or stopped on a resolve before it was due)."""
    if state.breached:
        return "breached"
    return "achieved" if state.achieved_at is not None else "open"


def report_of(ticket: Ticket, sla: Sla, metrics: Metrics) -> dict[str, Any]:
    """What the reports count of ``ticket``, from its SLA and metrics at the write: its
    opening and category, its latest resolve (while resolved or closed) with the reopen
    count and one-touch, each target with a due time and its outcome, and the first
    response with its business and calendar minutes. Instants are UTC ISO."""
    report: dict[str, Any] = {
        "created_at": iso(ticket.created_at),
        "category": ticket.category,
        "reopened": metrics.reopened,
        "one_touch": metrics.one_touch,
        "sla": {
            name: {"due_at": iso(state.due_at), "outcome": _outcome(state)}
            for name in TARGETS
            if (state := sla.target(name)).due_at is not None
        },
    }
    resolved = workflow.last_resolved(ticket)
    if resolved is not None:
        report["resolved_at"] = iso(resolved)
    answered = sla.first_response.achieved_at
    if answered is not None and metrics.first_response is not None:
        report["first_response"] = {
            "at": iso(answered),
            "business_minutes": metrics.first_response.business,
            "calendar_minutes": metrics.first_response.calendar,
        }
    return report


def ticket_item(
    ticket: Ticket, tz: ZoneInfo, timer_at: datetime | None, report: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": keys.ticket_pk(ticket.tenant_id, ticket.ticket_id),
        "sk": layout.TICKET_SK,
        "kind": "ticket",
        **{name: getattr(ticket, name) for name in _SCALARS if getattr(ticket, name) is not None},
        "created_at": iso(ticket.created_at),
        "policy_version": ticket.policy_version,
        "version": ticket.version,
        # The activity index lists the opening on the program-local day (the daily report).
        **keys.day_index(
            ticket.tenant_id,
            local_day(ticket.created_at, tz).isoformat(),
            ticket.ticket_id,
            "ticket.opened",
            iso(ticket.created_at),
            ticket.ticket_id,
        ),
    }
    for name in ("resolved_at", "assign_at"):
        value = getattr(ticket, name)
        if value is not None:
            item[name] = iso(value)
    # The rating TicketsEvents stored (tickets.csat_store) is written back as read, so a
    # later change of the ticket keeps which answer it came from.
    for name in ("csat", "csat_at", "csat_event_id"):
        if getattr(ticket, name) is not None:
            item[name] = getattr(ticket, name)
    if ticket.erased:
        item["erased"] = True
    if ticket.notices_sent:
        item["notices_sent"] = sorted(ticket.notices_sent)
    if report is not None:
        item["report"] = dict(report)
    if timer_at is not None:
        item["gsi1pk"] = keys.due_pk(ticket.tenant_id, layout.TIMER_KIND)
        item["gsi1sk"] = f"{iso(timer_at)}#{ticket.ticket_id}"
    return item


def list_entries(ticket: Ticket, summary: dict[str, Any], warn_at: datetime | None) -> list[dict[str, Any]]:
    pk = keys.ticket_pk(ticket.tenant_id, ticket.ticket_id)
    created = f"{iso(ticket.created_at)}#{ticket.ticket_id}"
    base = {"pk": pk, "kind": "ticket_list", **summary}
    a = {
        **base,
        "sk": layout.LIST_SKS[0],
        "gsi1pk": layout.status_pk(ticket.tenant_id, ticket.status),
        "gsi1sk": created,
        "gsi2pk": layout.queue_pk(ticket.tenant_id, ticket.queue),
        "gsi2sk": f"{ticket.status}#{created}",
    }
    b = {
        **base,
        "sk": layout.LIST_SKS[1],
        "gsi1pk": layout.assignee_pk(ticket.tenant_id, ticket.assignee),
        "gsi1sk": f"{ticket.status}#{created}",
    }
    if warn_at is not None:
        b["gsi2pk"] = layout.breaching_pk(ticket.tenant_id)
        b["gsi2sk"] = f"{iso(warn_at)}#{ticket.ticket_id}"
    c = {**base, "sk": layout.LIST_SKS[2], "gsi1pk": layout.all_pk(ticket.tenant_id), "gsi1sk": created}
    return [a, b, c]
