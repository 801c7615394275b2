"""A stream record whose image is not a stored event is a failed record like any
other: reported for a retry (never a crash of the batch, never dropped), then
dead-lettered whole by each consumer, while the rest of the stream is applied."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import pytest

from infra.definitions import FUNCTIONS, dead_letter_queue_name
from infra.local.runtime import invoke
from infra.redrive import redrive_queue
from loyalty.streams import DEAD_LETTER_VERSION
from tests.conftest import Env, order_event

pytestmark = pytest.mark.integration

# An order without a member and with a time that is none: its type passes the filter of
# every consumer of the event log that takes orders.
CONSUMERS = [
    fn
    for fn in FUNCTIONS
    if fn.stream is not None
    and fn.stream.table == "EventsTable"
    and (not fn.stream.event_types or "order.placed" in fn.stream.event_types)
]
MALFORMED = {
    "pk": "T#demo#E#bad-1",
    "sk": "EVENT",
    "kind": "event",
    "tenant_id": "demo",
    "event_id": "bad-1",
    "type": "order.placed",
    "channel": "web",
    "occurred_at": "yesterday",
    "received_at": "2026-03-10T09:00:00.000Z",
    "data": {"order_id": "o-bad", "currency": "CNY", "total": "10.00"},
}


def _messages(aws: Env, fn: Any) -> list[dict[str, Any]]:
    sqs = aws.session.client("sqs")
    url = sqs.get_queue_url(QueueName=dead_letter_queue_name(fn))["QueueUrl"]
    found = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    return [json.loads(m["Body"]) for m in found.get("Messages", [])]


def test_an_unparsed_record_is_reported_not_a_crash(aws: Env) -> None:
    aws.table("EVENTS_TABLE").put_item(Item=MALFORMED)
    assert aws.call("POST", "/v1/events", order_event("g-1", "m-good", "30.00")).status == 202
    pump = aws.pump()
    for fn in CONSUMERS:
        sub = next(s for s in pump.subscriptions if s.function is fn)
        pump._fetch(sub)
        batch = {"Records": list(sub.buffer)}
        bad = next(r for r in batch["Records"] if r["dynamodb"]["NewImage"]["event_id"] == {"S": "bad-1"})
        response = invoke(fn, aws.handlers[fn.logical_id], batch)
        assert response == {"batchItemFailures": [{"itemIdentifier": bad["dynamodb"]["SequenceNumber"]}]}
    member = aws.call("GET", "/v1/members/m-good").json()
    assert (member["stats"]["orders_count"], member["points"]["pending"]) == (1, 30)


def test_an_unparsed_record_is_dead_lettered_whole_after_its_retries(aws: Env) -> None:
    aws.table("EVENTS_TABLE").put_item(Item=MALFORMED)
    assert aws.call("POST", "/v1/events", order_event("g-1", "m-good", "30.00")).status == 202
    pump = aws.pump()
    pump.drain()
    assert all(s["dead_lettered"] == 0 for s in pump.stats())  # no pointer-only message: kept whole
    for fn in CONSUMERS:
        (message,) = _messages(aws, fn)
        assert message["version"] == DEAD_LETTER_VERSION
        assert message["attempts"] == fn.stream.max_retries + 1  # type: ignore[union-attr]
        assert message["error"]["type"] == "ValidationError"
        assert "member_id" in message["error"]["message"] and "yesterday" not in message["error"]["message"]
        image = message["record"]["dynamodb"]["NewImage"]
        assert image["event_id"] == {"S": "bad-1"} and image["occurred_at"] == {"S": "yesterday"}
        # A replay of a record that still does not parse reports it and leaves it queued.
        sqs = aws.session.client("sqs")
        url = sqs.get_queue_url(QueueName=dead_letter_queue_name(fn))["QueueUrl"]
        replay = redrive_queue(sqs, url, partial(invoke, fn, aws.handlers[fn.logical_id]))
        assert (replay.replayed, replay.still_failing) == (0, 1)
    member = aws.call("GET", "/v1/members/m-good").json()
    assert (member["stats"]["orders_count"], member["points"]["pending"]) == (1, 30)
