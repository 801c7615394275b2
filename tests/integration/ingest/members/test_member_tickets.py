"""The member's tickets as the member functions see them: the view's ``open_tickets``
counts the ticket markers not yet done, and an erasure blanks every text of the
member's tickets (subject, description, message and legacy reply bodies, customer
authors) and moves the ticket's version on. Items are written with the ticket keys
(``tickets.layout``), as the ticket functions store them."""

from __future__ import annotations

from typing import Any, get_args

import pytest

from ingest.members import erasure, view
from loyalty import keys
from tests.conftest import Env, personal, registration
from tickets import domain, layout

pytestmark = pytest.mark.integration

MEMBER = "m-1"
CUSTOMER_NAME = personal("Zqmark Customer")


def _table(aws: Env) -> Any:
    return aws.table("LOYALTY_TABLE")


def _marker(aws: Env, ticket_id: str, status: str | None) -> None:
    item: dict[str, Any] = {
        "pk": keys.member_pk("demo", MEMBER),
        "sk": keys.ticket_marker_sk(ticket_id),
        "ticket_id": ticket_id,
        "member_id": MEMBER,
        "priority": "normal",
        "queue": "service",
    }
    if status is not None:
        item["status"] = status
    _table(aws).put_item(Item=item)


def _ticket(aws: Env, ticket_id: str, version: int = 5) -> str:
    pk = keys.ticket_pk("demo", ticket_id)
    _table(aws).put_item(
        Item={
            "pk": pk,
            "sk": layout.TICKET_SK,
            "tenant_id": "demo",
            "ticket_id": ticket_id,
            "member_id": MEMBER,
            "subject": "zqmark subject",
            "description": "zqmark description",
            "status": "open",
            "priority": "normal",
            "created_at": "2026-03-09T08:00:00.000Z",
            "version": version,
        }
    )
    return pk


def _message(aws: Env, pk: str, at: str, message_id: str, kind: str, author: str) -> str:
    sk = layout.message_sk(at, message_id)
    _table(aws).put_item(
        Item={
            "pk": pk,
            "sk": sk,
            "message_id": message_id,
            "kind": kind,
            "author": author,
            "body": f"zqmark {kind} body",
            "at": at,
        }
    )
    return sk


def _item(aws: Env, pk: str, sk: str) -> dict[str, Any]:
    return dict(_table(aws).get_item(Key={"pk": pk, "sk": sk}, ConsistentRead=True)["Item"])


def test_open_tickets_counts_markers_not_yet_resolved_or_closed(aws: Env) -> None:
    assert aws.call("POST", "/v1/events", registration("r-1", MEMBER)).status == 202
    aws.pump().drain()
    for ticket_id, status in (
        ("tk_01", "new"),
        ("tk_02", "open"),
        ("tk_03", "pending"),
        ("tk_04", "on_hold"),
        ("tk_05", "resolved"),
        ("tk_06", "closed"),
        ("tk_07", None),  # a marker written before markers carried a status: open
    ):
        _marker(aws, ticket_id, status)
    assert aws.call("GET", f"/v1/members/{MEMBER}").json()["open_tickets"] == 5


def test_the_view_knows_the_ticket_statuses_that_are_done() -> None:
    assert view.TICKET_DONE_STATUSES == domain.DONE_STATUSES
    assert keys.TICKET_MESSAGE_PREFIX == layout.MESSAGE_PREFIX
    assert keys.TICKET_REPLY_PREFIX == layout.LEGACY_REPLY_PREFIX
    assert keys.TICKET_SK == layout.TICKET_SK
    assert erasure.CUSTOMER_KIND in get_args(domain.MessageKind)


def test_erasure_blanks_every_ticket_text_and_moves_the_version_on(aws: Env) -> None:
    _marker(aws, "tk_0a", "open")
    pk = _ticket(aws, "tk_0a", version=5)
    customer = _message(aws, pk, "2026-03-09T08:00:00.000Z", "mg1", "customer", CUSTOMER_NAME)
    reply = _message(aws, pk, "2026-03-09T09:00:00.000Z", "mg2", "reply", "agent-7")
    note = _message(aws, pk, "2026-03-09T09:05:00.000Z", "mg3", "note", "agent-7")
    legacy = "REPLY#2026-03-09T08:30:00.000Z#r1"
    _table(aws).put_item(Item={"pk": pk, "sk": legacy, "author": "agent-3", "body": "zqmark legacy reply"})
    other = _ticket(aws, "tk_0b")  # no marker of this member: not theirs
    kept = _message(aws, other, "2026-03-09T08:00:00.000Z", "mg9", "customer", "someone")

    assert aws.call("DELETE", f"/v1/members/{MEMBER}").status == 204

    ticket = _item(aws, pk, layout.TICKET_SK)
    assert (ticket["subject"], ticket["description"], ticket["erased"], ticket["version"]) == (
        erasure.ERASED_SUBJECT,
        "",
        True,
        6,
    )
    assert ticket["status"] == "open"  # the workflow is kept
    for sk, author in ((customer, ""), (reply, "agent-7"), (note, "agent-7"), (legacy, "agent-3")):
        item = _item(aws, pk, sk)
        assert (item["body"], item["author"], item["erased"]) == ("", author, True), sk
    assert _item(aws, pk, customer)["kind"] == "customer"
    untouched = _item(aws, other, kept)
    assert (untouched["body"], untouched["author"]) == ("zqmark customer body", "someone")
    assert _item(aws, other, layout.TICKET_SK)["subject"] == "zqmark subject"


def test_a_repeated_erasure_rewrites_no_text_and_a_marker_without_ticket_is_skipped(aws: Env) -> None:
    _marker(aws, "tk_0a", "resolved")
    _marker(aws, "tk_0gone", "open")  # its ticket is not there
    pk = _ticket(aws, "tk_0a", version=2)
    customer = _message(aws, pk, "2026-03-09T08:00:00.000Z", "mg1", "customer", CUSTOMER_NAME)
    assert erasure.erase_tickets(aws.env["LOYALTY_TABLE"], "demo", MEMBER) == 1
    first = _item(aws, pk, customer)
    assert erasure.erase_tickets(aws.env["LOYALTY_TABLE"], "demo", MEMBER) == 1
    assert _item(aws, pk, customer) == first
    assert _item(aws, pk, layout.TICKET_SK)["version"] == 4  # each erasure moves it on
    assert (
        aws.table("LOYALTY_TABLE")
        .get_item(Key={"pk": keys.ticket_pk("demo", "tk_0gone"), "sk": layout.TICKET_SK})
        .get("Item")
        is None
    )  # nothing created for the missing ticket


def test_a_ticket_write_racing_the_erasure_fails_its_version_condition(aws: Env) -> None:
    """A ticket change conditioned on the version it read before the erasure is refused
    after it: the writer re-reads and sees ``erased``."""
    from botocore.exceptions import ClientError

    _marker(aws, "tk_0a", "open")
    pk = _ticket(aws, "tk_0a", version=5)
    read = _item(aws, pk, layout.TICKET_SK)["version"]
    erasure.erase_tickets(aws.env["LOYALTY_TABLE"], "demo", MEMBER)
    with pytest.raises(ClientError) as refused:
        _table(aws).update_item(
            Key={"pk": pk, "sk": layout.TICKET_SK},
            UpdateExpression="SET subject = :s ADD version :one",
            ConditionExpression="version = :read",
            ExpressionAttributeValues={":s": "zqmark again", ":one": 1, ":read": read},
        )
    assert refused.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert _item(aws, pk, layout.TICKET_SK)["erased"] is True
