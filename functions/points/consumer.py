"""Stream consumer: credits points for orders. Idempotent per source event."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from loyalty.settings import get_settings
from loyalty.streams import new_image
from loyalty.timeutil import local_day, parse_rfc3339
from points import logic
from points.repository import PointsStore

logger = Logger(service="points")
tracer = Tracer(service="points")
metrics = Metrics(namespace="Loyalty", service="points")
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def handle_record(record: DynamoDBRecord) -> None:
    image = new_image(record)
    if image.get("type") != "order.placed":
        raise ValueError(f"points consumer received unexpected event type {image.get('type')}")
    settings = get_settings()
    occurred = parse_rfc3339(image["occurred_at"])
    entry = logic.earn_for_order(
        tenant_id=image["tenant_id"],
        member_id=image["member_id"],
        event_id=image["event_id"],
        order_id=image["data"]["order_id"],
        total=Decimal(str(image["data"]["total"])),
        occurred_at=image["occurred_at"],
        day=local_day(occurred, settings.tz).isoformat(),
    )
    if entry is None:
        return
    applied = PointsStore(settings.require("loyalty_table")).append(entry)
    metrics.add_metric(
        name="PointsEarned" if applied else "PointsEarnDuplicate", unit=MetricUnit.Count, value=1
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=handle_record, processor=processor, context=context
    )
