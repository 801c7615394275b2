"""Scheduled: escalate tickets whose first response is overdue, once each.

A due-index job of the shared outline (``loyalty.jobs.DueJob``): it reads the sparse
SLA index up to the schedule time, so a missed run, or a run that nears the end of its
invocation and stops taking tickets, leaves the rest due for the next run.

Each ticket is an item of its own: a ticket whose escalation fails is recorded,
retried by the next runs and parked after ``jobs.MAX_ATTEMPTS`` of them (it stays
in the SLA index, unescalated, listed by ``python -m infra.ops failures``), while
the other tickets and tenants are escalated."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from loyalty import jobs, keys
from loyalty.jobs import ScheduledInvocation
from loyalty.observability import logger_for, metrics_for, tracer_for
from loyalty.once import Delivery, deliver
from loyalty.settings import get_settings
from loyalty.tenants import Tenant
from loyalty.timeutil import iso, local_day
from tickets import logic
from tickets.logic import Ticket
from tickets.repository import TicketStore

logger = logger_for(__name__)
tracer = tracer_for(__name__)
metrics = metrics_for(__name__)

JOB = "escalate"


class EscalationRun(jobs.JobRun):
    escalated: int = 0
    waiting: int = 0  # tickets another run holds a live claim on: left due


class Escalations(jobs.DueJob[EscalationRun, Ticket]):
    name = JOB
    item_label = "ticket escalation"
    items_label = "escalations"

    def __init__(self, invocation: ScheduledInvocation, context: Any = None) -> None:
        super().__init__(invocation, EscalationRun(), context=context, logger=logger, metrics=metrics)
        settings = get_settings()
        self.store = TicketStore(self.table)
        self.sender = settings.require("sender_email")
        self.day = local_day(self.at, settings.tz).isoformat()

    def items_of(self, tenant: Tenant) -> Iterable[Ticket]:
        return (t for t in self.store.overdue(tenant.tenant_id, iso(self.at)) if logic.is_overdue(t, self.at))

    def key_of(self, ticket: Ticket) -> str:
        return ticket.ticket_id

    def log_fields(self, ticket: Ticket) -> dict[str, Any]:
        return {"ticket_id": ticket.ticket_id}

    def handle(self, tenant: Tenant, ticket: Ticket) -> jobs.Outcome:
        delivery = deliver(
            self.table,
            keys.ticket_pk(ticket.tenant_id, ticket.ticket_id),
            "DELIVERY#escalation",
            self.sender,
            logic.escalation_email(ticket, tenant.escalation_emails),
            self.at,
        )
        if delivery is Delivery.IN_FLIGHT:
            self.run.waiting += 1
            return jobs.Outcome.WAITING
        self.run.escalated += int(self.store.mark_escalated(ticket, iso(self.at), self.day))
        return jobs.Outcome.DONE

    def add_metrics(self) -> None:
        self.metrics.add_metric(name="TicketsEscalated", unit=MetricUnit.Count, value=self.run.escalated)


def run_escalations(invocation: ScheduledInvocation, context: Any = None) -> EscalationRun:
    return Escalations(invocation, context).execute()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_escalations(jobs.invocation_for(event, JOB), context).model_dump()
