"""Scheduled care: the date triggers, caught up day by day, and the delivery of every
due firing, both on the shared job outline (``loyalty.jobs``).

* ``care_dates`` (daily, a :class:`~loyalty.jobs.DayJob`): for each member-local day from
  the tenant's marker through tomorrow, each enabled ``date`` rule reads the members whose
  date falls on it from the birthday index (one Query per month-day, never all members)
  and stores one firing per member, due at the rule's ``at`` on that day in the member's
  time zone (the tenant's when the member has none). Tomorrow is expanded a day ahead,
  so a member far east of the program's zone is due before the next run, and today once
  more, so a rule saved since finds its members. A firing already
  stored is kept (conditional put); one due longer ago than ``care.late_date_hours`` is not
  made (a catch-up after an outage sends no week-old greetings).
* ``care_deliver`` (every five minutes, a :class:`~loyalty.jobs.DueJob`): reads the care
  due index (8 shards per tenant) up to the schedule time and takes each firing through
  the guards to its actions (``care_rules.delivery``). A firing another run holds a claim
  of stays due; a failing one is recorded, retried by later runs and parked."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from care_rules import catalog, delivery, engine, firings, layout, repository
from care_rules.context import Context
from care_rules.rules import DateTrigger
from care_rules.ruleset import StoredRule
from loyalty import jobs, unsubscribe
from loyalty.jobs import ScheduledInvocation
from loyalty.observability import logger_for, metrics_for, tracer_for
from loyalty.program import get_program
from loyalty.settings import get_settings
from loyalty.tenants import Tenant

logger = logger_for(__name__)
tracer = tracer_for(__name__)
metrics = metrics_for(__name__)

DATES = "care_dates"
DELIVER = "care_deliver"

DateItem = tuple[StoredRule, dict[str, Any]]  # a date rule and a member's profile from the index


class DatesRun(jobs.JobRun):
    days: list[str] = []
    firings: int = 0  # new firings stored
    late: int = 0  # dates due too long ago to be sent


class DeliverRun(jobs.JobRun):
    delivered: int = 0  # firings taken through the guards
    waiting: int = 0  # firings another run holds a claim of: kept due


def _anniversary(profile: dict[str, Any], day: date, offset_days: int) -> bool:
    """A registration's anniversary, not the registration day itself."""
    registered = str(profile.get("registered_at") or "")
    return registered[:4] != str((day - timedelta(days=offset_days)).year)


def _member_id(profile: dict[str, Any]) -> str:
    return str(profile.get("member_id") or str(profile.get("pk", "")).rsplit("#M#", 1)[-1])


class Dates(jobs.DayJob[DatesRun, DateItem]):
    name = DATES
    item_label = "care date"
    items_label = "care dates"

    def __init__(self, invocation: ScheduledInvocation, context: Any = None) -> None:
        super().__init__(invocation, DatesRun(), context=context, logger=logger, metrics=metrics)
        self.tz = get_settings().tz
        self.care = get_program().care

    def days(self, last_done: date | None, today: date) -> list[date]:
        # Today is expanded again on every run (a date rule saved since finds its members
        # today; stored firings are kept), tomorrow a day ahead.
        start = today if last_done is None else min(last_done + timedelta(days=1), today)
        return [start + timedelta(days=i) for i in range((today + timedelta(days=1) - start).days + 1)]

    def items_by_day(self, tenant: Tenant, days: list[date]) -> Iterator[tuple[date, Iterable[DateItem]]]:
        rules = [r for r in catalog.rules(self.table, tenant.tenant_id, self.at) if r.enabled]
        dated = [r for r in rules if isinstance(r.rule.trigger, DateTrigger)]
        for day in days:
            yield day, self._due_on(tenant.tenant_id, day, dated)

    def _due_on(self, tenant: str, day: date, rules: list[StoredRule]) -> Iterator[DateItem]:
        for stored in rules:
            trigger = stored.rule.trigger
            assert isinstance(trigger, DateTrigger)
            read = repository.members_with_birthday if trigger.field == "birthday" else self._registered
            for month_day in engine.date_keys(day, trigger.offset_days, trigger.leap_day):
                for found in read(self.table, tenant, month_day):
                    if trigger.field == "registered_at" and not _anniversary(found, day, trigger.offset_days):
                        continue
                    yield stored, found

    @staticmethod
    def _registered(table: str, tenant: str, month_day: str) -> Iterator[dict[str, Any]]:
        """Members who registered on ``month_day``, each with its profile (its time zone)."""
        for stats in repository.members_registered_on(table, tenant, month_day):
            member = _member_id(stats)
            profile = repository.member_profile(table, tenant, member)
            yield {**profile, "member_id": member, "registered_at": stats.get("registered_at")}

    def item_key(self, item: DateItem) -> str:
        return f"{item[0].rule_id}#{_member_id(item[1])}"

    def handle(self, tenant: Tenant, day: date, item: DateItem) -> jobs.Outcome:
        stored, profile = item
        trigger = stored.rule.trigger
        assert isinstance(trigger, DateTrigger)
        facts = engine.Facts(member_id=_member_id(profile), profile=profile)
        due = engine.local_at(day, trigger.at, facts.zone(self.tz))
        if due < self.at - timedelta(hours=self.care.late_date_hours):
            self.run.late += 1
            return jobs.Outcome.DONE
        source = layout.date_source(trigger.field, day.isoformat())
        firing = firings.NewFiring(
            tenant=tenant.tenant_id,
            member=facts.member_id,
            rule_id=stored.rule_id,
            version=stored.version,
            trigger="date",
            source=source,
            instance=source,
            due_at=due,
        )
        self.run.firings += int(firings.put_new(self.table, firing, self.at))
        return jobs.Outcome.DONE

    def completed(self, tenant: Tenant, day: date) -> None:
        self.run.days.append(f"{tenant.tenant_id}/{day.isoformat()}")

    def add_metrics(self) -> None:
        self.metrics.add_metric(name="CareDateFirings", unit=MetricUnit.Count, value=self.run.firings)


