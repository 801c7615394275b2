"""Stream consumer: CSAT answers from the event log onto their tickets.

Each ``survey.answered`` record (the subscription's filter, ``infra.definitions``
TICKETS_EVENTS) is parsed into the stored event it carries; one that rates a ticket
(``tickets.csat``: kind ``csat`` with a ``ticket_id``) sets the ticket's ``csat``,
``csat_at`` and ``csat_event_id`` with one conditional write (``tickets.csat_store``):
the latest answer wins, a redelivery or an older answer changes nothing. An answer for
an unknown ticket or another member's ticket is logged (ids only) and dropped, not
retried. Partial batch failures: a record that fails, or does not parse, is retried,
then sent to the dead-letter queue whole (``loyalty.streams.consume``)."""

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
from loyalty.settings import get_settings
from loyalty.streams import consume, handler_for
from tickets import csat, csat_store

logger = logger_for(__name__)
tracer = tracer_for(__name__)
metrics = metrics_for(__name__)
processor = BatchProcessor(
    event_type=EventType.DynamoDBStreams,
    model=EventRecord,  # type: ignore[arg-type]  # see loyalty.events.records
    raise_on_entire_batch_failure=False,
)


def _survey_answered(event: StoredEvent) -> None:
    answer = csat.csat_answer(event)
    if answer is None:
        return  # an NPS answer, or one that rates no ticket
    refused = csat_store.record_answer(get_settings().require("loyalty_table"), answer)
    if refused is None:
        metrics.add_metric(name="TicketCsatRecorded", unit=MetricUnit.Count, value=1)
    elif refused != "not_newer":
        logger.warning(
            "csat answer dropped",
            extra={"reason": refused, "ticket_id": answer.ticket_id, "event_id": answer.event_id},
        )


# The event types the subscription admits (infra.definitions), each with its handler.
HANDLERS: dict[str, Callable[[StoredEvent], None]] = {csat.SURVEY_ANSWERED: _survey_answered}


def handle_record(record: EventRecord) -> None:
    event = record.event
    handler_for(HANDLERS, event.type, "tickets")(event)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return consume(event, context, handle_record, processor)
