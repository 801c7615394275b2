"""CSAT from surveys: a ``survey.answered`` of kind csat naming a ticket sets the ticket's
rating through the event stream (TicketsEvents); the latest answer wins, a redelivery or
an older answer changes nothing, another member's or an unknown ticket is dropped."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from loyalty import keys
from tests.conftest import Env
from tickets import layout

pytestmark = pytest.mark.integration

TICKET = "tk_0c5a7"


def _put_ticket(aws: Env, ticket_id: str = TICKET, member: str = "m-1", **fields: Any) -> None:
    aws.table("LOYALTY_TABLE").put_item(
        Item={
            "pk": keys.ticket_pk("demo", ticket_id),
            "sk": layout.TICKET_SK,
            "kind": "ticket",
            "tenant_id": "demo",
            "ticket_id": ticket_id,
            "member_id": member,
            "subject": "Parcel late",
            "status": "resolved",
            "created_at": "2026-03-09T08:00:00.000Z",
            "resolved_at": "2026-03-09T10:00:00.000Z",
            "version": 3,
            **fields,
        }
    )


def _ticket(aws: Env, ticket_id: str = TICKET) -> dict[str, Any]:
    item = aws.table("LOYALTY_TABLE").get_item(
        Key={"pk": keys.ticket_pk("demo", ticket_id), "sk": layout.TICKET_SK}, ConsistentRead=True
    )["Item"]
    return dict(item)


def _answer(
    aws: Env,
    event_id: str,
    score: int,
    *,
    at: str = "2026-03-10T11:00:00Z",
    member: str = "m-1",
    kind: str = "csat",
    ticket_id: str | None = TICKET,
) -> None:
    data: dict[str, Any] = {"survey_id": "sv-ticket", "kind": kind, "score": score}
    if ticket_id is not None:
        data["ticket_id"] = ticket_id
    event = {
        "event_id": event_id,
        "type": "survey.answered",
        "occurred_at": at,
        "member_id": member,
        "channel": "web",
        "data": data,
    }
    assert aws.call("POST", "/v1/events", event).status == 202


def _delivered(pump: Any) -> dict[str, int]:
    return {s["function"]: s["delivered"] for s in pump.stats() if s["function"] == "TicketsEvents"}


def _rating(item: dict[str, Any]) -> tuple[Any, ...]:
    return item.get("csat"), item.get("csat_at"), item.get("csat_event_id"), item["version"]


def test_a_csat_answer_sets_the_ticket_rating(aws: Env) -> None:
    _put_ticket(aws)
    _answer(aws, "sv-a1", 4)
    pump = aws.pump()
    pump.drain()
    assert _delivered(pump) == {"TicketsEvents": 1}
    assert _rating(_ticket(aws)) == (4, "2026-03-10T11:00:00.000Z", "sv-a1", 4)
    assert _ticket(aws)["status"] == "resolved"  # nothing else of the ticket moves


def test_a_redelivered_answer_changes_nothing(aws: Env) -> None:
    _put_ticket(aws)
    _answer(aws, "sv-a1", 4)
    aws.pump().drain()
    again = aws.pump()  # a second mapping from the start: every record again
    again.drain()
    assert _delivered(again) == {"TicketsEvents": 1}
    assert _rating(_ticket(aws)) == (4, "2026-03-10T11:00:00.000Z", "sv-a1", 4)


def test_the_latest_answer_wins_and_an_older_one_is_ignored(aws: Env) -> None:
    _put_ticket(aws)
    _answer(aws, "sv-a1", 4, at="2026-03-10T11:00:00Z")
    _answer(aws, "sv-old", 1, at="2026-03-10T09:30:00Z")  # answered earlier, arrives later
    pump = aws.pump()
    pump.drain()
    assert _rating(_ticket(aws)) == (4, "2026-03-10T11:00:00.000Z", "sv-a1", 4)
    _answer(aws, "sv-new", 2, at="2026-03-10T11:45:00+08:00")  # 03:45Z: older still
    _answer(aws, "sv-later", 5, at="2026-03-10T11:30:00Z")
    pump.drain()
    assert _rating(_ticket(aws)) == (5, "2026-03-10T11:30:00.000Z", "sv-later", 5)
    assert all(s["dead_lettered"] == 0 for s in pump.stats())


def test_another_members_or_an_unknown_ticket_is_dropped_not_retried(
    aws: Env, no_personal_data_in_logs: list[logging.LogRecord]
) -> None:
    _put_ticket(aws, member="m-2")
    _answer(aws, "sv-x1", 1, member="m-1")  # m-1 rates m-2's ticket
    _answer(aws, "sv-x2", 2, ticket_id="tk_0dead")  # no such ticket
    pump = aws.pump()
    pump.drain()
    assert _delivered(pump) == {"TicketsEvents": 2}
    assert _rating(_ticket(aws)) == (None, None, None, 3)
    assert all(s["dead_lettered"] == 0 for s in pump.stats())
    dropped = {
        (r.__dict__.get("reason"), r.__dict__.get("ticket_id"), r.__dict__.get("event_id"))
        for r in no_personal_data_in_logs
        if r.getMessage() == "csat answer dropped"
    }
    assert dropped == {("other_member", TICKET, "sv-x1"), ("unknown_ticket", "tk_0dead", "sv-x2")}


def test_an_nps_answer_or_one_without_a_ticket_rates_nothing(aws: Env) -> None:
    _put_ticket(aws)
    _answer(aws, "sv-n1", 3, kind="nps")  # a score on the CSAT scale too
    _answer(aws, "sv-n2", 5, ticket_id=None)
    pump = aws.pump()
    pump.drain()
    assert _delivered(pump) == {"TicketsEvents": 2}
    assert _rating(_ticket(aws)) == (None, None, None, 3)


def test_a_survey_record_that_does_not_parse_is_reported_for_a_retry(aws: Env) -> None:
    from infra.definitions import TICKETS_EVENTS
    from infra.local.runtime import invoke

    _put_ticket(aws)
    aws.table("EVENTS_TABLE").put_item(
        Item={  # no member and a time that is none
            "pk": "T#demo#E#bad-s1",
            "sk": "EVENT",
            "kind": "event",
            "tenant_id": "demo",
            "event_id": "bad-s1",
            "type": "survey.answered",
            "channel": "web",
            "occurred_at": "yesterday",
            "received_at": "2026-03-10T09:00:00.000Z",
            "data": {"survey_id": "sv-1", "kind": "csat", "score": 5, "ticket_id": TICKET},
        }
    )
    _answer(aws, "sv-a1", 4)
    pump = aws.pump()
    sub = next(s for s in pump.subscriptions if s.function is TICKETS_EVENTS)
    pump._fetch(sub)
    batch = {"Records": list(sub.buffer)}
    bad = next(r for r in batch["Records"] if r["dynamodb"]["NewImage"]["event_id"] == {"S": "bad-s1"})
    response = invoke(TICKETS_EVENTS, aws.handlers["TicketsEvents"], batch)
    assert response == {"batchItemFailures": [{"itemIdentifier": bad["dynamodb"]["SequenceNumber"]}]}
    assert _rating(_ticket(aws))[:3] == (4, "2026-03-10T11:00:00.000Z", "sv-a1")


def test_a_later_change_of_the_ticket_keeps_which_answer_rated_it(aws: Env) -> None:
    ticket = aws.call("POST", "/v1/tickets", {"subject": "Parcel late", "member_id": "m-1"}).json()
    tid = ticket["ticket_id"]
    aws.call("PATCH", f"/v1/tickets/{tid}", {"status": "resolved"})
    _answer(aws, "sv-a1", 4, at="2026-03-10T11:00:00Z", ticket_id=tid)
    pump = aws.pump()
    pump.drain()
    customer = {"kind": "customer", "author": "m-1", "body": "thanks"}
    assert aws.call("POST", f"/v1/tickets/{tid}/messages", customer).status == 201  # rewrites the ticket
    assert _rating(_ticket(aws, tid))[:3] == (4, "2026-03-10T11:00:00.000Z", "sv-a1")
    _answer(aws, "sv-old", 1, at="2026-03-10T09:30:00Z", ticket_id=tid)  # older: still ignored
    pump.drain()
    assert aws.call("GET", f"/v1/tickets/{tid}").json()["csat"] == 4
