"""Scheduled care rules: birthday greetings, caught up day by day.

A day job of the shared outline (``loyalty.jobs.DayJob``): each greeting is an item of
its own (``<day>#<member>``): a failing one is recorded, retried by the next runs and
parked after ``jobs.MAX_ATTEMPTS`` of them, while the other members, later days and
other tenants go ahead. The tenant's marker moves through the last day whose greetings
were all sent, skipped or parked; a day with an item still to retry, or not reached
before the invocation's time ran short, stays due, and its members already greeted find
their delivery claim and are not greeted again."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from care_rules import logic, repository
from loyalty import jobs, keys
from loyalty.jobs import ScheduledInvocation
from loyalty.observability import logger_for, metrics_for, tracer_for
from loyalty.once import Delivery, deliver
from loyalty.settings import get_settings
from loyalty.tenants import Tenant

logger = logger_for(__name__)
tracer = tracer_for(__name__)
metrics = metrics_for(__name__)

JOB = "birthdays"

Profile = dict[str, Any]  # a member's profile item, as the birthday index lists it


class BirthdayRun(jobs.JobRun):
    days: list[str] = []  # tenant/day pairs completed (every greeting sent, skipped or parked)
    sent: int = 0
    skipped: int = 0
    waiting: int = 0  # greetings another run holds a live claim on: kept due


def _member_id(profile: Profile) -> str:
    return str(profile.get("member_id") or str(profile.get("pk", "")).rsplit("#M#", 1)[-1])


class Birthdays(jobs.DayJob[BirthdayRun, Profile]):
    name = JOB
    item_label = "birthday greeting"
    items_label = "birthday greetings"

    def __init__(self, invocation: ScheduledInvocation, context: Any = None) -> None:
        super().__init__(invocation, BirthdayRun(), context=context, logger=logger, metrics=metrics)
        self.sender = get_settings().require("sender_email")

    def days(self, last_done: date | None, today: date) -> list[date]:
        return logic.days_to_process(last_done, today)

    def items_by_day(self, tenant: Tenant, days: list[date]) -> Iterator[tuple[date, Iterable[Profile]]]:
        for day in days:
            yield day, self._celebrating(tenant.tenant_id, day)

    def _celebrating(self, tenant_id: str, day: date) -> Iterator[Profile]:
        for month_day in logic.birthday_keys(day):
            yield from repository.members_with_birthday(self.table, tenant_id, month_day)

    def item_key(self, profile: Profile) -> str:
        return _member_id(profile)

    def handle(self, tenant: Tenant, day: date, profile: Profile) -> jobs.Outcome:
        greeting = logic.greeting_for(tenant.tenant_id, profile, day)
        if greeting is None:
            self.run.skipped += 1
            return jobs.Outcome.DONE
        delivery = deliver(
            self.table,
            keys.member_pk(tenant.tenant_id, greeting.member_id),
            greeting.claim_key,
            self.sender,
            greeting.email,
            self.at,
        )
        if delivery is Delivery.IN_FLIGHT:
            self.run.waiting += 1
            return jobs.Outcome.WAITING
        self.run.sent += int(delivery is Delivery.SENT)
        return jobs.Outcome.DONE

    def completed(self, tenant: Tenant, day: date) -> None:
        self.run.days.append(f"{tenant.tenant_id}/{day.isoformat()}")

    def add_metrics(self) -> None:
        self.metrics.add_metric(name="BirthdayGreetingsSent", unit=MetricUnit.Count, value=self.run.sent)
        if self.run.failed:
            self.metrics.add_metric(
                name="BirthdayGreetingsFailed", unit=MetricUnit.Count, value=self.run.failed
            )


def run_birthdays(invocation: ScheduledInvocation, context: Any = None) -> BirthdayRun:
    return Birthdays(invocation, context).execute()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_birthdays(jobs.invocation_for(event, JOB), context).model_dump()
