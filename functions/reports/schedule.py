"""Scheduled: the daily KPI report, emailed to each tenant's managers and
stored in the reports bucket. Catches up every day not yet reported.

Each tenant's day is an item of its own (``<day>``): a failing one is recorded,
retried by the next runs and parked after ``jobs.MAX_ATTEMPTS`` of them, while the
tenant's other days and the other tenants go ahead. The tenant's marker moves
through the last day that was reported or parked; a day still to retry stays due,
and the days after it, reported meanwhile, find their delivery claims and are not
sent again."""

from __future__ import annotations

from datetime import date, datetime, timedelta
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
from loyalty.timeutil import local_day
from reports import logic, repository

logger = Logger(service="reports")
tracer = Tracer(service="reports")
metrics = Metrics(namespace="Loyalty", service="reports")

JOB = "daily_report"


class ReportRun(BaseModel):
    reported: list[str] = []  # tenant/day pairs sent (now or by an earlier run)
    failed: int = 0  # tenant days that failed in this run
    parked: int = 0  # of those, days this run parked
    waiting: int = 0  # days another run holds a live claim on: kept due
    tenants_failed: int = 0


def _report_day(
    tenant: Tenant,
    day: date,
    activity: repository.MonthActivity,
    items: jobs.JobItems,
    at: datetime,
    run: ReportRun,
) -> bool:
    """Report one day; True when nothing of it is left to retry (reported or parked)."""
    settings = get_settings()
    item = day.isoformat()
    if items.is_parked(item):
        return True
    try:
        figures = repository.figures_on(day, activity)
        email = logic.render_email(tenant.tenant_id, tenant.name, figures, tenant.manager_emails)
        repository.store_report(
            settings.require("reports_bucket"),
            f"reports/{tenant.tenant_id}/daily/{day.isoformat()}.html",
            email.html or "",
        )
        delivery = deliver(
            settings.require("loyalty_table"),
            keys.job_pk(tenant.tenant_id),
            f"DELIVERY#{JOB}#{day.isoformat()}",
            settings.require("sender_email"),
            email,
            at,
        )
    except Exception as err:  # noqa: BLE001 - recorded per day; the rest go ahead
        failure = items.failed(item, err)
        jobs.log_failure(logger, "daily report failed", failure, day=item)
        return failure.state == jobs.PARKED
    if delivery is Delivery.IN_FLIGHT:
        run.waiting += 1
        return False
    items.succeeded(item)
    run.reported.append(f"{tenant.tenant_id}/{day.isoformat()}")
    return True


def _report_tenant(tenant: Tenant, today: date, at: datetime, run: ReportRun) -> None:
    settings = get_settings()
    loyalty_table = settings.require("loyalty_table")
    last = jobs.last_done_day(loyalty_table, tenant.tenant_id, JOB)
    if last is None:  # first run: reports yesterday only
        last = jobs.begin(loyalty_table, tenant.tenant_id, JOB, today - timedelta(days=2))
    days = logic.days_to_report(last, today)
    if not days:
        return
    items = jobs.JobItems(
        loyalty_table, tenant.tenant_id, JOB, at, first=days[0].isoformat(), last=days[-1].isoformat()
    )
    done, blocked = last, False
    try:
        for month_days in logic.months(days):
            activity = repository.month_activity(
                settings.require("events_table"),
                loyalty_table,
                tenant.tenant_id,
                month_days[0],
                month_days[-1],
            )
            for day in month_days:
                if _report_day(tenant, day, activity, items, at, run) and not blocked:
                    done = day
                else:
                    blocked = True  # later days go ahead, the marker waits for this one
        items.forget_unseen()
    finally:
        run.failed += items.failed_count
        run.parked += items.parked_count
        if done != last:
            jobs.mark_done_day(loyalty_table, tenant.tenant_id, JOB, done, last)


def run_daily_reports(invocation: ScheduledInvocation) -> ReportRun:
    settings = get_settings()
    today = local_day(invocation.at, settings.tz)
    run = ReportRun()
    for tenant in tenants.list_tenants(settings.require("loyalty_table")):
        try:
            _report_tenant(tenant, today, invocation.at, run)
        except Exception as err:  # noqa: BLE001 - one tenant's failure does not stop the others
            jobs.log_tenant_failure(logger, "daily report run failed for a tenant", tenant.tenant_id, err)
            run.tenants_failed += 1
    metrics.add_metric(name="ReportsSent", unit=MetricUnit.Count, value=len(run.reported))
    jobs.finish(run, metrics, "daily reports")
    return run


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_daily_reports(jobs.invocation_for(event, JOB)).model_dump()
