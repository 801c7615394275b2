"""Scheduled: the daily KPI report, emailed to each tenant's managers and
stored in the reports bucket. Catches up every day not yet reported.

A day job of the shared outline (``loyalty.jobs.DayJob``): each tenant's day is an
item of its own (``<day>``): a failing one is recorded, retried by the next runs and
parked after ``jobs.MAX_ATTEMPTS`` of them, while the tenant's other days and the other
tenants go ahead. The tenant's marker moves through the last day that was reported or
parked; a day still to retry, or not reached before the invocation's time ran short,
stays due, and the days after it, reported meanwhile, find their delivery claims and are
not sent again. The activity index is read once per month of the days due."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from loyalty import jobs, keys
from loyalty.jobs import ScheduledInvocation
from loyalty.observability import logger_for, metrics_for, tracer_for
from loyalty.once import Delivery, deliver
from loyalty.settings import get_settings
from loyalty.tenants import Tenant
from reports import logic, repository
from reports.repository import MonthActivity

logger = logger_for(__name__)
tracer = tracer_for(__name__)
metrics = metrics_for(__name__)

JOB = "daily_report"


class ReportRun(jobs.JobRun):
    reported: list[str] = []  # tenant/day pairs sent (now or by an earlier run)
    waiting: int = 0  # days another run holds a live claim on: kept due


class DailyReports(jobs.DayJob[ReportRun, MonthActivity]):
    name = JOB
    item_label = "daily report"
    items_label = "daily reports"

    def __init__(self, invocation: ScheduledInvocation, context: Any = None) -> None:
        super().__init__(invocation, ReportRun(), context=context, logger=logger, metrics=metrics)
        settings = get_settings()
        self.events_table = settings.require("events_table")
        self.bucket = settings.require("reports_bucket")
        self.sender = settings.require("sender_email")

    def days(self, last_done: date | None, today: date) -> list[date]:
        return logic.days_to_report(last_done, today)

    def items_by_day(
        self, tenant: Tenant, days: list[date]
    ) -> Iterator[tuple[date, Iterable[MonthActivity]]]:
        """Each day is its one item, with the activity of its month (read once per month)."""
        for month_days in logic.months(days):
            activity = repository.month_activity(
                self.events_table, self.table, tenant.tenant_id, month_days[0], month_days[-1]
            )
            for day in month_days:
                yield day, [activity]

    def handle(self, tenant: Tenant, day: date, activity: MonthActivity) -> jobs.Outcome:
        figures = logic.day_figures(day, activity.events, activity.records)
        email = logic.render_email(tenant.tenant_id, tenant.name, figures, tenant.manager_emails)
        repository.store_report(
            self.bucket, f"reports/{tenant.tenant_id}/daily/{day.isoformat()}.html", email.html or ""
        )
        delivery = deliver(
            self.table,
            keys.job_pk(tenant.tenant_id),
            f"DELIVERY#{JOB}#{day.isoformat()}",
            self.sender,
            email,
            self.at,
        )
        if delivery is Delivery.IN_FLIGHT:
            self.run.waiting += 1
            return jobs.Outcome.WAITING
        self.run.reported.append(f"{tenant.tenant_id}/{day.isoformat()}")
        return jobs.Outcome.DONE

    def add_metrics(self) -> None:
        self.metrics.add_metric(name="ReportsSent", unit=MetricUnit.Count, value=len(self.run.reported))


def run_daily_reports(invocation: ScheduledInvocation, context: Any = None) -> ReportRun:
    return DailyReports(invocation, context).execute()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_daily_reports(jobs.invocation_for(event, JOB), context).model_dump()
