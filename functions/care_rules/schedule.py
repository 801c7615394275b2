"""Scheduled care rules: birthday greetings, caught up day by day.

Each greeting is an item of its own (``<day>#<member>``): a failing one is recorded,
retried by the next runs and parked after ``jobs.MAX_ATTEMPTS`` of them, while the
other members, later days and other tenants go ahead. The tenant's marker moves
through the last day whose greetings were all sent, skipped or parked; a day with
an item still to retry stays due, and its members already greeted find their
delivery claim and are not greeted again."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from care_rules import logic, repository
from loyalty import jobs, keys, tenants
from loyalty.jobs import ScheduledInvocation
from loyalty.once import Delivery, deliver
from loyalty.settings import get_settings
from loyalty.timeutil import local_day

logger = Logger(service="care_rules")
tracer = Tracer(service="care_rules")
metrics = Metrics(namespace="Loyalty", service="care_rules")

JOB = "birthdays"


class BirthdayRun(BaseModel):
    days: list[str] = []  # tenant/day pairs completed (every greeting sent, skipped or parked)
    sent: int = 0
    skipped: int = 0
    failed: int = 0  # greetings that failed in this run
    parked: int = 0  # of those, greetings this run parked
    waiting: int = 0  # greetings another run holds a live claim on: kept due
    tenants_failed: int = 0


def _member_id(profile: dict[str, Any]) -> str:
    return str(profile.get("member_id") or str(profile.get("pk", "")).rsplit("#M#", 1)[-1])


def _greet_day(
    table: str, tenant_id: str, day: date, items: jobs.JobItems, run: BirthdayRun, at: datetime
) -> bool:
    """Greet one day's members; True when nothing of the day is left to retry."""
    sender = get_settings().require("sender_email")
    complete = True
    for month_day in logic.birthday_keys(day):
        for profile in repository.members_with_birthday(table, tenant_id, month_day):
            item = f"{day.isoformat()}#{_member_id(profile)}"
            if items.is_parked(item):
                continue
            try:
                greeting = logic.greeting_for(tenant_id, profile, day)
                if greeting is None:
                    run.skipped += 1
                    items.succeeded(item)
                    continue
                delivery = deliver(
                    table,
                    keys.member_pk(tenant_id, greeting.member_id),
                    greeting.claim_key,
                    sender,
                    greeting.email,
                    at,
                )
            except Exception as err:  # noqa: BLE001 - recorded per item; the rest go ahead
                failure = items.failed(item, err)
                jobs.log_failure(logger, "birthday greeting failed", failure, day=day.isoformat())
                complete = complete and failure.state == jobs.PARKED
                continue
            if delivery is Delivery.IN_FLIGHT:
                run.waiting += 1
                complete = False
                continue
            items.succeeded(item)
            run.sent += int(delivery is Delivery.SENT)
    return complete


def _greet_tenant(table: str, tenant_id: str, today: date, at: datetime, run: BirthdayRun) -> None:
    last = jobs.last_done_day(table, tenant_id, JOB)
    if last is None:  # first run: the program starts today
        last = jobs.begin(table, tenant_id, JOB, today - timedelta(days=1))
    days = logic.days_to_process(last, today)
    if not days:
        return
    items = jobs.JobItems(table, tenant_id, JOB, at, first=days[0].isoformat(), last=days[-1].isoformat())
    done, blocked = last, False
    try:
        for day in days:
            if _greet_day(table, tenant_id, day, items, run, at) and not blocked:
                done = day
                run.days.append(f"{tenant_id}/{day.isoformat()}")
            else:
                blocked = True  # later days go ahead, the marker waits for this one
        items.forget_unseen()
    finally:
        run.failed += items.failed_count
        run.parked += items.parked_count
        if done != last:
            jobs.mark_done_day(table, tenant_id, JOB, done, last)


def run_birthdays(invocation: ScheduledInvocation) -> BirthdayRun:
    settings = get_settings()
    table = settings.require("loyalty_table")
    today = local_day(invocation.at, settings.tz)
    run = BirthdayRun()
    for tenant in tenants.list_tenants(table):
        try:
            _greet_tenant(table, tenant.tenant_id, today, invocation.at, run)
        except Exception as err:  # noqa: BLE001 - one tenant's failure does not stop the others
            jobs.log_tenant_failure(logger, "birthday run failed for a tenant", tenant.tenant_id, err)
            run.tenants_failed += 1
    metrics.add_metric(name="BirthdayGreetingsSent", unit=MetricUnit.Count, value=run.sent)
    if run.failed:
        metrics.add_metric(name="BirthdayGreetingsFailed", unit=MetricUnit.Count, value=run.failed)
    jobs.finish(run, metrics, "birthday greetings")
    return run


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_birthdays(jobs.invocation_for(event, JOB)).model_dump()
