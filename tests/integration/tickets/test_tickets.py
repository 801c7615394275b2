"""Tickets API: open, read, list, change and message tickets; the SLA on the
cn-business calendar; idempotency scoped to the ticket; bad input changes nothing.

The fixture's clock starts on Tuesday 10 March 2026, 12:00 UTC: 20:00 in Shanghai,
after hours, so a first response is due from 09:00 the next morning."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import OTHER_API_KEY, Env

pytestmark = pytest.mark.integration

MORNING = timedelta(hours=13)  # 2026-03-11 09:00 Shanghai, 01:00 UTC


def _open(aws: Env, **fields: Any) -> dict[str, Any]:
    response = aws.call("POST", "/v1/tickets", {"subject": "Parcel lost", **fields})
    assert response.status == 201, response.body
    return response.json()  # type: ignore[no-any-return]


def _message(aws: Env, ticket: dict[str, Any], kind: str, after: timedelta, **extra: Any) -> dict[str, Any]:
    response = aws.call(
        "POST",
        f"/v1/tickets/{ticket['ticket_id']}/messages",
        {"kind": kind, "author": "agent-7" if kind != "customer" else "m-1", "body": f"a {kind}"},
        at=aws.now + after,
        **extra,
    )
    assert response.status == 201, response.body
    return response.json()  # type: ignore[no-any-return]


def _patch(aws: Env, ticket: dict[str, Any], after: timedelta, **fields: Any) -> Any:
    return aws.call("PATCH", f"/v1/tickets/{ticket['ticket_id']}", fields, at=aws.now + after)


def test_a_new_ticket_has_a_policy_and_business_hours_due_times(aws: Env) -> None:
    ticket = _open(aws, priority="high", member_id="m-1", category="delivery")
    assert (ticket["status"], ticket["queue"], ticket["category"]) == ("new", "service", "delivery")
    assert ticket["assignee"] is None  # nobody on the staff registry
    sla = ticket["sla"]
    assert (sla["policy"], sla["policy_version"]) == ("high", 1)
    # 120 business minutes from the next opening, Wednesday 09:00 Shanghai: 11:00 (03:00 UTC)
    assert sla["first_response"]["due_at"] == "2026-03-11T03:00:00.000Z"
    # 960 minutes = 16 business hours: Wednesday 8 h (09-12, 13-18), Thursday 8 h: 18:00 Thursday
    assert sla["resolution"]["due_at"] == "2026-03-12T10:00:00.000Z"
    assert sla["next_reply"]["due_at"] is None
    fetched = aws.call("GET", f"/v1/tickets/{ticket['ticket_id']}")
    assert fetched.json() == ticket
    assert aws.call("GET", f"/v1/tickets/{ticket['ticket_id']}", key=OTHER_API_KEY).status == 404


def test_reply_note_and_customer_message_move_the_targets(aws: Env) -> None:
    ticket = _open(aws, member_id="m-1")
    noted = _message(aws, ticket, "note", MORNING)
    assert noted["status"] == "new" and noted["sla"]["first_response"]["achieved_at"] is None
    replied = _message(aws, ticket, "reply", MORNING + timedelta(minutes=30))
    assert replied["status"] == "open"
    first = replied["sla"]["first_response"]
    assert (first["achieved_at"], first["breached"], first["business_minutes"]) == (
        "2026-03-11T01:30:00.000Z",
        False,
        30,
    )
    asked = _message(aws, ticket, "customer", MORNING + timedelta(hours=1))
    # 480 business minutes from Wednesday 10:00: 420 that day, 60 on Thursday
    assert asked["sla"]["next_reply"]["due_at"] == "2026-03-12T02:00:00.000Z"
    answered = _message(aws, ticket, "reply", MORNING + timedelta(hours=2))
    assert answered["sla"]["next_reply"]["achieved_at"] == "2026-03-11T03:00:00.000Z"
    assert answered["sla"]["first_response"]["achieved_at"] == first["achieved_at"]  # counts once
    assert [m["kind"] for m in answered["messages"]] == ["note", "reply", "customer", "reply"]
    assert [(h["field"], h["before"], h["after"]) for h in answered["history"]] == [("status", "new", "open")]


def test_pending_pauses_resolution_and_a_customer_reply_reopens_the_clock(aws: Env) -> None:
    ticket = _open(aws, member_id="m-1")  # default policy: resolution 1440 business minutes
    due = ticket["sla"]["resolution"]["due_at"]
    _message(aws, ticket, "reply", MORNING + timedelta(minutes=10))
    pending = _patch(aws, ticket, MORNING + timedelta(hours=1), status="pending").json()
    assert pending["sla"]["resolution"]["paused"] is True and pending["sla"]["resolution"]["due_at"] is None
    back = _message(aws, ticket, "customer", MORNING + timedelta(hours=3))
    assert back["status"] == "open"
    # Two business hours paused (10:00-12:00 Shanghai): the due time moves by exactly that.
    assert back["sla"]["resolution"]["due_at"] != due
    assert back["sla"]["resolution"]["business_minutes"] == 60 + 0  # 09:00-10:00 ran, 10:00-12:00 paused


def test_invalid_transitions_answer_409_and_change_nothing(aws: Env) -> None:
    ticket = _open(aws)
    resolved = _patch(aws, ticket, MORNING, status="resolved").json()
    assert resolved["status"] == "resolved" and resolved["resolved_at"] is not None
    closed = _patch(aws, ticket, MORNING + timedelta(hours=1), status="closed").json()
    assert closed["status"] == "closed"
    for fields in ({"status": "open"}, {"priority": "urgent"}):
        refused = _patch(aws, ticket, MORNING + timedelta(hours=2), **fields)
        assert refused.status == 409 and refused.json()["error"]["code"] == "invalid_transition"
    on_closed = aws.call(
        "POST",
        f"/v1/tickets/{ticket['ticket_id']}/messages",
        {"kind": "customer", "author": "m-1", "body": "hello?"},
    )
    assert on_closed.status == 409 and on_closed.json()["error"]["code"] == "ticket_closed"
    assert aws.call("GET", f"/v1/tickets/{ticket['ticket_id']}").json()["history"] == closed["history"]


def test_a_customer_message_reopens_a_resolved_ticket_and_counts(aws: Env) -> None:
    ticket = _open(aws, member_id="m-1")
    _message(aws, ticket, "reply", MORNING)
    _patch(aws, ticket, MORNING + timedelta(minutes=5), status="resolved")
    reopened = _message(aws, ticket, "customer", MORNING + timedelta(hours=1))
    assert (reopened["status"], reopened["reopened"]) == ("open", 1)
    assert reopened["metrics"]["reopened"] == 1 and reopened["resolved_at"] is None
    resolved = _patch(aws, ticket, MORNING + timedelta(hours=2), status="resolved").json()
    assert resolved["metrics"]["one_touch"] is False


def test_a_priority_change_selects_another_policy_from_creation(aws: Env) -> None:
    ticket = _open(aws)
    urgent = _patch(aws, ticket, MORNING, priority="urgent").json()
    assert (urgent["sla"]["policy"], urgent["priority"]) == ("urgent", "urgent")
    assert urgent["sla"]["first_response"]["due_at"] == "2026-03-11T02:00:00.000Z"  # 60 min from 09:00
    assert ("policy", "default@1", "urgent@1") in [
        (h["field"], h["before"], h["after"]) for h in urgent["history"]
    ]


def test_lists_read_through_indexes_and_page(aws: Env) -> None:
    tickets = [_open(aws, member_id="m-1" if n % 2 else "m-2", queue="service") for n in range(5)]
    _patch(aws, tickets[0], MORNING, status="pending")
    page = aws.call("GET", "/v1/tickets?limit=2").json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = aws.call("GET", f"/v1/tickets?limit=10&cursor={page['next_cursor']}").json()
    assert {t["ticket_id"] for t in page["items"] + rest["items"]} == {t["ticket_id"] for t in tickets}
    by_status = aws.call("GET", "/v1/tickets?status=pending").json()["items"]
    assert [t["ticket_id"] for t in by_status] == [tickets[0]["ticket_id"]]
    by_member = aws.call("GET", "/v1/tickets?member_id=m-1").json()["items"]
    assert {t["ticket_id"] for t in by_member} == {tickets[1]["ticket_id"], tickets[3]["ticket_id"]}
    unassigned = aws.call("GET", "/v1/tickets?assignee=-&status=new").json()["items"]
    assert len(unassigned) == 4
    queue = aws.call("GET", "/v1/tickets?queue=service&status=new").json()["items"]
    assert len(queue) == 4
    assert "subject" not in page["items"][0]  # summaries carry no text
    assert aws.call("GET", "/v1/tickets?cursor=bogus").status == 400
    assert aws.call("GET", "/v1/tickets?status=whatever").status == 400


def test_breaching_lists_tickets_within_the_warning_lead(aws: Env) -> None:
    ticket = _open(aws, priority="urgent")  # first response due Wednesday 10:00 Shanghai
    assert aws.call("GET", "/v1/tickets?breaching=true").json()["items"] == []
    near = aws.call("GET", "/v1/tickets?breaching=true", at=aws.now + MORNING + timedelta(minutes=46)).json()
    assert [t["ticket_id"] for t in near["items"]] == [ticket["ticket_id"]]
    assert near["items"][0]["breaching"] is True


def test_idempotency_key_replays_the_first_response(aws: Env) -> None:
    headers = {"Idempotency-Key": "req-1"}
    first = aws.call("POST", "/v1/tickets", {"subject": "Broken zip"}, headers=headers)
    again = aws.call("POST", "/v1/tickets", {"subject": "Broken zip"}, headers=headers)
    assert first.status == again.status == 201
    assert first.json()["ticket_id"] == again.json()["ticket_id"]
    other = aws.call("POST", "/v1/tickets", {"subject": "Something else"}, headers=headers)
    assert other.status == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"


def test_a_message_idempotency_key_belongs_to_its_ticket(aws: Env) -> None:
    first = _open(aws, priority="urgent")
    second = _open(aws, priority="urgent")
    headers = {"Idempotency-Key": "reply-1"}
    reply = {"author": "agent-7", "body": "Looking into it"}
    to_first = aws.call("POST", f"/v1/tickets/{first['ticket_id']}/replies", reply, headers=headers)
    again = aws.call("POST", f"/v1/tickets/{first['ticket_id']}/replies", reply, headers=headers)
    assert to_first.status == again.status == 201 and again.json() == to_first.json()
    assert len(again.json()["messages"]) == 1
    to_second = aws.call("POST", f"/v1/tickets/{second['ticket_id']}/replies", reply, headers=headers)
    assert to_second.status == 201
    assert to_second.json()["ticket_id"] == second["ticket_id"]
    assert to_second.json()["sla"]["first_response"]["achieved_at"] is not None


def test_bad_ticket_input(aws: Env) -> None:
    assert aws.call("POST", "/v1/tickets", {"subject": ""}).json()["error"]["field"] == "subject"
    assert aws.call("POST", "/v1/tickets", {"subject": "x", "priority": "whenever"}).status == 400
    assert aws.call("POST", "/v1/tickets", {"subject": "x", "category": "gossip"}).status == 400
    assert aws.call("GET", "/v1/tickets/not-a-ticket").status == 400
    missing = aws.call("POST", "/v1/tickets/tk_00ff/replies", {"author": "a", "body": "b"})
    assert missing.status == 404
    ticket = _open(aws)
    bad_kind = aws.call(
        "POST", f"/v1/tickets/{ticket['ticket_id']}/messages", {"kind": "shout", "author": "a", "body": "b"}
    )
    assert bad_kind.status == 400
    unknown = _patch(aws, ticket, MORNING, assignee="nobody-here")
    assert unknown.status == 400 and unknown.json()["error"]["field"] == "assignee"
    assert _patch(aws, ticket, MORNING, status="sleeping").status == 400
    assert aws.call("GET", f"/v1/tickets/{ticket['ticket_id']}").json() == ticket


def test_messages_of_one_instant_keep_their_order(aws: Env) -> None:
    ticket = _open(aws, member_id="m-1")
    for _ in range(4):  # message ids are random: order within an instant must not depend on them
        _message(aws, ticket, "customer", MORNING)
        answered = _message(aws, ticket, "reply", MORNING)
    assert [m["kind"] for m in answered["messages"]] == ["customer", "reply"] * 4
    assert answered["sla"]["next_reply"]["achieved_at"] == "2026-03-11T01:00:00.000Z"
    assert answered["metrics"]["longest_reply_wait"] == {"business": 0, "calendar": 0}
