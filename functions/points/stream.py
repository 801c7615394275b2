"""Stream consumer: earns, claws back and awards bonuses from storefront events.

Partial batch failures: a failing record is reported in batchItemFailures,
retried by Lambda, then sent to the dead-letter queue. Every operation carries
a business key (order, refund, review, referral), so a redelivered record
changes nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from loyalty.program import get_program
from loyalty.settings import get_settings
from loyalty.streams import consume, created_at, new_image
from points import logic
from points.ledger import OrderLine
from points.repository import DynamoLedgerStore

logger = Logger(service="points")
tracer = Tracer(service="points")
metrics = Metrics(namespace="Loyalty", service="points")
# A batch whose every record failed is a partial response too (each record is
# retried, then dead-lettered whole by loyalty.streams.consume), never an error.
processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)


def _context(record: DynamoDBRecord) -> logic.Context:
    settings = get_settings()
    now = created_at(record)
    store = DynamoLedgerStore(
        settings.require("loyalty_table"), settings.require("events_table"), settings.tz
    )
    program = get_program()
    return logic.Context(store, program.points, settings.tz, now, program=program)


def handle_record(record: DynamoDBRecord) -> None:
    image = new_image(record)
    kind, tenant, member, data = (
        image.get("type"),
        image["tenant_id"],
        image["member_id"],
        image.get("data") or {},
    )
    ctx = _context(record)
    bonuses = ctx.rules.bonuses
    if kind == "order.placed":
        lines = [
            OrderLine(item.get("category"), Decimal(str(item["unit_price"])) * int(item["quantity"]))
            for item in data.get("items") or []
        ]
        done = logic.order_placed(
            ctx,
            tenant,
            member,
            data["order_id"],
            Decimal(str(data["total"])),
            lines,
            image["occurred_at"],
            data.get("currency"),
        )
    elif kind == "order.refunded":
        done = logic.order_refunded(
            ctx,
            tenant,
            member,
            data["order_id"],
            data["refund_id"],
            Decimal(str(data["amount"])),
            data.get("currency"),
        )
    elif kind == "order.cancelled":
        done = logic.order_cancelled(ctx, tenant, member, data["order_id"])
    elif kind == "member.registered":
        done = logic.bonus(ctx, tenant, member, "sign-up", "member", bonuses.sign_up, "sign-up bonus")
    elif kind == "review.submitted":
        done = logic.bonus(
            ctx,
            tenant,
            member,
            "review",
            data["review_id"],
            bonuses.review,
            f"review {data['review_id']} bonus",
        )
    elif kind == "referral.completed":
        done = logic.bonus(
            ctx,
            tenant,
            member,
            "referral",
            data["referral_id"],
            bonuses.referral,
            f"referral {data['referral_id']} bonus",
        )
    else:
        raise ValueError(f"points consumer received unexpected event type {kind}")
    metrics.add_metric(
        name="PointsApplied" if done.applied else "PointsDuplicate", unit=MetricUnit.Count, value=1
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return consume(event, context, handle_record, processor)
