"""Stream consumer: the KPI rollups from the event log (ReportsRollup).

Each new order, refund, cancellation, registration and survey answer (the subscription's
filter, ``infra.definitions`` REPORTS_ROLLUP) goes into the counters of the buckets it
changes (``reports.rollups``): once, in any order of arrival, in one transaction per
event. Partial batch failures: a record that fails, or does not parse, is retried, then
sent to the dead-letter queue whole (``loyalty.streams.consume``); ``make redrive``
replays it."""

from __future__ import annotations

from collections.abc import Callable
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
from reports import changes, rollups

logger = logger_for(__name__)
tracer = tracer_for(__name__)
metrics = metrics_for(__name__)
processor = BatchProcessor(
    event_type=EventType.DynamoDBStreams,
    model=EventRecord,  # type: ignore[arg-type]  # see loyalty.events.records
    raise_on_entire_batch_failure=False,
)


def _apply(event: StoredEvent) -> None:
    settings = get_settings()
    ctx = changes.Context(table=settings.require("loyalty_table"), tz=settings.tz, program=get_program())
    if rollups.apply_event(ctx, event) is rollups.Applied.APPLIED:
        metrics.add_metric(name="RollupEventsApplied", unit=MetricUnit.Count, value=1)


# The event types the subscription admits (infra.definitions), each with its handler.
HANDLERS: dict[str, Callable[[StoredEvent], None]] = {kind: _apply for kind in sorted(changes.ROLLUP_EVENTS)}


def handle_record(record: EventRecord) -> None:
    event = record.event
    handler_for(HANDLERS, event.type, "reports")(event)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return consume(event, context, handle_record, processor)
