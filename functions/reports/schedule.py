"""Scheduled: the daily, weekly and monthly KPI reports (``daily_report`` at 06:30 for
the day before, ``weekly_report`` on Mondays at 07:00 for the ISO week before,
``monthly_report`` on the 1st at 07:00 for the month before, in the program's time
zone), stored in the reports bucket and emailed to each tenant's managers.

Each job is a day job of the shared outline (``loyalty.jobs.DayJob``) whose days are
the starts of the periods due, so a missed run catches up every period since the last
one reported (``reports.periods.periods_due``). Reporting starts on a tenant's first run
of any kind (the ``reports_since`` marker: the day before it); the first run of each
kind reports every period since then. A period's items are its recipients:
the active staff with role ``manager`` who chose the period's kind (default all three),
or, while the staff registry has no manager, the tenant's ``manager_emails`` in the
program's locale; each is emailed in their own locale under a delivery claim of their own, so a repeated or
overlapping run sends nobody a report twice; with no recipient, the one item stores the
report. Each item reads the period's stored report or builds it once
(``reports.reporting``); a failing one is recorded, retried by the next runs and parked
after ``jobs.MAX_ATTEMPTS`` of them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, ClassVar

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from loyalty import jobs, keys
from loyalty.jobs import ScheduledInvocation
from loyalty.observability import logger_for, metrics_for, tracer_for
from loyalty.once import Delivery, deliver
from loyalty.program import get_program
from loyalty.settings import get_settings
from loyalty.staff import Staff
from loyalty.staff.model import settled_locale
from loyalty.staff.repository import list_staff
from loyalty.tenants import Tenant
from loyalty.timeutil import iso
from reports import email, reporting
from reports.periods import Kind, period_of, periods_due

logger = logger_for(__name__)
tracer = tracer_for(__name__)
metrics = metrics_for(__name__)

MAX_MANAGERS = 500  # managers emailed per tenant (one page of the registry)
STORE_ONLY = "store"  # the item of a period nobody receives: the report is stored all the same
SINCE = "reports_since"  # the tenant's first day reported (a job marker of its own)


class ReportRun(jobs.JobRun):
    reported: list[str] = []  # tenant/report_id pairs stored or found stored
    sent: int = 0  # emails sent by this run
    waiting: int = 0  # emails another run holds a live claim on: kept due


@dataclass(frozen=True)
class Recipient:
    key: str  # the staff id, or ``tenant-<n>`` for the tenant's manager addresses (never the address)
    email: str
    locale: str


def recipients(kind: str, managers: list[Staff], tenant: Tenant, program_locale: str) -> list[Recipient]:
    """Who receives a report of ``kind``: the managers who chose it; with no manager on the
    registry, the tenant's manager addresses."""
    if managers:
        return [Recipient(m.staff_id, m.email, m.locale) for m in managers if kind in m.reports]
    locale = settled_locale(program_locale)
    return [Recipient(f"tenant-{n}", address, locale) for n, address in enumerate(tenant.manager_emails)]


class PeriodReports(jobs.DayJob[ReportRun, Recipient | None]):
    kind: ClassVar[Kind]
    item_label = "report"
    items_label = "reports"

    def __init__(self, invocation: ScheduledInvocation, context: Any = None) -> None:
        super().__init__(invocation, ReportRun(), context=context, logger=logger, metrics=metrics)
        settings = get_settings()
        self.bucket = settings.require("reports_bucket")
        self.sender = settings.require("sender_email")
        self.time_zone = settings.program_time_zone
        self.program = get_program()
        self.since = self.today
        self.documents: dict[str, dict[str, Any]] = {}  # the reports this run built or read

    def tenant_pass(self, tenant: Tenant) -> None:
        # Reporting starts for a tenant on its first run of any report kind; a kind whose
        # first run comes later (a weekly or monthly job missed, or not yet due) catches up
        # from there, like any missed run.
        self.since = jobs.begin(self.table, tenant.tenant_id, SINCE, self.today - timedelta(days=1))
        super().tenant_pass(tenant)

    def days(self, last_done: date | None, today: date) -> list[date]:
        if last_done is None:
            last = period_of(self.kind, self.since).previous()
        else:
            last = period_of(self.kind, last_done)
        return [p.start for p in periods_due(self.kind, last, today)]

    def items_by_day(
        self, tenant: Tenant, days: list[date]
    ) -> Iterator[tuple[date, Iterable[Recipient | None]]]:
        managers, _ = list_staff(
            self.table, tenant.tenant_id, role="manager", active=True, limit=MAX_MANAGERS
        )
        found: list[Recipient | None] = list(recipients(self.kind, managers, tenant, self.program.locale))
        for day in days:
            yield day, found or [None]

    def item_key(self, item: Recipient | None) -> str:
        return STORE_ONLY if item is None else item.key

    def context_for(self, tenant: Tenant) -> reporting.Context:
        return reporting.Context(
            table=self.table,
            bucket=self.bucket,
            tenant_id=tenant.tenant_id,
            tenant_name=tenant.name,
            time_zone=self.time_zone,
            program=self.program,
            today=self.today,
            generated_at=iso(self.at),
        )

    def handle(self, tenant: Tenant, day: date, item: Recipient | None) -> jobs.Outcome:
        period = period_of(self.kind, day)
        key = f"{tenant.tenant_id}/{period.report_id}"
        doc = self.documents.get(key)
        if doc is None:  # once per period and run, whatever the number of recipients
            doc = self.documents[key] = reporting.get_or_build(self.context_for(tenant), period)
            self.run.reported.append(key)
        if item is None:
            return jobs.Outcome.DONE
        message = email.render_email(doc, item.locale, [item.email], tenant.tenant_id, tenant.name)
        delivery = deliver(
            self.table,
            keys.job_pk(tenant.tenant_id),
            f"DELIVERY#{self.name}#{day.isoformat()}#{item.key}",
            self.sender,
            message,
            self.at,
        )
        if delivery is Delivery.IN_FLIGHT:
            self.run.waiting += 1
            return jobs.Outcome.WAITING
        if delivery is Delivery.SENT:
            self.run.sent += 1
        return jobs.Outcome.DONE

    def add_metrics(self) -> None:
        self.metrics.add_metric(name="ReportsSent", unit=MetricUnit.Count, value=self.run.sent)


class DailyReports(PeriodReports):
    name = "daily_report"
    kind = "daily"


class WeeklyReports(PeriodReports):
    name = "weekly_report"
    kind = "weekly"


class MonthlyReports(PeriodReports):
    name = "monthly_report"
    kind = "monthly"


JOBS: dict[str, type[PeriodReports]] = {
    job.name: job for job in (DailyReports, WeeklyReports, MonthlyReports)
}


def run_reports(invocation: ScheduledInvocation, context: Any = None) -> ReportRun:
    return JOBS[invocation.job](invocation, context).execute()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    job = str(event.get("job", ""))
    if job not in JOBS:
        raise ValueError(f"this function runs {sorted(JOBS)}, not {job!r}")
    return run_reports(jobs.invocation_for(event, job), context).model_dump()
