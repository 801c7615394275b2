"""Stream consumer: earns, claws back and awards bonuses from storefront events.

Each record is parsed into the stored event it carries (``EventRecord``) and
applied by the handler of its type (``HANDLERS``). Partial batch failures: a
failing record, or one that does not parse, is reported in batchItemFailures,
retried by Lambda, then sent to the dead-letter queue whole. Every operation
carries a business key (order, refund, review, referral, care grant), so a redelivered
record changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from loyalty.events.records import EventRecord
from loyalty.events.stored import StoredEvent
from loyalty.observability import logger_for, metrics_for, tracer_for
from loyalty.program import get_program
from loyalty.settings import get_settings
from loyalty.streams import consume, handler_for
from loyalty.timeutil import iso
from points import logic
from points.ledger import OrderLine
from points.repository import DynamoLedgerStore

logger = logger_for(__name__)
tracer = tracer_for(__name__)
metrics = metrics_for(__name__)
# A batch whose every record failed is a partial response too (each record is
# retried, then dead-lettered whole by loyalty.streams.consume), never an error.
processor = BatchProcessor(
    event_type=EventType.DynamoDBStreams,
    # Our own model with the parser's record fields, deliberately not a subclass
    # of it (see loyalty.events.records), so outside the declared model types.
    model=EventRecord,  # type: ignore[arg-type]
    raise_on_entire_batch_failure=False,
)


def _context(record: EventRecord) -> logic.Context:
    settings = get_settings()
    store = DynamoLedgerStore(
        settings.require("loyalty_table"), settings.require("events_table"), settings.tz
    )
    program = get_program()
    return logic.Context(store, program.points, settings.tz, record.created_at, program=program)


def _order_placed(ctx: logic.Context, event: StoredEvent) -> logic.Applied:
    data = event.data
    lines = [
        OrderLine(item.get("category"), Decimal(str(item["unit_price"])) * int(item["quantity"]))
        for item in data.get("items") or []
    ]
    return logic.order_placed(
        ctx,
        event.tenant_id,
        event.member_id,
        data["order_id"],
        Decimal(str(data["total"])),
        lines,
        iso(event.occurred_at),
        data.get("currency"),
    )


def _order_refunded(ctx: logic.Context, event: StoredEvent) -> logic.Applied:
    data = event.data
    return logic.order_refunded(
        ctx,
        event.tenant_id,
        event.member_id,
        data["order_id"],
        data["refund_id"],
        Decimal(str(data["amount"])),
        data.get("currency"),
    )


def _order_cancelled(ctx: logic.Context, event: StoredEvent) -> logic.Applied:
    return logic.order_cancelled(ctx, event.tenant_id, event.member_id, event.data["order_id"])


def _registered(ctx: logic.Context, event: StoredEvent) -> logic.Applied:
    points = ctx.rules.bonuses.sign_up
    return logic.bonus(ctx, event.tenant_id, event.member_id, "sign-up", "member", points, "sign-up bonus")


def _review_submitted(ctx: logic.Context, event: StoredEvent) -> logic.Applied:
    review = event.data["review_id"]
    points = ctx.rules.bonuses.review
    return logic.bonus(
        ctx, event.tenant_id, event.member_id, "review", review, points, f"review {review} bonus"
    )


def _referral_completed(ctx: logic.Context, event: StoredEvent) -> logic.Applied:
    referral = event.data["referral_id"]
    points = ctx.rules.bonuses.referral
    return logic.bonus(
        ctx, event.tenant_id, event.member_id, "referral", referral, points, f"referral {referral} bonus"
    )


def _care_points_granted(ctx: logic.Context, event: StoredEvent) -> logic.Applied:
    """Points a care rule grants (``care.points_granted``, stored once per firing and
    action by the care engine): once per grant id."""
    grant = str(event.data["grant_id"])
    points = int(event.data["points"])
    reason = f"care rule {event.data.get('rule_id')}: {event.data.get('reason') or ''}".strip()
    return logic.bonus(ctx, event.tenant_id, event.member_id, "care", grant, points, reason[:200])


# The event types the consumer's subscription admits (infra.definitions), each
# with its handler.
HANDLERS: dict[str, Callable[[logic.Context, StoredEvent], logic.Applied]] = {
    "order.placed": _order_placed,
    "order.refunded": _order_refunded,
    "order.cancelled": _order_cancelled,
    "member.registered": _registered,
    "review.submitted": _review_submitted,
    "referral.completed": _referral_completed,
    "care.points_granted": _care_points_granted,
}


def handle_record(record: EventRecord) -> None:
    event = record.event
    done = handler_for(HANDLERS, event.type, "points consumer")(_context(record), event)
    metrics.add_metric(
        name="PointsApplied" if done.applied else "PointsDuplicate", unit=MetricUnit.Count, value=1
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return consume(event, context, handle_record, processor)
