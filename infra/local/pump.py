"""Delivers DynamoDB stream records to the stream handlers like Lambda's event
source mapping does: event filters, batch size, partial batch responses
(batchItemFailures), retries from the first failed record, and after the last
retry an on-failure record sent to the function's dead-letter queue."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from infra.definitions import FunctionDef, StreamSourceDef
from infra.local.runtime import Handler, invoke


def matches(source: StreamSourceDef, record: dict[str, Any]) -> bool:
    """Lambda event filtering: the record's eventName and the new image's ``type`` /
    ``kind`` string attributes."""
    if source.event_names and record.get("eventName") not in source.event_names:
        return False
    image = record.get("dynamodb", {}).get("NewImage") or {}
    if source.event_types and image.get("type", {}).get("S") not in source.event_types:
        return False
    return not (source.kinds and image.get("kind", {}).get("S") not in source.kinds)


@dataclass
class Subscription:
    function: FunctionDef
    handler: Handler
    stream_arn: str
    dlq_url: str
    iterator: str | None = None
    buffer: deque[dict[str, Any]] = field(default_factory=deque)
    attempts: int = 0  # failed deliveries of the batch at the head of the buffer
    delivered: int = 0
    dead_lettered: int = 0


class StreamPump:
    def __init__(self, session: Any, clock: Callable[[], datetime]) -> None:
        self._streams = session.client("dynamodbstreams")
        self._sqs = session.client("sqs")
        self._clock = clock
        self._lock = threading.RLock()
        self.subscriptions: list[Subscription] = []

    def subscribe(self, function: FunctionDef, handler: Handler, stream_arn: str, dlq_url: str) -> None:
        self.subscriptions.append(Subscription(function, handler, stream_arn, dlq_url))

    def _fetch(self, sub: Subscription) -> int:
        if sub.iterator is None:
            shards = self._streams.describe_stream(StreamArn=sub.stream_arn)["StreamDescription"]["Shards"]
            sub.iterator = self._streams.get_shard_iterator(
                StreamArn=sub.stream_arn, ShardId=shards[0]["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
        fetched = 0
        while True:
            page = self._streams.get_records(ShardIterator=sub.iterator, Limit=1000)
            sub.iterator = page["NextShardIterator"]
            records = page["Records"]
            fetched += len(records)
            assert sub.function.stream is not None
            sub.buffer.extend(self._lambda_record(r, sub) for r in records if matches(sub.function.stream, r))
            if len(records) < 1000:
                return fetched

    def _lambda_record(self, record: dict[str, Any], sub: Subscription) -> dict[str, Any]:
        dynamodb = dict(record["dynamodb"])
        dynamodb["ApproximateCreationDateTime"] = int(self._clock().timestamp())
        return {
            "eventID": record["eventID"],
            "eventName": record["eventName"],
            "eventVersion": record.get("eventVersion", "1.1"),
            "eventSource": "aws:dynamodb",
            "awsRegion": record.get("awsRegion", "eu-central-1"),
            "dynamodb": dynamodb,
            "eventSourceARN": sub.stream_arn,
        }

    def _deliver(self, sub: Subscription) -> int:
        """Deliver one batch from the head of the buffer; return records consumed."""
        assert sub.function.stream is not None
        batch = [sub.buffer[i] for i in range(min(len(sub.buffer), sub.function.stream.batch_size))]
        try:
            response = invoke(sub.function, sub.handler, {"Records": batch}) or {}
            failures = [f["itemIdentifier"] for f in response.get("batchItemFailures", [])]
        except Exception:  # noqa: BLE001 - a function error fails the whole batch, as in Lambda
            failures = [batch[0]["dynamodb"]["SequenceNumber"]]
        sequence = [r["dynamodb"]["SequenceNumber"] for r in batch]
        if not failures:
            for _ in batch:
                sub.buffer.popleft()
            sub.attempts = 0
            sub.delivered += len(batch)
            return len(batch)
        first_failed = min(sequence.index(f) if f in sequence else 0 for f in failures)
        for _ in range(first_failed):  # checkpoint everything before the first failure
            sub.buffer.popleft()
        sub.delivered += first_failed
        sub.attempts += 1
        if sub.attempts <= sub.function.stream.max_retries:
            return first_failed
        failed = batch[first_failed:]
        self._dead_letter(sub, failed)
        for _ in failed:
            sub.buffer.popleft()
        sub.attempts = 0
        sub.dead_lettered += len(failed)
        return len(batch)

    def _dead_letter(self, sub: Subscription, failed: list[dict[str, Any]]) -> None:
        """The on-failure record Lambda sends for a stream batch (metadata, not the records)."""
        assert sub.function.stream is not None
        now = self._clock().isoformat()
        message = {
            "requestContext": {
                "requestId": failed[0]["eventID"],
                "functionArn": f"arn:aws:lambda:eu-central-1:123456789012:function:{sub.function.logical_id}",
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": sub.function.stream.max_retries + 1,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "version": "1.0",
            "timestamp": now,
            "DDBStreamBatchInfo": {
                "shardId": "local",
                "startSequenceNumber": failed[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": failed[-1]["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": now,
                "approximateArrivalOfLastRecord": now,
                "batchSize": len(failed),
                "streamArn": sub.stream_arn,
            },
        }
        self._sqs.send_message(QueueUrl=sub.dlq_url, MessageBody=json.dumps(message))

    def pump_once(self) -> int:
        """Fetch new records and deliver what is buffered; return records handled."""
        with self._lock:
            handled = 0
            for sub in self.subscriptions:
                self._fetch(sub)
                while sub.buffer:
                    handled += max(1, self._deliver(sub))
            return handled

    def drain(self, max_rounds: int = 1000) -> int:
        """Pump until a full round finds nothing new (handlers may write more records)."""
        total = 0
        for _ in range(max_rounds):
            handled = self.pump_once()
            total += handled
            if handled == 0:
                return total
        raise RuntimeError("stream pump did not go idle")

    def stats(self) -> list[dict[str, Any]]:
        return [
            {"function": s.function.logical_id, "delivered": s.delivered, "dead_lettered": s.dead_lettered}
            for s in self.subscriptions
        ]
