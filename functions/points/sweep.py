"""Scheduled: the points sweep. Releases pending points whose return window
ended, expires lots, announces points expiring soon, lapses unconfirmed holds
and re-evaluates tiers on their anniversary.

It reads the points due index (one Query per shard), so a run costs in
proportion to the members with something due, never to all members. A run
handles everything due by its scheduled time, so a missed run loses nothing;
a run that nears the end of its invocation stops taking members, and what is
left stays in the index for the next run."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from loyalty import jobs, tenants
from loyalty.jobs import ScheduledInvocation
from loyalty.program import get_program
from loyalty.settings import get_settings
from loyalty.timeutil import iso
from points import service
from points.repository import DynamoLedgerStore

logger = Logger(service="points")
tracer = Tracer(service="points")
metrics = Metrics(namespace="Loyalty", service="points")

JOB = "points_sweep"
# Stop taking new members when less than this is left of the invocation.
RESERVE_MS = 20_000


class SweepRun(BaseModel):
    members: int = 0
    commits: int = 0
    failed: int = 0
    deferred: bool = False  # out of time: the rest stays due for the next run


def run_sweep(invocation: ScheduledInvocation, context: Any = None) -> SweepRun:
    settings = get_settings()
    store = DynamoLedgerStore(
        settings.require("loyalty_table"), settings.require("events_table"), settings.tz
    )
    program = get_program()
    ctx = service.Context(store, program.points, settings.tz, invocation.at, program=program)
    run = SweepRun()
    for tenant in tenants.list_tenants(settings.require("loyalty_table")):
        for member in store.due_members(tenant.tenant_id, iso(invocation.at)):
            if context is not None and context.get_remaining_time_in_millis() < RESERVE_MS:
                run.deferred = True
                break
            run.members += 1
            try:
                if service.sweep(ctx, tenant.tenant_id, member).applied:
                    run.commits += 1
            except Exception:  # noqa: BLE001 - counted, logged, and the run fails below
                logger.exception("points sweep failed for a member", extra={"tenant_id": tenant.tenant_id})
                run.failed += 1
        if run.deferred:
            break
    metrics.add_metric(name="PointsSweptMembers", unit=MetricUnit.Count, value=run.members)
    if run.deferred:
        logger.warning("points sweep ran out of time; the rest stays due", extra={"members": run.members})
    if run.failed:
        raise jobs.JobFailed(f"points sweep failed for {run.failed} members")
    return run


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_sweep(jobs.invocation_for(event, JOB), context).model_dump()
