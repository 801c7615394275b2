"""Scheduled: escalate tickets whose first response is overdue, once each."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from loyalty import jobs, keys, tenants
from loyalty.jobs import ScheduledInvocation
from loyalty.once import deliver_once
from loyalty.settings import get_settings
from loyalty.timeutil import iso, local_day
from tickets import logic
from tickets.repository import TicketStore

logger = Logger(service="tickets")
tracer = Tracer(service="tickets")
metrics = Metrics(namespace="Loyalty", service="tickets")

JOB = "escalate"


class EscalationRun(BaseModel):
    escalated: int = 0
    failed: int = 0


def run_escalations(invocation: ScheduledInvocation) -> EscalationRun:
    settings = get_settings()
    table = settings.require("loyalty_table")
    now = invocation.at
    store = TicketStore(table)
    run = EscalationRun()
    for tenant in tenants.list_tenants(table):
        for ticket in store.overdue(tenant.tenant_id, iso(now)):
            if not logic.is_overdue(ticket, now):
                continue
            try:
                deliver_once(
                    table,
                    keys.ticket_pk(ticket.tenant_id, ticket.ticket_id),
                    "DELIVERY#escalation",
                    settings.require("sender_email"),
                    logic.escalation_email(ticket, tenant.escalation_emails),
                    now,
                )
            except Exception:  # noqa: BLE001 - counted, logged, and the run fails below
                logger.exception("escalation email failed", extra={"ticket_id": ticket.ticket_id})
                run.failed += 1
                continue
            if store.mark_escalated(ticket, iso(now), local_day(now, settings.tz).isoformat()):
                run.escalated += 1
    metrics.add_metric(name="TicketsEscalated", unit=MetricUnit.Count, value=run.escalated)
    if run.failed:
        raise jobs.JobFailed(f"{run.failed} escalations failed")
    return run


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_escalations(jobs.invocation_for(event, JOB)).model_dump()
