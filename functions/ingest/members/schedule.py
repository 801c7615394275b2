"""Scheduled: refresh the stored state of members whose derived figures (lifecycle
stage, RFM, tags, orders in the last 30 days) came due to change with no new
event, and record each lifecycle stage change on the member's timeline.

Reads only the member due index up to the schedule time, so the cost grows with
the members due, not with all members, and a missed run is caught up by the next:
whatever was due stays in the index until a run stores its refresh.

Each member is an item of its own: a member whose refresh fails is recorded,
retried by the next runs and parked after ``jobs.MAX_ATTEMPTS`` of them (it stays
in the due index, skipped, listed by ``python -m infra.ops failures``), while the
other members and tenants are refreshed. The tenant's failure records are read
once per run (one Query), so skipping a parked member reads nothing more."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from ingest.events import logic
from ingest.events.repository import event_item
from ingest.members import state as member_state
from ingest.members.repository import ProfileStore
from ingest.members.view import stats_from_item
from loyalty import jobs, tenants
from loyalty.jobs import ScheduledInvocation
from loyalty.program import ProgramConfig, get_program
from loyalty.settings import get_settings
from loyalty.timeutil import parse_rfc3339

logger = Logger(service="ingest")
tracer = Tracer(service="ingest")
metrics = Metrics(namespace="Loyalty", service="ingest")

JOB = "refresh_members"
# Stop taking new members when less than this is left of the invocation; the rest
# stays due and the next run takes it.
RESERVE_MS = 20_000


class RefreshRun(BaseModel):
    read: int = 0  # members taken from the due index (parked ones are skipped and not counted)
    refreshed: int = 0
    stage_changes: int = 0  # stage_changed events recorded
    superseded: int = 0  # a concurrent update stored a newer state first
    failed: int = 0  # members whose refresh failed in this run
    parked: int = 0  # of those, members this run parked
    tenants_failed: int = 0
    deferred: bool = False  # out of time: the rest stays due for the next run


def _member_id(item: dict[str, Any]) -> str:
    return str(item.get("member_id") or str(item.get("pk", "")).rsplit("#M#", 1)[-1])


def _refresh_member(
    store: ProfileStore,
    tenant_id: str,
    item: dict[str, Any],
    now: datetime,
    config: ProgramConfig,
    events_table: str,
) -> int | None:
    """Store one member's refreshed state: the stage changes recorded, or None when a
    concurrent update stored a newer state first."""
    settings = get_settings()
    refreshed = member_state.refresh(
        stats_from_item(item),
        item.get("registered_at"),
        str(item["lifecycle_stage"]),
        parse_rfc3339(str(item["due_at"])),
        now,
        config,
    )
    events = [
        event_item(
            logic.stage_changed(tenant_id, str(item["member_id"]), c.at, c.before, c.after, now, settings.tz)
        )
        for c in refreshed.stage_changes
    ]
    return store.save_refresh(item, refreshed, now, events_table, events)


def _refresh_tenant(
    store: ProfileStore,
    table: str,
    tenant_id: str,
    now: datetime,
    config: ProgramConfig,
    context: Any,
    run: RefreshRun,
) -> None:
    events_table = get_settings().require("events_table")
    items = jobs.JobItems(table, tenant_id, JOB, now)
    try:
        for item in store.due_members(tenant_id, now):
            member = _member_id(item)
            if items.is_parked(member):
                continue
            if context is not None and context.get_remaining_time_in_millis() < RESERVE_MS:
                run.deferred = True
                return  # the rest stays due; failure records of members not reached stay as they are
            run.read += 1
            try:
                stored = _refresh_member(store, tenant_id, item, now, config, events_table)
            except Exception as err:  # noqa: BLE001 - recorded per member; the rest go ahead
                failure = items.failed(member, err)
                jobs.log_failure(logger, "member refresh failed", failure)
                continue
            items.succeeded(member)
            if stored is None:
                run.superseded += 1
            else:
                run.refreshed += 1
                run.stage_changes += stored
        items.forget_unseen()  # no longer due: a new event stored the member's state meanwhile
    finally:
        run.failed += items.failed_count
        run.parked += items.parked_count


def run_refresh(invocation: ScheduledInvocation, context: Any = None) -> RefreshRun:
    settings = get_settings()
    table = settings.require("loyalty_table")
    config = get_program()
    store = ProfileStore(table)
    run = RefreshRun()
    for tenant in tenants.list_tenants(table):
        try:
            _refresh_tenant(store, table, tenant.tenant_id, invocation.at, config, context, run)
        except Exception as err:  # noqa: BLE001 - one tenant's failure does not stop the others
            jobs.log_tenant_failure(logger, "member refresh failed for a tenant", tenant.tenant_id, err)
            run.tenants_failed += 1
        if run.deferred:
            break
    metrics.add_metric(name="MembersRefreshed", unit=MetricUnit.Count, value=run.refreshed)
    metrics.add_metric(name="MemberStageChanges", unit=MetricUnit.Count, value=run.stage_changes)
    if run.deferred:
        logger.warning("member refresh ran out of time; the rest stays due", extra={"read": run.read})
    if run.failed:
        metrics.add_metric(name="MemberRefreshesFailed", unit=MetricUnit.Count, value=run.failed)
    jobs.finish(run, metrics, "member refreshes")
    return run


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_refresh(jobs.invocation_for(event, JOB), context).model_dump()
