"""Tickets: SLA due time, replies, escalation once, idempotent POST."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import OTHER_API_KEY, Env

pytestmark = pytest.mark.integration


def _escalations(aws: Env) -> list[str]:
    return [m.raw_data for m in aws.sent_emails() if "[Escalation]" in m.raw_data]


def test_ticket_gets_a_first_response_due_time_by_priority(aws: Env) -> None:
    response = aws.call(
        "POST", "/v1/tickets", {"subject": "Parcel lost", "priority": "high", "member_id": "m-1"}
    )
    assert response.status == 201
    ticket = response.json()
    assert ticket["created_at"] == "2026-03-10T12:00:00.000Z"
    assert ticket["first_response_due_at"] == "2026-03-10T16:00:00.000Z"
    fetched = aws.call("GET", f"/v1/tickets/{ticket['ticket_id']}")
    assert fetched.json() == ticket
    assert aws.call("GET", f"/v1/tickets/{ticket['ticket_id']}", key=OTHER_API_KEY).status == 404


def test_overdue_ticket_is_escalated_once(aws: Env) -> None:
    ticket = aws.call("POST", "/v1/tickets", {"subject": "Refund missing", "priority": "urgent"}).json()
    early = aws.run_job("TicketsEscalation", "escalate", aws.now + timedelta(minutes=45))
    assert early["escalated"] == 0
    late = aws.now + timedelta(hours=1, minutes=15)
    assert aws.run_job("TicketsEscalation", "escalate", late)["escalated"] == 1
    assert aws.run_job("TicketsEscalation", "escalate", late + timedelta(minutes=15))["escalated"] == 0
    emails = _escalations(aws)
    assert len(emails) == 1 and ticket["ticket_id"] in emails[0] and "lead@demo.example" in emails[0]
    assert aws.call("GET", f"/v1/tickets/{ticket['ticket_id']}").json()["escalated_at"] is not None


def test_answered_ticket_is_not_escalated(aws: Env) -> None:
    ticket = aws.call("POST", "/v1/tickets", {"subject": "Size exchange", "priority": "urgent"}).json()
    reply = aws.call(
        "POST",
        f"/v1/tickets/{ticket['ticket_id']}/replies",
        {"author": "agent-7", "body": "On it"},
        at=aws.now + timedelta(minutes=30),
    )
    assert reply.status == 201
    assert reply.json()["first_response_at"] == "2026-03-10T12:30:00.000Z"
    assert aws.run_job("TicketsEscalation", "escalate", aws.now + timedelta(hours=5))["escalated"] == 0
    assert _escalations(aws) == []


def test_idempotency_key_replays_the_first_response(aws: Env) -> None:
    headers = {"Idempotency-Key": "req-1"}
    first = aws.call("POST", "/v1/tickets", {"subject": "Broken zip"}, headers=headers)
    again = aws.call("POST", "/v1/tickets", {"subject": "Broken zip"}, headers=headers)
    assert first.status == again.status == 201
    assert first.json()["ticket_id"] == again.json()["ticket_id"]
    other = aws.call("POST", "/v1/tickets", {"subject": "Something else"}, headers=headers)
    assert other.status == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"


def test_bad_ticket_input(aws: Env) -> None:
    assert aws.call("POST", "/v1/tickets", {"subject": ""}).json()["error"]["field"] == "subject"
    assert aws.call("POST", "/v1/tickets", {"subject": "x", "priority": "whenever"}).status == 400
    assert aws.call("GET", "/v1/tickets/not-a-ticket").status == 400
    missing = aws.call("POST", "/v1/tickets/tk_00ff/replies", {"author": "a", "body": "b"})
    assert missing.status == 404


def test_a_reply_idempotency_key_belongs_to_its_ticket(aws: Env) -> None:
    first = aws.call("POST", "/v1/tickets", {"subject": "Late parcel", "priority": "urgent"}).json()
    second = aws.call("POST", "/v1/tickets", {"subject": "Wrong colour", "priority": "urgent"}).json()
    headers = {"Idempotency-Key": "reply-1"}
    reply = {"author": "agent-7", "body": "Looking into it"}
    to_first = aws.call("POST", f"/v1/tickets/{first['ticket_id']}/replies", reply, headers=headers)
    again = aws.call("POST", f"/v1/tickets/{first['ticket_id']}/replies", reply, headers=headers)
    assert to_first.status == again.status == 201 and again.json() == to_first.json()
    to_second = aws.call("POST", f"/v1/tickets/{second['ticket_id']}/replies", reply, headers=headers)
    assert to_second.status == 201
    assert to_second.json()["ticket_id"] == second["ticket_id"]
    assert to_second.json()["first_response_at"] is not None  # the second ticket's SLA stopped
    assert aws.run_job("TicketsEscalation", "escalate", aws.now + timedelta(hours=5))["escalated"] == 0


def test_a_ticket_whose_escalation_keeps_failing_is_parked_and_the_job_stops_failing(aws: Env) -> None:
    from loyalty import jobs
    from tests.integration.ses_faults import rejecting

    bad = aws.call("POST", "/v1/tickets", {"subject": "Lost order", "priority": "urgent"}).json()
    good = aws.call("POST", "/v1/tickets", {"subject": "Late order", "priority": "urgent"}).json()
    first = aws.now + timedelta(hours=1, minutes=15)
    outcomes = []
    with rejecting(lambda to, raw: bad["ticket_id"] in raw):
        for n in range(6):  # every 15 minutes
            try:
                outcomes.append(
                    aws.run_job("TicketsEscalation", "escalate", first + timedelta(minutes=15 * n))
                )
            except jobs.JobFailed as err:
                outcomes.append(err)
        newer = aws.call(
            "POST",
            "/v1/tickets",
            {"subject": "Wrong size", "priority": "urgent"},
            at=first + timedelta(hours=1),
        ).json()
        later = aws.run_job("TicketsEscalation", "escalate", first + timedelta(hours=3))
    # four failed runs while the ticket is retried, then it is parked and the job stops failing
    assert [isinstance(o, jobs.JobFailed) for o in outcomes] == [True] * 4 + [False] * 2
    assert outcomes[4]["parked"] == 1 and outcomes[5]["failed"] == 0
    assert isinstance(outcomes[0], jobs.JobFailed) and outcomes[0].result["escalated"] == 1  # the good one
    assert later["escalated"] == 1  # a newer ticket is escalated; the parked one is left alone
    escalated = {
        t["ticket_id"]: aws.call("GET", f"/v1/tickets/{t['ticket_id']}").json()["escalated_at"]
        for t in (bad, good, newer)
    }
    assert escalated[bad["ticket_id"]] is None
    assert escalated[good["ticket_id"]] is not None and escalated[newer["ticket_id"]] is not None
    failure = aws.table("LOYALTY_TABLE").get_item(
        Key={"pk": "T#demo#JOBS", "sk": f"FAILED#escalate#{bad['ticket_id']}"}
    )["Item"]
    assert (failure["state"], failure["attempts"], failure["error_code"]) == ("parked", 5, "MessageRejected")
    assert "@" not in str(failure)
    assert len(_escalations(aws)) == 2
