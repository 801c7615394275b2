"""Helpers for DynamoDB stream consumers (paired with Powertools BatchProcessor).

:func:`consume` runs a record handler over a batch with partial batch responses
and keeps every record that keeps failing, whole: each failure of a record is
counted (an item per stream record, TTL two days); while the count is within
the retries it is reported in ``batchItemFailures`` and Lambda delivers it
again; on the attempt after the last retry the record itself (its images, not
shard pointers, which the stream forgets after 24 hours) is sent to the
function's dead-letter queue with the error, and the batch moves on.
``python -m infra.redrive`` replays such records; every consumer applies a
record at most once (business keys, markers), so a replay is safe."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from loyalty import aws
from loyalty.commit import optimistic
from loyalty.settings import get_settings
from loyalty.timeutil import from_epoch_ms

FAILURE_TTL_SECONDS = 2 * 24 * 3600  # longer than a stream record's 24 h retention
DEAD_LETTER_VERSION = "loyalty.dead-letter/1"


def new_image(record: DynamoDBRecord) -> dict[str, Any]:
    image = record.dynamodb.new_image if record.dynamodb else None
    if not image:
        raise ValueError("stream record without a new image")
    return dict(image)


def created_at(record: DynamoDBRecord) -> datetime:
    """When the stream record was written (ApproximateCreationDateTime, whole
    seconds): a stream consumer's "now"."""
    seconds = record.dynamodb.approximate_creation_date_time if record.dynamodb else None
    if seconds is None:
        raise ValueError("stream record without ApproximateCreationDateTime")
    return from_epoch_ms(seconds * 1000)


def _count_failure(table: str, function: str, event_id: str) -> int:
    """One more failed attempt of a stream record; returns the attempts so far."""
    attributes = aws.table(table).update_item(
        Key={"pk": f"STREAMFAIL#{function}#{event_id}", "sk": "ATTEMPTS"},
        UpdateExpression="ADD attempts :one SET expires_at = if_not_exists(expires_at, :ttl)",
        ExpressionAttributeValues={":one": 1, ":ttl": int(time.time()) + FAILURE_TTL_SECONDS},
        ReturnValues="UPDATED_NEW",
    )["Attributes"]
    return int(attributes["attempts"])


def dead_letter_queue(function: str) -> str:
    settings = get_settings()
    if settings.dead_letter_queue_url:
        return settings.dead_letter_queue_url
    return str(aws.client("sqs").get_queue_url(QueueName=f"{function}-dlq")["QueueUrl"])


def dead_letter_message(function: str, record: dict[str, Any], error: BaseException, attempts: int) -> str:
    """The whole record and why it failed (the error's type and text, which carry
    no personal data: handlers raise with ids, never with profile values)."""
    return json.dumps(
        {
            "version": DEAD_LETTER_VERSION,
            "function": function,
            "attempts": attempts,
            "error": {"type": type(error).__name__, "message": str(error)[:1000]},
            "record": record,
        },
        default=str,
    )


def consume(
    event: dict[str, Any],
    context: Any,
    record_handler: Callable[[DynamoDBRecord], Any],
    processor: BatchProcessor,
) -> PartialItemFailureResponse:
    """Process a stream batch: partial failures are retried, and a record failing on
    its last attempt is dead-lettered whole (then the batch moves past it)."""
    settings = get_settings()
    function = str(getattr(context, "function_name", "unknown"))
    replay = bool(event.get("redrive"))  # infra.redrive: a failure is reported, not dead-lettered again

    def guarded(record: DynamoDBRecord) -> None:
        try:
            record_handler(record)
        except Exception as err:
            if replay:
                raise
            table = settings.require("loyalty_table")
            attempts = optimistic(lambda: _count_failure(table, function, record.event_id or ""))
            if attempts <= settings.stream_max_retries:
                raise  # reported in batchItemFailures: Lambda delivers it again
            body = dead_letter_message(function, record.raw_event, err, attempts)
            url = dead_letter_queue(function)
            optimistic(lambda: aws.client("sqs").send_message(QueueUrl=url, MessageBody=body))

    records = {key: value for key, value in event.items() if key != "redrive"}
    return process_partial_response(
        event=records, record_handler=guarded, processor=processor, context=context
    )
