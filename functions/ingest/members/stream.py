"""Stream consumer: projects member events onto the member profile and stats.

Each record is parsed into the stored event it carries (``EventRecord``) and
applied by the handler of its type (``HANDLERS``). Partial batch failures: a
record that fails, or does not parse, is reported in batchItemFailures and
retried by Lambda, then sent to the dead-letter queue whole; writes are
idempotent."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from ingest.members import projection
from ingest.members.repository import ProfileStore
from loyalty.events.records import EventRecord
from loyalty.events.stored import StoredEvent
from loyalty.observability import logger_for, metrics_for, tracer_for
from loyalty.program import get_program
from loyalty.settings import get_settings
from loyalty.streams import consume, handler_for
from loyalty.timeutil import iso

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


def _store() -> ProfileStore:
    return ProfileStore(get_settings().require("loyalty_table"))


def _profile_changed(event: StoredEvent, now: datetime) -> None:
    """Profile fields, each kept by event time (a late event never overwrites a newer one)."""
    changes = projection.profile_changes(event.data)
    _store().apply_profile(event.tenant_id, event.member_id, changes, at=iso(event.occurred_at))


def _registered(event: StoredEvent, now: datetime) -> None:
    """The profile with its registration time, then the registration on the stats item
    with the member's derived state as of ``now`` (and when it next changes)."""
    store = _store()
    at = iso(event.occurred_at)
    changes = {**projection.profile_changes(event.data), "registered_at": at}
    profile = store.apply_profile(event.tenant_id, event.member_id, changes, at=at)
    if profile and profile.get("registered_at"):
        store.record_registration(
            event.tenant_id, event.member_id, profile["registered_at"], now, get_program()
        )


def _order_changed(event: StoredEvent, now: datetime) -> None:
    """An order counts once per order id; a cancellation or a full refund takes it out
    of the figures again. The derived state is stored as of ``now``."""
    _store().record_order_event(
        event.tenant_id,
        event.member_id,
        event.type,
        event.data,
        iso(event.occurred_at),
        now,
        get_program(),
    )


# The event types the projector's subscription admits (infra.definitions), each
# with its handler; ``now`` is when the stream record was written.
HANDLERS: dict[str, Callable[[StoredEvent, datetime], None]] = {
    "member.registered": _registered,
    "member.updated": _profile_changed,
    "order.placed": _order_changed,
    "order.refunded": _order_changed,
    "order.cancelled": _order_changed,
}


def handle_record(record: EventRecord) -> None:
    event = record.event
    handler_for(HANDLERS, event.type, "projector")(event, record.created_at)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return consume(event, context, handle_record, processor)
