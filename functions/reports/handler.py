"""Scheduled: the daily KPI report, emailed to each tenant's managers and
stored in the reports bucket. Catches up every day not yet reported."""

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
from loyalty.timeutil import local_day
from reports import logic, repository

logger = Logger(service="reports")
tracer = Tracer(service="reports")
metrics = Metrics(namespace="Loyalty", service="reports")

JOB = "daily_report"


class ReportRun(BaseModel):
    reported: list[str] = []


def run_daily_reports(invocation: ScheduledInvocation) -> ReportRun:
    settings = get_settings()
    loyalty_table = settings.require("loyalty_table")
    events_table = settings.require("events_table")
    today = local_day(invocation.at, settings.tz)
    run = ReportRun()
    for tenant in tenants.list_tenants(loyalty_table):
        last = jobs.last_done_day(loyalty_table, tenant.tenant_id, JOB)
        done = last
        try:
            days = logic.days_to_report(last, today)
            for figures in repository.figures_for_days(events_table, loyalty_table, tenant.tenant_id, days):
                day = figures.day
                email = logic.render_email(tenant.tenant_id, tenant.name, figures, tenant.manager_emails)
                repository.store_report(
                    settings.require("reports_bucket"),
                    f"reports/{tenant.tenant_id}/daily/{day.isoformat()}.html",
                    email.html or "",
                )
                deliver_once(
                    loyalty_table,
                    keys.job_pk(tenant.tenant_id),
                    f"DELIVERY#{JOB}#{day.isoformat()}",
                    settings.require("sender_email"),
                    email,
                    invocation.at,
                )
                done = day
                run.reported.append(f"{tenant.tenant_id}/{day.isoformat()}")
        finally:
            # One marker write per run: a rerun of a day already sent finds its
            # delivery claim and sends nothing, so advancing late is safe.
            if done is not None and done != last:
                jobs.mark_done_day(loyalty_table, tenant.tenant_id, JOB, done, last)
    metrics.add_metric(name="ReportsSent", unit=MetricUnit.Count, value=len(run.reported))
    return run


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_daily_reports(jobs.invocation_for(event, JOB)).model_dump()
