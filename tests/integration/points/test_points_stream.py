"""Points credited from the event stream: exact, idempotent under redelivery."""

from __future__ import annotations

import pytest

from tests.conftest import Env, order_event, registration

pytestmark = pytest.mark.integration


def test_order_credits_one_point_per_whole_unit(aws: Env) -> None:
    aws.call(
        "POST",
        "/v1/events",
        {
            "events": [
                registration("r-1", "m-1"),
                order_event("o-1", "m-1", "120.99"),
                order_event("o-2", "m-1", "0.99"),
            ]
        },
    )
    aws.pump().drain()
    member = aws.call("GET", "/v1/members/m-1").json()
    # sign-up bonus 100 and first-order bonus 200 at once; the order's 120 pending for 14 days
    assert member["points"] == {
        "available": 300,
        "pending": 120,
        "held": 0,
        "lifetime_earned": 420,
        "expiring": [],
    }
    assert member["tier"] == "member"
    assert member["stats"]["orders_count"] == 2
    assert member["stats"]["total_spend"] == "121.98"
    assert member["stats"]["average_order_value"] == "60.99"
    assert member["profile"]["email"] == "m-1@example.com"


def test_redelivered_stream_records_never_credit_twice(aws: Env) -> None:
    aws.call("POST", "/v1/events", order_event("o-1", "m-1", "40.00"))
    first = aws.pump()
    first.drain()
    # A second event source mapping reading from the start redelivers every record.
    second = aws.pump()
    second.drain()
    # projector, points, care triggers and the report rollups (the tickets consumer takes
    # only survey answers); the report counters read the loyalty table's changes: the
    # member's stats, balance and two ledger entries
    delivered = {s["function"]: s["delivered"] for s in second.stats()}
    assert delivered == {
        "IngestProjector": 1,
        "PointsEarn": 1,
        "CareTriggers": 1,
        "TicketsEvents": 0,
        "ReportsRollup": 1,
        "ReportsRecords": 4,
    }
    member = aws.call("GET", "/v1/members/m-1").json()
    assert (member["points"]["pending"], member["points"]["available"]) == (40, 200)
    assert member["stats"]["orders_count"] == 1


def test_late_order_does_not_move_last_order_backwards(aws: Env) -> None:
    aws.call("POST", "/v1/events", order_event("o-new", "m-1", "10.00", at="2026-03-09T10:00:00Z"))
    aws.call("POST", "/v1/events", order_event("o-old", "m-1", "10.00", at="2026-02-01T10:00:00Z"))
    aws.pump().drain()
    stats = aws.call("GET", "/v1/members/m-1").json()["stats"]
    assert stats["last_order_at"] == "2026-03-09T10:00:00.000Z"
    assert stats["first_order_at"] == "2026-02-01T10:00:00.000Z"


def test_unknown_member_is_404(aws: Env) -> None:
    response = aws.call("GET", "/v1/members/ghost")
    assert response.status == 404
    assert response.json()["error"]["code"] == "not_found"
    assert aws.call("GET", "/v1/members/bad%20id").status == 400


def test_failed_record_is_retried_then_dead_lettered(aws: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from points import stream as consumer

    aws.call(
        "POST",
        "/v1/events",
        {
            "events": [
                order_event("ok-1", "m-1", "5.00"),
                order_event("bad", "m-2", "5.00"),
                order_event("ok-2", "m-3", "5.00"),
            ]
        },
    )
    original = consumer.logic.order_placed
    calls: list[str] = []

    def flaky(ctx, tenant, member, order_id, *args):  # type: ignore[no-untyped-def]
        calls.append(order_id.removeprefix("o-"))
        if order_id == "o-bad":
            raise RuntimeError("simulated failure")
        return original(ctx, tenant, member, order_id, *args)

    monkeypatch.setattr(consumer.logic, "order_placed", flaky)
    pump = aws.pump()
    pump.drain()
    stats = {s["function"]: s for s in pump.stats()}
    assert stats["PointsEarn"]["dead_lettered"] == 0  # no pointer-only message: nothing lost
    assert calls.count("bad") == 4  # first attempt + 3 retries, then kept whole
    assert calls.count("ok-1") == 1  # checkpointed before the failure, never re-applied
    sqs = aws.session.client("sqs")
    url = sqs.get_queue_url(QueueName="PointsEarn-dlq")["QueueUrl"]
    (raw,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    message = json.loads(raw["Body"])
    assert message["record"]["dynamodb"]["NewImage"]["event_id"] == {"S": "bad"}
    assert message["error"] == {"type": "RuntimeError", "message": "simulated failure"}
    assert aws.call("GET", "/v1/members/m-1").json()["points"]["pending"] == 5
    assert aws.call("GET", "/v1/members/m-3").json()["points"]["pending"] == 5  # the rest of the batch
    assert aws.call("GET", "/v1/members/m-2").status == 200  # profile stats still projected
    assert aws.call("GET", "/v1/members/m-2").json()["points"]["pending"] == 0