def engine_context(at: datetime) -> Context:
    settings = get_settings()

    def link(tenant: str, member: str) -> str | None:
        if not settings.public_api_url or not settings.unsubscribe_secret:
            return None
        from loyalty import secrets  # Powertools Parameters caches the keys (five minutes)

        return unsubscribe.link(secrets.unsubscribe_keys(), settings.public_api_url, tenant, member, at)

    return Context(
        table=settings.require("loyalty_table"),
        events_table=settings.require("events_table"),
        sender=settings.require("sender_email"),
        tz=settings.tz,
        program=get_program(),
        now=at,
        bus=settings.care_event_bus or None,
        unsubscribe=link,
    )


class Deliver(jobs.DueJob[DeliverRun, dict[str, Any]]):
    name = DELIVER
    item_label = "care firing"
    items_label = "care firings"

    def __init__(self, invocation: ScheduledInvocation, context: Any = None) -> None:
        super().__init__(invocation, DeliverRun(), context=context, logger=logger, metrics=metrics)
        self.ctx = engine_context(self.at)

    def items_of(self, tenant: Tenant) -> Iterable[dict[str, Any]]:
        return firings.due(self.table, tenant.tenant_id, self.at)

    def key_of(self, item: dict[str, Any]) -> str:
        return f"{item['sk']}#{keys_hash(str(item['pk']))}"

    def handle(self, tenant: Tenant, item: dict[str, Any]) -> jobs.Outcome:
        if delivery.deliver_due(self.ctx, item):
            self.run.delivered += 1
            return jobs.Outcome.DONE
        self.run.waiting += 1
        return jobs.Outcome.WAITING

    def add_metrics(self) -> None:
        self.metrics.add_metric(name="CareFiringsDelivered", unit=MetricUnit.Count, value=self.run.delivered)


def keys_hash(pk: str) -> str:
    """A failure record's key names the member's partition by a hash: member ids may be
    personal data."""
    return hashlib.sha256(pk.encode()).hexdigest()[:16]


def run_dates(invocation: ScheduledInvocation, context: Any = None) -> DatesRun:
    return Dates(invocation, context).execute()


def run_deliver(invocation: ScheduledInvocation, context: Any = None) -> DeliverRun:
    return Deliver(invocation, context).execute()


JOBS = {DATES: run_dates, DELIVER: run_deliver}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    job = str(event.get("job", ""))
    if job not in JOBS:
        raise ValueError(f"this function runs {sorted(JOBS)}, not {job!r}")
    result: jobs.JobRun = JOBS[job](jobs.invocation_for(event, job), context)
    return result.model_dump()
