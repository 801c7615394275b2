"""Stream consumer: turns new events of the log into care firings.

Every new event of a member is matched against the tenant's enabled care rules
(``care_rules.triggers``): an ``event`` rule gets a firing of its own, due at once; a
``delay`` or ``inactivity`` rule's one firing for the member is armed (or re-armed) by
it; a ``delay`` rule that lists it in ``cancel_on`` stops its waiting firing. Nothing is
sent here: the delivery job (``care_rules.schedule``) takes due firings through the
guards. Every write is conditional (``care_rules.firings``), so a redelivered or
replayed record adds nothing.

A tenant's rules are read once per invocation and kept for :data:`RULES_MAX_AGE`
seconds: a saved rule reaches the consumer within that. The rule set is seeded with the
defaults on the tenant's first event, so an inactivity rule counts from then on.

Partial batch failures: a failing record, or one that does not parse, is retried,
then sent to the dead-letter queue whole (``loyalty.streams.consume``)."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from care_rules import catalog, firings, layout, triggers
from care_rules.ruleset import StoredRule
from loyalty.events.records import EventRecord
from loyalty.events.stored import StoredEvent
from loyalty.observability import logger_for, metrics_for, tracer_for
from loyalty.settings import get_settings
from loyalty.streams import consume
from loyalty.timeutil import iso

logger = logger_for(__name__)
tracer = tracer_for(__name__)
metrics = metrics_for(__name__)
processor = BatchProcessor(
    event_type=EventType.DynamoDBStreams,
    model=EventRecord,  # type: ignore[arg-type]  # see loyalty.events.records
    raise_on_entire_batch_failure=False,
)

RULES_MAX_AGE = 60.0
_RULES: dict[str, tuple[float, list[StoredRule]]] = {}
TRIGGER_OF_SOURCE = {layout.DELAY_SOURCE: "delay", layout.INACTIVE_SOURCE: "inactivity"}


def tenant_rules(table: str, tenant: str, at: Any) -> list[StoredRule]:
    cached = _RULES.get(tenant)
    if cached is not None and time.monotonic() - cached[0] < RULES_MAX_AGE:
        return cached[1]
    found = catalog.rules(table, tenant, at)
    _RULES[tenant] = (time.monotonic(), found)
    return found


def clear_rules_cache() -> None:
    _RULES.clear()


def _apply(table: str, plan: triggers.Plan, event: StoredEvent, now: Any) -> bool:
    anchor = triggers.anchor_key(iso(event.occurred_at), event.event_id)
    if plan.kind == "cancel":
        return firings.cancel(table, event.tenant_id, event.member_id, plan.rule_id, anchor, now)
    assert plan.due_at is not None
    firing = firings.NewFiring(
        tenant=event.tenant_id,
        member=event.member_id,
        rule_id=plan.rule_id,
        version=plan.version,
        trigger=TRIGGER_OF_SOURCE.get(plan.source, "event"),
        source=plan.source,
        instance=triggers.instance(plan.source, event.event_id),
        due_at=max(plan.due_at, now) if plan.kind == "fire" else plan.due_at,
        event_id=event.event_id,
        anchor=anchor,
    )
    if plan.kind == "fire":
        return firings.put_new(table, firing, now)
    return firings.arm(table, firing, now)


def handle_record(record: EventRecord) -> None:
    event = record.event
    if not event.member_id:
        return
    table = get_settings().require("loyalty_table")
    now = record.created_at
    rules = tenant_rules(table, event.tenant_id, now)
    changed = 0
    for plan in triggers.plans(rules, event.type, event.event_id, event.occurred_at):
        changed += int(_apply(table, plan, event, now))
    if changed:
        metrics.add_metric(name="CareFiringsChanged", unit=MetricUnit.Count, value=changed)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return consume(event, context, handle_record, processor)
