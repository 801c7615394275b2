"""Stream consumer: the report counters kept from the loyalty table (ReportsRecords).

The loyalty table streams its changes with both images. The subscription's filter
(``infra.definitions`` REPORTS_RECORDS) admits inserts and changes of points ledger
entries, members' stats and balances, tickets, care ledger lines and care tasks; each
record's counters (``reports.record_counts``, ``reports.service``) are added once:
under a marker of the record's sequence number, in the same transaction
(``reports.record_store``), so a redelivered record adds nothing. Partial batch
failures: a record that fails, or does not parse, is retried, then sent to the
dead-letter queue whole (``loyalty.streams.consume``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext
from boto3.dynamodb.types import TypeDeserializer
from pydantic import BaseModel, field_validator

from loyalty.observability import logger_for, metrics_for, tracer_for
from loyalty.program import get_program
from loyalty.settings import get_settings
from loyalty.streams import consume
from reports import record_counts, record_store, service
from reports.orders import Amounts, difference

logger = logger_for(__name__)
tracer = tracer_for(__name__)
metrics = metrics_for(__name__)

_DESERIALIZER = TypeDeserializer()
Image = dict[str, Any]


class ItemChange(BaseModel):
    Keys: dict[str, Any]
    NewImage: dict[str, Any] | None = None
    OldImage: dict[str, Any] | None = None
    SequenceNumber: str

    @field_validator("Keys", "NewImage", "OldImage", mode="before")
    @classmethod
    def _deserialise(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {k: _DESERIALIZER.deserialize(v) for k, v in value.items()}


class ItemRecord(BaseModel):
    eventID: str
    eventName: str
    dynamodb: ItemChange


processor = BatchProcessor(
    event_type=EventType.DynamoDBStreams,
    model=ItemRecord,  # type: ignore[arg-type]  # a plain model of the record, as loyalty.events.records
    raise_on_entire_batch_failure=False,
)

Counter = Callable[[Image | None, Image | None, ZoneInfo], Amounts]


def _ticket(old: Image | None, new: Image | None, tz: ZoneInfo) -> Amounts:
    return difference(service.ticket_counts(new, tz), service.ticket_counts(old, tz))


def _tiers(old: Image | None, new: Image | None, tz: ZoneInfo) -> Amounts:
    return record_counts.tier_counts(old, new, tz, [t.name for t in get_program().points.tiers])


# The item kinds the subscription admits (infra.definitions), each with its counters.
COUNTERS: dict[str, Counter] = {
    "ledger": record_counts.ledger_counts,
    "stats": record_counts.stage_counts,
    "balance": _tiers,
    "care_ledger": record_counts.care_ledger_counts,
    "care_task": record_counts.task_counts,
    "ticket": _ticket,
}


def tenant_of(pk: str) -> str:
    """Every item the subscription admits lives under ``T#<tenant>#...``."""
    prefix, tenant, _ = pk.split("#", 2)
    if prefix != "T" or not tenant:
        raise ValueError("not a tenant's item")
    return tenant


def handle_record(record: ItemRecord) -> None:
    change = record.dynamodb
    image = change.NewImage or change.OldImage or {}
    kind = str(image.get("kind", ""))
    counter = COUNTERS.get(kind)
    if counter is None:
        raise ValueError(f"no report counters for items of kind {kind!r}")
    settings = get_settings()
    counts = counter(change.OldImage, change.NewImage, settings.tz)
    if not counts:
        return
    pk = str(change.Keys["pk"])
    applied = record_store.add_once(
        settings.require("loyalty_table"), tenant_of(pk), pk, change.SequenceNumber, counts
    )
    if applied:
        metrics.add_metric(name="ReportRecordsCounted", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return consume(event, context, handle_record, processor)
