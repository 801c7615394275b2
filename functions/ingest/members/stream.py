"""Stream consumer: projects member events onto the member profile and stats.

Partial batch failures: a record that fails is reported in batchItemFailures and
retried by Lambda, then sent to the dead-letter queue; writes are idempotent."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from ingest.members import projection
from ingest.members.repository import ProfileStore
from loyalty.program import get_program
from loyalty.settings import get_settings
from loyalty.streams import consume, created_at, new_image

logger = Logger(service="ingest")
tracer = Tracer(service="ingest")
metrics = Metrics(namespace="Loyalty", service="ingest")
# A batch whose every record failed is a partial response too (each record is
# retried, then dead-lettered whole by loyalty.streams.consume), never an error.
processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)
ORDER_EVENTS = ("order.placed", "order.refunded", "order.cancelled")


def handle_record(record: DynamoDBRecord) -> None:
    """Profile and stats; registrations and order events also store the member's
    derived state as of the record's creation and when it next changes (the due
    index). An order counts once per order id, and a cancellation or a full refund
    takes it out of the figures again."""
    image = new_image(record)
    store = ProfileStore(get_settings().require("loyalty_table"))
    tenant, member, kind = image["tenant_id"], image["member_id"], image["type"]
    if kind in ("member.registered", "member.updated"):
        changes = projection.profile_changes(image.get("data") or {})
        if kind == "member.registered":
            changes["registered_at"] = image["occurred_at"]
        profile = store.apply_profile(tenant, member, changes, at=image["occurred_at"])
        if kind == "member.registered" and profile and profile.get("registered_at"):
            store.record_registration(
                tenant, member, profile["registered_at"], created_at(record), get_program()
            )
    elif kind in ORDER_EVENTS:
        store.record_order_event(
            tenant, member, kind, image["data"], image["occurred_at"], created_at(record), get_program()
        )
    else:
        raise ValueError(f"projector received unexpected event type {kind}")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return consume(event, context, handle_record, processor)
