"""The privacy map, walked: a member touches every feature with a marker in every
personal and free-text field, is erased, and then no table, bucket, queue or log
holds a marker (docs/data-model.md, "Privacy map")."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import Env, order_event, personal

pytestmark = pytest.mark.integration

MEMBER = "m-privacy"
EMAIL = personal("zqmark.ann@example.com")
NAME = personal("Zqmark Annfield")
PHONE = personal("+8613900000001")
BIRTHDAY = personal("1991-03-10")
MARK = "zqmark"  # in every free text too


def _event(
    event_id: str, kind: str, data: dict[str, Any], at: str = "2026-03-10T10:00:00Z"
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": kind,
        "occurred_at": at,
        "member_id": MEMBER,
        "channel": "web",
        "data": data,
    }


def _touch_everything(aws: Env) -> None:
    consent = {"email": {"granted": True, "at": "2026-03-01T09:00:00Z", "source": "web"}}
    events = [
        _event(
            "p-reg",
            "member.registered",
            {"email": EMAIL, "name": NAME, "birthday": BIRTHDAY, "consent": consent},
            at="2026-03-01T09:00:00Z",
        ),
        _event("p-upd", "member.updated", {"phone": PHONE, "locale": "zh-CN"}),
        {**order_event("p-o1", MEMBER, "120.00"), "member_id": MEMBER},
        _event(
            "p-rev", "review.submitted", {"review_id": "rv-1", "rating": 4, "text": f"{MARK} review text"}
        ),
        _event(
            "p-srv",
            "survey.answered",
            {"survey_id": "sv-1", "kind": "nps", "score": 9, "comment": f"{MARK} survey comment"},
        ),
        _event(
            "p-page",
            "page.viewed",
            {
                "url": f"https://shop.example/p/42?email={MARK}%40example.com",
                "title": f"{MARK} page title",
                "referrer": f"https://search.example/?q={MARK}",
            },
        ),
    ]
    assert aws.call("POST", "/v1/events", {"events": events}).status == 200
    refund = {"order_id": "o-p-o1", "refund_id": "rf-1", "amount": "20.00"}
    assert aws.call("POST", "/v1/events", _event("p-rf", "order.refunded", refund)).status == 202
    aws.pump().drain()
    assert aws.call("PUT", f"/v1/members/{MEMBER}", {"name": NAME}).status == 200
    ticket = aws.call(
        "POST",
        "/v1/tickets",
        {"subject": f"{MARK} subject", "description": f"{MARK} description", "member_id": MEMBER},
    ).json()
    reply = {"author": "agent-7", "body": f"{MARK} reply body"}
    assert aws.call("POST", f"/v1/tickets/{ticket['ticket_id']}/replies", reply).status == 201
    assert (
        aws.call("POST", f"/v1/members/{MEMBER}/redemptions", {"redemption_id": "r1", "points": 50}).status
        == 201
    )
    aws.run_job("CareRules", "care_dates", aws.now.replace(hour=0))  # the birthday firing
    aws.run_job("CareRules", "care_deliver", aws.now.replace(hour=8))  # the greeting, its claim and ledger
    assert any(NAME in m.raw_data for m in aws.sent_emails())
    aws.run_job("PointsSweep", "points_sweep", aws.now + timedelta(days=16))
    aws.run_job("MemberRefresh", "refresh_members", aws.now + timedelta(days=16))
    aws.run_job("Reports", "daily_report", aws.now + timedelta(days=1))
    aws.pump().drain()


def _everything_stored(aws: Env) -> str:
    """Every item of every table (a test may Scan; no function does), every object in
    the reports bucket, every message waiting in a queue."""
    dumps = []
    client = aws.session.client("dynamodb")
    for table in client.list_tables()["TableNames"]:
        for page in client.get_paginator("scan").paginate(TableName=table):
            dumps.append(json.dumps(page["Items"]))
    s3 = aws.session.client("s3")
    for bucket in s3.list_buckets()["Buckets"]:
        for obj in s3.list_objects_v2(Bucket=bucket["Name"]).get("Contents", []):
            dumps.append(s3.get_object(Bucket=bucket["Name"], Key=obj["Key"])["Body"].read().decode())
    sqs = aws.session.client("sqs")
    for url in sqs.list_queues().get("QueueUrls", []):
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        dumps.extend(m["Body"] for m in messages.get("Messages", []))
    return "\n".join(dumps)


def test_after_an_erasure_no_marker_is_left_anywhere(
    aws: Env, no_personal_data_in_logs: list[logging.LogRecord]
) -> None:
    _touch_everything(aws)
    before = _everything_stored(aws)
    # The walk can fail: before the erasure every marker is somewhere.
    for marker in (
        EMAIL,
        NAME,
        PHONE,
        BIRTHDAY,
        f"{MARK} review",
        f"{MARK} survey",
        f"{MARK} page",
        "q=zqmark",
    ):
        assert marker in before, marker
    assert f"{MARK} subject" in before and f"{MARK} reply" in before

    assert aws.call("DELETE", f"/v1/members/{MEMBER}").status == 204
    # Events after the erasure bring nothing personal back.
    late = _event("p-late", "member.updated", {"email": EMAIL, "name": NAME}, at="2026-03-10T11:30:00Z")
    answer = aws.call("POST", "/v1/events", late).json()["results"][0]
    assert [w["code"] for w in answer["warnings"]] == ["member_erased"]
    late_review = _event(
        "p-rev2", "review.submitted", {"review_id": "rv-2", "rating": 5, "text": f"{MARK} again"}
    )
    assert aws.call("POST", "/v1/events", late_review).status == 202
    aws.pump().drain()

    after = _everything_stored(aws).lower()
    for marker in (EMAIL, NAME, PHONE, BIRTHDAY, MARK):
        assert marker.lower() not in after, marker
    logs = "\n".join(r.getMessage() + repr(r.__dict__) for r in no_personal_data_in_logs).lower()
    assert MARK not in logs
    # What stays is accounting: the order and its refund, the ledger.
    member = aws.call("GET", f"/v1/members/{MEMBER}").json()
    assert member["erased"] is True and member["stats"]["total_spend"] == "100.00"
    ledger = aws.call("GET", f"/v1/members/{MEMBER}/ledger").json()["entries"]
    assert any(e["type"] == "redeem" for e in ledger)
    timeline = aws.call("GET", f"/v1/members/{MEMBER}/events").json()["events"]
    assert {e["type"] for e in timeline} >= {"order.placed", "review.submitted", "page.viewed"}
