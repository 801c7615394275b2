"""The ticket item's ``report``: what the KPI reports count of a ticket, stored with every
write through the real handlers and updated on a reply, a breach (the timer's run), a
resolve and a reopen; an unchanged state is stored the same, and it holds no text."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from loyalty import keys
from tests.conftest import Env
from tests.integration.tickets.ticket_helpers import (
    SHANGHAI_MORNING,
    desk_team,
    message,
    open_ticket,
    patch,
    tick,
)
from tickets import layout

pytestmark = pytest.mark.integration


def _report(aws: Env, ticket_id: str) -> dict[str, Any]:
    item = aws.table("LOYALTY_TABLE").get_item(
        Key={"pk": keys.ticket_pk("demo", ticket_id), "sk": layout.TICKET_SK}, ConsistentRead=True
    )["Item"]
    return dict(item["report"])


def test_the_report_follows_the_ticket_through_breach_reply_resolve_and_reopen(aws: Env) -> None:
    desk_team(aws)
    opened = aws.now + SHANGHAI_MORNING  # Wednesday 11 March 2026 09:00 Shanghai
    tid = open_ticket(
        aws, at=opened, priority="urgent", category="complaint", member_id="m-1", description="zqsecret"
    )["ticket_id"]
    first_due = {"due_at": "2026-03-11T02:00:00.000Z", "outcome": "open"}  # 10:00 Shanghai
    resolution_due = {"due_at": "2026-03-11T10:00:00.000Z", "outcome": "open"}  # 480 minutes: 18:00
    assert _report(aws, tid) == {
        "created_at": "2026-03-11T01:00:00.000Z",
        "category": "complaint",
        "reopened": 0,
        "one_touch": False,
        "sla": {"first_response": first_due, "resolution": resolution_due},
    }

    tick(aws, opened + timedelta(hours=1))  # the breach notice's run writes the ticket
    assert _report(aws, tid)["sla"]["first_response"] == {**first_due, "outcome": "breached"}

    message(aws, tid, "reply", opened + timedelta(hours=1, minutes=30))
    replied = _report(aws, tid)
    assert replied["first_response"] == {
        "at": "2026-03-11T02:30:00.000Z",
        "business_minutes": 90,
        "calendar_minutes": 90,
    }
    assert replied["sla"]["first_response"]["outcome"] == "breached"  # met, but late

    message(aws, tid, "note", opened + timedelta(hours=2))
    assert _report(aws, tid) == replied  # a note changes nothing the reports count

    patch(aws, tid, opened + timedelta(hours=3), status="resolved")  # 12:00
    resolved = _report(aws, tid)
    assert resolved["resolved_at"] == "2026-03-11T04:00:00.000Z"
    assert resolved["one_touch"] is True  # one public reply, never reopened
    assert resolved["sla"]["resolution"] == {**resolution_due, "outcome": "achieved"}

    message(aws, tid, "customer", opened + timedelta(days=1, minutes=30))  # Thursday 09:30: a reopen
    reopened = _report(aws, tid)
    assert "resolved_at" not in reopened
    assert (reopened["reopened"], reopened["one_touch"]) == (1, False)
    assert reopened["sla"]["resolution"]["outcome"] == "open"  # running again
    assert reopened["sla"]["next_reply"] == {"due_at": "2026-03-12T03:30:00.000Z", "outcome": "open"}  # 11:30

    patch(aws, tid, opened + timedelta(days=1, hours=1), status="resolved")  # Thursday 10:00
    again = _report(aws, tid)
    assert (again["resolved_at"], again["reopened"], again["one_touch"]) == (
        "2026-03-12T02:00:00.000Z",
        1,
        False,
    )
    assert "m-1" not in str(again) and "zqsecret" not in str(again) and "Parcel" not in str(again)
