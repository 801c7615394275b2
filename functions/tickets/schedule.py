"""Scheduled: escalate tickets whose first response is overdue, once each.

Each ticket is an item of its own: a ticket whose escalation fails is recorded,
retried by the next runs and parked after ``jobs.MAX_ATTEMPTS`` of them (it stays
in the SLA index, unescalated, listed by ``python -m infra.ops failures``), while
the other tickets and tenants are escalated."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from loyalty import jobs, keys, tenants
from loyalty.jobs import ScheduledInvocation
from loyalty.once import Delivery, deliver
from loyalty.settings import get_settings
from loyalty.tenants import Tenant
from loyalty.timeutil import iso, local_day
from tickets import logic
from tickets.repository import TicketStore

logger = Logger(service="tickets")
tracer = Tracer(service="tickets")
metrics = Metrics(namespace="Loyalty", service="tickets")

JOB = "escalate"


class EscalationRun(BaseModel):
    escalated: int = 0
    failed: int = 0  # tickets whose escalation failed in this run
    parked: int = 0  # of those, tickets this run parked
    waiting: int = 0  # tickets another run holds a live claim on: left due
    tenants_failed: int = 0


def _escalate_tenant(store: TicketStore, tenant: Tenant, now: datetime, run: EscalationRun) -> None:
    settings = get_settings()
    table = settings.require("loyalty_table")
    items = jobs.JobItems(table, tenant.tenant_id, JOB, now)
    try:
        for ticket in store.overdue(tenant.tenant_id, iso(now)):
            if not logic.is_overdue(ticket, now) or items.is_parked(ticket.ticket_id):
                continue
            try:
                delivery = deliver(
                    table,
                    keys.ticket_pk(ticket.tenant_id, ticket.ticket_id),
                    "DELIVERY#escalation",
                    settings.require("sender_email"),
                    logic.escalation_email(ticket, tenant.escalation_emails),
                    now,
                )
                if delivery is Delivery.IN_FLIGHT:
                    run.waiting += 1
                    continue
                escalated = store.mark_escalated(ticket, iso(now), local_day(now, settings.tz).isoformat())
            except Exception as err:  # noqa: BLE001 - recorded per ticket; the rest go ahead
                failure = items.failed(ticket.ticket_id, err)
                jobs.log_failure(logger, "ticket escalation failed", failure, ticket_id=ticket.ticket_id)
                continue
            items.succeeded(ticket.ticket_id)
            run.escalated += int(escalated)
        items.forget_unseen()  # answered meanwhile: nothing left to escalate
    finally:
        run.failed += items.failed_count
        run.parked += items.parked_count


def run_escalations(invocation: ScheduledInvocation) -> EscalationRun:
    settings = get_settings()
    table = settings.require("loyalty_table")
    store = TicketStore(table)
    run = EscalationRun()
    for tenant in tenants.list_tenants(table):
        try:
            _escalate_tenant(store, tenant, invocation.at, run)
        except Exception as err:  # noqa: BLE001 - one tenant's failure does not stop the others
            jobs.log_tenant_failure(logger, "escalation run failed for a tenant", tenant.tenant_id, err)
            run.tenants_failed += 1
    metrics.add_metric(name="TicketsEscalated", unit=MetricUnit.Count, value=run.escalated)
    jobs.finish(run, metrics, "escalations")
    return run


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_escalations(jobs.invocation_for(event, JOB)).model_dump()
