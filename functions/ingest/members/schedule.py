"""Scheduled: refresh the stored state of members whose derived figures (lifecycle
stage, RFM, tags, orders in the last 30 days) came due to change with no new
event, and record each lifecycle stage change on the member's timeline.

A due-index job of the shared outline (``loyalty.jobs.DueJob``). It reads only the
member due index up to the schedule time, so the cost grows with the members due, not
with all members, and a missed run is caught up by the next: whatever was due stays in
the index until a run stores its refresh, also what a run leaves when its invocation
nears its end (``RESERVE_MS`` left).

Each member is an item of its own: a member whose refresh fails is recorded,
retried by the next runs and parked after ``jobs.MAX_ATTEMPTS`` of them (it stays
in the due index, skipped, listed by ``python -m infra.ops failures``), while the
other members and tenants are refreshed. The tenant's failure records are read
once per run (one Query), so skipping a parked member reads nothing more."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ingest.events import logic
from ingest.members import state as member_state
from ingest.members.projection import stats_from_item
from ingest.members.repository import ProfileStore
from loyalty import jobs
from loyalty.events.stored import event_item
from loyalty.jobs import ScheduledInvocation
from loyalty.observability import logger_for, metrics_for, tracer_for
from loyalty.program import get_program
from loyalty.settings import get_settings
from loyalty.tenants import Tenant
from loyalty.timeutil import parse_rfc3339

logger = logger_for(__name__)
tracer = tracer_for(__name__)
metrics = metrics_for(__name__)

JOB = "refresh_members"
# Stop taking new members when less than this is left of the invocation; the rest
# stays due and the next run takes it.
RESERVE_MS = jobs.RESERVE_MS

StatsItem = dict[str, Any]  # a member's stats item, as the member due index lists it


class RefreshRun(jobs.JobRun):
    read: int = 0  # members taken from the due index (parked ones are skipped and not counted)
    refreshed: int = 0
    stage_changes: int = 0  # stage_changed events recorded
    superseded: int = 0  # a concurrent update stored a newer state first


def _member_id(item: StatsItem) -> str:
    return str(item.get("member_id") or str(item.get("pk", "")).rsplit("#M#", 1)[-1])


class Refresh(jobs.DueJob[RefreshRun, StatsItem]):
    name = JOB
    item_label = "member refresh"
    items_label = "member refreshes"
    reserve_ms = RESERVE_MS

    def __init__(self, invocation: ScheduledInvocation, context: Any = None) -> None:
        super().__init__(invocation, RefreshRun(), context=context, logger=logger, metrics=metrics)
        settings = get_settings()
        self.config = get_program()
        self.store = ProfileStore(self.table)
        self.events_table = settings.require("events_table")
        self.tz = settings.tz

    def items_of(self, tenant: Tenant) -> Iterable[StatsItem]:
        return self.store.due_members(tenant.tenant_id, self.at)

    def key_of(self, item: StatsItem) -> str:
        return _member_id(item)

    def handle(self, tenant: Tenant, item: StatsItem) -> jobs.Outcome:
        """Store one member's refreshed state and its stage changes; a concurrent update
        that stored a newer state first supersedes it."""
        self.run.read += 1
        now = self.at
        refreshed = member_state.refresh(
            stats_from_item(item),
            item.get("registered_at"),
            str(item["lifecycle_stage"]),
            parse_rfc3339(str(item["due_at"])),
            now,
            self.config,
        )
        member = str(item["member_id"])
        events = [
            event_item(logic.stage_changed(tenant.tenant_id, member, c.at, c.before, c.after, now, self.tz))
            for c in refreshed.stage_changes
        ]
        stored = self.store.save_refresh(item, refreshed, now, self.events_table, events)
        if stored is None:
            self.run.superseded += 1
        else:
            self.run.refreshed += 1
            self.run.stage_changes += stored
        return jobs.Outcome.DONE

    def add_metrics(self) -> None:
        self.metrics.add_metric(name="MembersRefreshed", unit=MetricUnit.Count, value=self.run.refreshed)
        self.metrics.add_metric(
            name="MemberStageChanges", unit=MetricUnit.Count, value=self.run.stage_changes
        )
        if self.run.failed:
            self.metrics.add_metric(
                name="MemberRefreshesFailed", unit=MetricUnit.Count, value=self.run.failed
            )


def run_refresh(invocation: ScheduledInvocation, context: Any = None) -> RefreshRun:
    return Refresh(invocation, context).execute()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_refresh(jobs.invocation_for(event, JOB), context).model_dump()
