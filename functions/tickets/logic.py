"""Ticket rules. Pure: no AWS here, and no API models: the handler maps a request to
these arguments and a :class:`Ticket` to its response.

Simplified for now: the first-response SLA counts wall-clock hours by
priority; business-hours calendars come later."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from loyalty.messages import Email
from loyalty.timeutil import iso

Priority = Literal["low", "normal", "high", "urgent"]

FIRST_RESPONSE_SLA: dict[str, timedelta] = {
    "urgent": timedelta(hours=1),
    "high": timedelta(hours=4),
    "normal": timedelta(hours=8),
    "low": timedelta(hours=24),
}


@dataclass(frozen=True)
class Ticket:
    tenant_id: str
    ticket_id: str
    subject: str
    description: str
    member_id: str | None
    priority: Priority
    channel: str
    created_at: str
    first_response_due_at: str
    first_response_at: str | None = None
    escalated_at: str | None = None


def new_ticket_id(now: datetime) -> str:
    """Time-ordered and unguessable: milliseconds since epoch plus 64 random bits."""
    return f"tk_{int(now.timestamp() * 1000):013d}{secrets.token_hex(8)}"


def open_ticket(
    tenant_id: str,
    channel: str,
    now: datetime,
    *,
    subject: str,
    description: str = "",
    member_id: str | None = None,
    priority: Priority = "normal",
) -> Ticket:
    """A new ticket opened at ``now``, its first response due by its priority's SLA."""
    return Ticket(
        tenant_id=tenant_id,
        ticket_id=new_ticket_id(now),
        subject=subject,
        description=description,
        member_id=member_id,
        priority=priority,
        channel=channel,
        created_at=iso(now),
        first_response_due_at=iso(now + FIRST_RESPONSE_SLA[priority]),
    )


def is_overdue(ticket: Ticket, now: datetime) -> bool:
    return ticket.first_response_at is None and ticket.first_response_due_at <= iso(now)


def escalation_email(ticket: Ticket, recipients: list[str]) -> Email:
    text = (
        f"Ticket {ticket.ticket_id} ({ticket.priority}) has had no first response.\n"
        f"Subject: {ticket.subject}\n"
        f"Opened: {ticket.created_at}\n"
        f"First response was due: {ticket.first_response_due_at}\n"
    )
    return Email(
        to=recipients,
        subject=f"[Escalation] Ticket {ticket.ticket_id} is past its first-response time",
        text=text,
        tags={"Rule": "ticket-escalation", "Tenant": ticket.tenant_id},
    )
