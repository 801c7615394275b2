"""Shared steps of the ticket tests: staff on the registry, tickets, messages, the timer
job and the escalation emails it sent."""

from __future__ import annotations

import email
from datetime import datetime, timedelta
from email.header import decode_header, make_header
from typing import Any

from tests.conftest import API_KEY, Env

ADMIN = f"admin-{API_KEY}"
SHANGHAI_MORNING = timedelta(hours=13)  # the fixture's 20:00 Shanghai to Wednesday 09:00


def put_staff(
    aws: Env, staff_id: str, role: str, *, queues: tuple[str, ...] = ("service",), **extra: Any
) -> None:
    body = {
        "name": f"Person {staff_id}",
        "email": f"{staff_id}@staff.example",
        "role": role,
        "queues": list(queues),
        "time_zone": "Asia/Shanghai",
        **extra,
    }
    response = aws.call("PUT", f"/v1/admin/staff/{staff_id}", body, key=ADMIN)
    assert response.status in (200, 201), response.body


def desk_team(aws: Env) -> None:
    """Two agents, a lead and a manager on the service queue (cn-business calendar)."""
    put_staff(aws, "agent-a", "agent", locale="en")
    put_staff(aws, "agent-b", "agent", locale="zh-CN")
    put_staff(aws, "lead-1", "lead", locale="en")
    put_staff(aws, "boss-1", "manager", queues=(), locale="en")


def open_ticket(aws: Env, at: datetime | None = None, **fields: Any) -> dict[str, Any]:
    response = aws.call("POST", "/v1/tickets", {"subject": "Parcel lost", **fields}, at=at)
    assert response.status == 201, response.body
    return response.json()  # type: ignore[no-any-return]


def message(aws: Env, ticket_id: str, kind: str, at: datetime, **extra: Any) -> dict[str, Any]:
    author = "m-1" if kind == "customer" else "agent-a"
    response = aws.call(
        "POST",
        f"/v1/tickets/{ticket_id}/messages",
        {"kind": kind, "author": author, "body": f"a {kind}"},
        at=at,
        **extra,
    )
    assert response.status == 201, response.body
    return response.json()  # type: ignore[no-any-return]


def patch(aws: Env, ticket_id: str, at: datetime, **fields: Any) -> dict[str, Any]:
    response = aws.call("PATCH", f"/v1/tickets/{ticket_id}", fields, at=at)
    assert response.status == 200, response.body
    return response.json()  # type: ignore[no-any-return]


def get(aws: Env, ticket_id: str, at: datetime | None = None) -> dict[str, Any]:
    return aws.call("GET", f"/v1/tickets/{ticket_id}", at=at).json()  # type: ignore[no-any-return]


def tick(aws: Env, at: datetime) -> dict[str, Any]:
    """One run of the ticket timer job at ``at``."""
    return aws.run_job("TicketsEscalation", "escalate", at)  # type: ignore[no-any-return]


def notices(aws: Env) -> list[tuple[str, str, str]]:
    """(recipient, subject, locale) of every escalation email sent, in order."""
    found = []
    for sent in aws.sent_emails():
        parsed = email.message_from_string(sent.raw_data)
        subject = str(make_header(decode_header(parsed["Subject"] or "")))
        if "ticket-escalation" not in sent.raw_data and "[tk_" not in subject:
            continue
        found += [
            (to, subject, parsed.get("Content-Language", "")) for to in dict.fromkeys(sent.destinations)
        ]  # moto lists a To address twice
    return found


def levels(aws: Env, ticket_id: str) -> list[tuple[str, str]]:
    """(recipient, "<target> <level>") per escalation email about ``ticket_id``."""
    out = []
    for to, subject, _ in notices(aws):
        if ticket_id not in subject:
            continue
        words = subject.split()
        target_level = next(
            (
                f"{w} {words[i + 1].rstrip(':)')}"
                for i, w in enumerate(words)
                if w.strip("(") in ("first_response", "next_reply", "resolution")
            ),
            subject,
        )
        out.append((to, target_level.strip("(")))
    return out


def timeline(aws: Env, member: str) -> list[dict[str, Any]]:
    page = aws.call("GET", f"/v1/members/{member}/events?limit=100").json()
    return [e for e in page["events"] if e["type"].startswith("ticket.")]
