"""Helpers for DynamoDB stream consumers (paired with a Powertools BatchProcessor
that parses each record with a model, e.g. ``loyalty.events.records.EventRecord``).

:func:`consume` runs a record handler over a batch with partial batch responses
and keeps every record that keeps failing, whole, whether the handler raised or
the record did not parse into the model: each failure of a record is
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
from typing import Any, TypeVar

from aws_lambda_powertools.utilities.batch import BatchProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from pydantic import BaseModel, ValidationError

from loyalty import aws, keys
from loyalty.commit import optimistic
from loyalty.settings import get_settings

H = TypeVar("H")

FAILURE_TTL_SECONDS = 2 * 24 * 3600  # longer than a stream record's 24 h retention
DEAD_LETTER_VERSION = "loyalty.dead-letter/1"


def _count_failure(table: str, function: str, event_id: str) -> int:
    """One more failed attempt of a stream record; returns the attempts so far."""
    attributes = aws.table(table).update_item(
        Key=keys.stream_failure_key(function, event_id),
        UpdateExpression="ADD attempts :one SET expires_at = if_not_exists(expires_at, :ttl)",
        ExpressionAttributeValues={":one": 1, ":ttl": int(time.time()) + FAILURE_TTL_SECONDS},
        ReturnValues="UPDATED_NEW",
    )["Attributes"]
    return int(attributes["attempts"])


def handler_for(handlers: dict[str, H], event_type: str, consumer: str) -> H:
    """The handler of ``event_type`` in a consumer's table. A type the table lacks
    raises, so the record fails and is retried, then dead-lettered whole: the
    subscription's filter and the table disagree, and nothing is dropped."""
    handler = handlers.get(event_type)
    if handler is None:
        raise ValueError(f"{consumer} received unexpected event type {event_type}")
    return handler


def dead_letter_queue(function: str) -> str:
    settings = get_settings()
    if settings.dead_letter_queue_url:
        return settings.dead_letter_queue_url
    return str(aws.client("sqs").get_queue_url(QueueName=f"{function}-dlq")["QueueUrl"])


def dead_letter_message(function: str, record: dict[str, Any], error: BaseException, attempts: int) -> str:
    """The whole record and why it failed (the error's type and text, which carry
    no personal data: handlers raise with ids, never with profile values, and a
    record that does not parse is described by where it failed, not by its values)."""
    return json.dumps(
        {
            "version": DEAD_LETTER_VERSION,
            "function": function,
            "attempts": attempts,
            "error": {"type": type(error).__name__, "message": _describe(error)[:1000]},
            "record": record,
        },
        default=str,
    )


def _describe(error: BaseException) -> str:
    if isinstance(error, ValidationError):  # where the record failed to parse, not its values
        found = error.errors(include_url=False, include_input=False)
        return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in found)
    return str(error)


def _sequence_number(record: Any) -> str | None:
    """A record's SequenceNumber, parsed by a model or not (Powertools' data class)."""
    change = getattr(record, "dynamodb", None)
    return getattr(change, "SequenceNumber", None) or getattr(change, "sequence_number", None)


def consume(
    event: dict[str, Any],
    context: Any,
    record_handler: Callable[[Any], Any],
    processor: BatchProcessor,
) -> PartialItemFailureResponse:
    """Process a stream batch: partial failures are retried, and a record failing on
    its last attempt is dead-lettered whole (then the batch moves past it).

    ``processor`` parses each record with its model before ``record_handler`` sees
    it. A record that does not parse never reaches the handler, yet is a failure
    like one the handler raises: counted, reported for a retry, and after the last
    one dead-lettered whole, as it was delivered."""
    settings = get_settings()
    function = str(getattr(context, "function_name", "unknown"))
    replay = bool(event.get("redrive"))  # infra.redrive: a failure is reported, not dead-lettered again
    delivered = {(r.get("dynamodb") or {}).get("SequenceNumber"): r for r in event.get("Records") or []}

    def dead_lettered(record: Any, error: BaseException) -> bool:
        """Count one more failure of the record: True when it was dead-lettered (the
        batch moves past it), False when Lambda is to deliver it again."""
        if replay:
            return False
        raw = getattr(record, "raw_event", None) or delivered.get(_sequence_number(record)) or {}
        table = settings.require("loyalty_table")
        event_id = str(raw.get("eventID") or "")
        attempts = optimistic(lambda: _count_failure(table, function, event_id))
        if attempts <= settings.stream_max_retries:
            return False  # reported in batchItemFailures: Lambda delivers it again
        body = dead_letter_message(function, raw, error, attempts)
        url = dead_letter_queue(function)
        optimistic(lambda: aws.client("sqs").send_message(QueueUrl=url, MessageBody=body))
        return True

    def guarded(record: Any) -> None:
        try:
            record_handler(record)
        except Exception as err:
            if not dead_lettered(record, err):
                raise

    records = {key: value for key, value in event.items() if key != "redrive"}
    response = process_partial_response(
        event=records, record_handler=guarded, processor=processor, context=context
    )
    # Records that did not parse: registered as failed without the handler, and kept
    # as Powertools' data class rather than as the model.
    passed: set[str | None] = set()
    for record, (_, error, _) in zip(processor.fail_messages, processor.exceptions, strict=True):
        if isinstance(record, BaseModel) or error is None:
            continue
        try:
            if dead_lettered(record, error):
                passed.add(_sequence_number(record))
        except Exception:  # noqa: BLE001, S112 - the record stays reported: Lambda delivers it again
            continue
    if passed:
        response["batchItemFailures"] = [
            failure for failure in response["batchItemFailures"] if failure["itemIdentifier"] not in passed
        ]
    return response
