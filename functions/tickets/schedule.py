"""Scheduled every minute: run each ticket's timer when it is due — close a ticket
resolved for seven days, assign a waiting ticket when a shift starts, and send each
escalation notice (warning, breach, managers) once.

A due-index job of the shared outline (``loyalty.jobs.DueJob``): it reads the ticket
timer index up to the schedule time, so its cost grows with the tickets due, not with
all tickets, and a missed run leaves them due for the next one. Each notice's emails are
sent under a claim per notice and locale (``loyalty.once``), and the notice is then
recorded on the ticket with its ``ticket.escalated`` event in one transaction
(``tickets.desk.run_timer``), so a redelivered invocation, an overlapping run or a
retried commit sends nothing twice. A ticket whose timer keeps failing is recorded,
retried by the next runs and parked after ``jobs.MAX_ATTEMPTS`` of them (listed by
``python -m infra.ops failures``), while the other tickets are handled."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from loyalty import jobs, keys
from loyalty.jobs import ScheduledInvocation
from loyalty.observability import logger_for, metrics_for, tracer_for
from loyalty.once import Delivery, deliver
from loyalty.program import get_program
from loyalty.settings import get_settings
from loyalty.tenants import Tenant
from tickets import desk, escalation, layout, logic
from tickets.config_source import service_config
from tickets.domain import Notification, Sla, Ticket
from tickets.repository import TicketStore

logger = logger_for(__name__)
tracer = tracer_for(__name__)
metrics = metrics_for(__name__)

JOB = "escalate"  # the name its schedule, failure records and operations use


class NoticeInFlight(Exception):
    """Another run holds a live claim on one of the notice's emails: left due."""


class TimerRun(jobs.JobRun):
    notices: int = 0
    assigned: int = 0
    closed: int = 0
    waiting: int = 0  # tickets another run holds a live claim on: left due
    unaddressed: int = 0  # notices with nobody to email (no lead, no manager): recorded, event only


class TicketTimers(jobs.DueJob[TimerRun, str]):
    name = JOB
    item_label = "ticket timer"
    items_label = "ticket timers"

    def __init__(self, invocation: ScheduledInvocation, context: Any = None) -> None:
        super().__init__(invocation, TimerRun(), context=context, logger=logger, metrics=metrics)
        settings = get_settings()
        self.store = TicketStore(self.table, settings.require("events_table"))
        self.sender = settings.require("sender_email")
        self.desk = desk.Desk(store=self.store, config=service_config(), tz=settings.tz, now=self.at)
        self.locale = get_program().locale

    def items_of(self, tenant: Tenant) -> Iterable[str]:
        return self.store.timers_due(tenant.tenant_id, self.at)

    def key_of(self, ticket_id: str) -> str:
        return ticket_id

    def log_fields(self, ticket_id: str) -> dict[str, Any]:
        return {"ticket_id": ticket_id}

    def _send(self, tenant: Tenant) -> desk.Send:
        def send(ticket: Ticket, notice: Notification, sla: Sla) -> None:
            staff = self.store.staff_view(tenant.tenant_id).staff
            to = escalation.recipients(
                notice, ticket, staff, tenant.escalation_emails, default_locale=self.locale
            )
            if not to:
                self.run.unaddressed += 1
                return
            by_locale: dict[str, list[str]] = defaultdict(list)
            for address, locale in to:
                by_locale[locale].append(address)
            calendar = self.desk.config.calendar(logic.applied_policy(ticket, self.desk.config).calendar)
            for locale, addresses in sorted(by_locale.items()):
                message = escalation.email(ticket, notice, addresses, locale, sla=sla, calendar=calendar)
                pk = keys.ticket_pk(ticket.tenant_id, ticket.ticket_id)
                sk = layout.claim_sk(f"{notice.claim}#{locale}")
                if deliver(self.table, pk, sk, self.sender, message, self.at) is Delivery.IN_FLIGHT:
                    raise NoticeInFlight(ticket.ticket_id)

        return send

    def handle(self, tenant: Tenant, ticket_id: str) -> jobs.Outcome:
        try:
            result = desk.run_timer(
                self.desk,
                tenant.tenant_id,
                ticket_id,
                self._send(tenant),
                desk.owner_for(self.store, tenant.tenant_id),
            )
        except NoticeInFlight:
            self.run.waiting += 1
            return jobs.Outcome.WAITING
        self.run.notices += result.notices
        self.run.assigned += int(result.assigned)
        self.run.closed += int(result.closed)
        return jobs.Outcome.DONE

    def add_metrics(self) -> None:
        self.metrics.add_metric(name="TicketNotices", unit=MetricUnit.Count, value=self.run.notices)
        self.metrics.add_metric(name="TicketsAssigned", unit=MetricUnit.Count, value=self.run.assigned)
        self.metrics.add_metric(name="TicketsClosed", unit=MetricUnit.Count, value=self.run.closed)


def run_timers(invocation: ScheduledInvocation, context: Any = None) -> TimerRun:
    return TicketTimers(invocation, context).execute()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_timers(jobs.invocation_for(event, JOB), context).model_dump()
