"""A stream record that keeps failing is kept whole after its retries, and a redrive
replays it exactly once."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.definitions import FUNCTIONS, dead_letter_queue_name
from infra.local.runtime import invoke
from infra.redrive import redrive_queue
from loyalty.streams import DEAD_LETTER_VERSION
from tests.conftest import Env, order_event
from tests.faults import Faults

pytestmark = pytest.mark.integration

POINTS_EARN = next(fn for fn in FUNCTIONS if fn.logical_id == "PointsEarn")
BALANCE = {"pk": "T#demo#M#m-poison", "sk": "#BALANCE"}


def _queue(aws: Env) -> str:
    sqs = aws.session.client("sqs")
    return str(sqs.get_queue_url(QueueName=dead_letter_queue_name(POINTS_EARN))["QueueUrl"])


def _messages(aws: Env) -> list[dict[str, Any]]:
    sqs = aws.session.client("sqs")
    found = sqs.receive_message(QueueUrl=_queue(aws), MaxNumberOfMessages=10, VisibilityTimeout=0)
    return [json.loads(m["Body"]) for m in found.get("Messages", [])]


def _replay(aws: Env) -> Any:
    handler = aws.handlers["PointsEarn"]
    return redrive_queue(aws.session.client("sqs"), _queue(aws), lambda e: invoke(POINTS_EARN, handler, e))


def test_a_poisoned_record_is_kept_whole_then_replayed_once(aws: Env) -> None:
    table = aws.table("LOYALTY_TABLE")
    table.put_item(Item={**BALANCE, "version": "not a number"})  # the poison: every attempt fails
    assert aws.call("POST", "/v1/events", order_event("o-1", "m-poison", "70.00")).status == 202
    pump = aws.pump()
    pump.drain()
    earn = next(s for s in pump.stats() if s["function"] == "PointsEarn")
    assert earn["dead_lettered"] == 0  # no pointer-only message: the handler kept the record
    (message,) = _messages(aws)
    stream = POINTS_EARN.stream
    assert stream is not None  # PointsEarn consumes a stream
    assert message["version"] == DEAD_LETTER_VERSION and message["attempts"] == stream.max_retries + 1
    assert message["error"]["type"] == "ValueError"
    image = message["record"]["dynamodb"]["NewImage"]
    assert image["event_id"] == {"S": "o-1"} and image["data"]["M"]["total"] == {"S": "70.00"}

    # A replay of a record that still fails leaves it in the queue.
    assert (_replay(aws).replayed, len(_messages(aws))) == (0, 1)

    table.delete_item(Key=BALANCE)  # the poison fixed
    done = _replay(aws)
    assert (done.replayed, done.still_failing, done.pointers_only) == (1, 0, [])
    points = aws.call("GET", "/v1/members/m-poison").json()["points"]
    assert (points["pending"], points["available"]) == (70, 200)  # the order and the first-order bonus
    assert _messages(aws) == []
    assert _replay(aws).replayed == 0
    pump.drain()
    entries = aws.call("GET", "/v1/members/m-poison/ledger").json()["entries"]
    assert sorted(e["type"] for e in entries) == ["earn", "earn"]  # applied once


def test_a_batch_whose_every_record_fails_is_a_partial_response(aws: Env) -> None:
    events = [order_event("a", "m-1", "10.00"), order_event("b", "m-2", "10.00")]
    assert aws.call("POST", "/v1/events", {"events": events}).status == 200
    pump = aws.pump()
    sub = next(s for s in pump.subscriptions if s.function.logical_id == "PointsEarn")
    pump._fetch(sub)
    batch = {"Records": list(sub.buffer)}
    faults = Faults(rate=1.0, seed=2, functions={"PointsEarn"}, kinds=("throttling",)).install()
    try:
        response = invoke(POINTS_EARN, aws.handlers["PointsEarn"], batch)
    finally:
        faults.uninstall()
    assert response == {
        "batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in batch["Records"]]
    }
