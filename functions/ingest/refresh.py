"""Scheduled: refresh the stored state of members whose derived figures (lifecycle
stage, RFM, tags, orders in the last 30 days) came due to change with no new
event, and record each lifecycle stage change on the member's timeline.

Reads only the member due index up to the schedule time, so the cost grows with
the members due, not with all members, and a missed run is caught up by the next:
whatever was due stays in the index until a run stores its refresh."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from ingest import logic, member_state
from ingest.member_view import stats_from_item
from ingest.profile_store import ProfileStore
from ingest.repository import event_item
from loyalty import jobs, tenants
from loyalty.jobs import ScheduledInvocation
from loyalty.program import get_program
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
    read: int = 0  # members read from the due index
    refreshed: int = 0
    stage_changes: int = 0  # stage_changed events recorded
    superseded: int = 0  # a concurrent update stored a newer state first
    failed: int = 0
    deferred: bool = False  # out of time: the rest stays due for the next run


def run_refresh(invocation: ScheduledInvocation, context: Any = None) -> RefreshRun:
    settings = get_settings()
    table = settings.require("loyalty_table")
    events_table = settings.require("events_table")
    config = get_program()
    now = invocation.at
    store = ProfileStore(table)
    run = RefreshRun()
    for tenant in tenants.list_tenants(table):
        for item in store.due_members(tenant.tenant_id, now):
            if context is not None and context.get_remaining_time_in_millis() < RESERVE_MS:
                run.deferred = True
                break
            run.read += 1
            try:
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
                        logic.stage_changed(
                            tenant.tenant_id,
                            str(item["member_id"]),
                            c.at,
                            c.before,
                            c.after,
                            now,
                            settings.tz,
                        )
                    )
                    for c in refreshed.stage_changes
                ]
                stored = store.save_refresh(item, refreshed, now, events_table, events)
            except Exception:  # noqa: BLE001 - counted, logged, and the run fails below
                logger.exception("member refresh failed", extra={"tenant": tenant.tenant_id})
                run.failed += 1
                continue
            if stored is None:
                run.superseded += 1
            else:
                run.refreshed += 1
                run.stage_changes += stored
        if run.deferred:
            break
    metrics.add_metric(name="MembersRefreshed", unit=MetricUnit.Count, value=run.refreshed)
    metrics.add_metric(name="MemberStageChanges", unit=MetricUnit.Count, value=run.stage_changes)
    if run.deferred:
        logger.warning("member refresh ran out of time; the rest stays due", extra={"read": run.read})
    if run.failed:
        metrics.add_metric(name="MemberRefreshesFailed", unit=MetricUnit.Count, value=run.failed)
        raise jobs.JobFailed(f"{run.failed} member refreshes failed")
    return run


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_refresh(jobs.invocation_for(event, JOB), context).model_dump()
