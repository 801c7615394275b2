"""Scheduled care rules: birthday greetings, caught up day by day."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from care_rules import logic, repository
from loyalty import jobs, keys, tenants
from loyalty.jobs import ScheduledInvocation
from loyalty.once import deliver_once
from loyalty.settings import get_settings
from loyalty.timeutil import local_day

logger = Logger(service="care_rules")
tracer = Tracer(service="care_rules")
metrics = Metrics(namespace="Loyalty", service="care_rules")

JOB = "birthdays"


class BirthdayRun(BaseModel):
    days: list[str] = []
    sent: int = 0
    skipped: int = 0
    failed: int = 0


def run_birthdays(invocation: ScheduledInvocation) -> BirthdayRun:
    settings = get_settings()
    table = settings.require("loyalty_table")
    today = local_day(invocation.at, settings.tz)
    run = BirthdayRun()
    for tenant in tenants.list_tenants(table):
        last = jobs.last_done_day(table, tenant.tenant_id, JOB)
        done = last
        for day in logic.days_to_process(last, today):
            failures = 0
            for month_day in logic.birthday_keys(day):
                for profile in repository.members_with_birthday(table, tenant.tenant_id, month_day):
                    greeting = logic.greeting_for(tenant.tenant_id, profile, day)
                    if greeting is None:
                        run.skipped += 1
                        continue
                    try:
                        sent = deliver_once(
                            table,
                            keys.member_pk(tenant.tenant_id, greeting.member_id),
                            greeting.claim_key,
                            settings.require("sender_email"),
                            greeting.email,
                            invocation.at,
                        )
                    except Exception:  # noqa: BLE001 - counted, logged, and the run fails below
                        logger.exception("birthday greeting failed", extra={"tenant": tenant.tenant_id})
                        failures += 1
                        continue
                    run.sent += int(sent)
            if failures:
                run.failed += failures
                break  # the marker stays before this day so the next run retries it
            done = day
            run.days.append(f"{tenant.tenant_id}/{day.isoformat()}")
        if done is not None and done != last:
            jobs.mark_done_day(table, tenant.tenant_id, JOB, done, last)
    metrics.add_metric(name="BirthdayGreetingsSent", unit=MetricUnit.Count, value=run.sent)
    if run.failed:
        metrics.add_metric(name="BirthdayGreetingsFailed", unit=MetricUnit.Count, value=run.failed)
        raise jobs.JobFailed(f"{run.failed} birthday greetings failed")
    return run


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_birthdays(jobs.invocation_for(event, JOB)).model_dump()
