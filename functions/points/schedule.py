"""Scheduled: the points sweep. Releases pending points whose return window
ended, expires lots, announces points expiring soon, lapses unconfirmed holds
and re-evaluates tiers on their anniversary.

It reads the points due index (one Query per shard), so a run costs in
proportion to the members with something due, never to all members. A run
handles everything due by its scheduled time, so a missed run loses nothing;
a run that nears the end of its invocation stops taking members, and what is
left stays in the index for the next run.

Each member is an item of its own: a member whose sweep fails is recorded,
retried by the next runs and parked after ``jobs.MAX_ATTEMPTS`` of them (it stays
in the due index, skipped, listed by ``python -m infra.ops failures``), while the
other members and tenants are swept. The tenant's failure records are read once
per run (one Query), so skipping a parked member reads nothing more."""

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
from points import logic
from points.repository import DynamoLedgerStore

logger = Logger(service="points")
tracer = Tracer(service="points")
metrics = Metrics(namespace="Loyalty", service="points")

JOB = "points_sweep"
# Stop taking new members when less than this is left of the invocation.
RESERVE_MS = 20_000


class SweepRun(BaseModel):
    members: int = 0  # members swept (parked ones are skipped and not counted)
    commits: int = 0
    failed: int = 0  # members whose sweep failed in this run
    parked: int = 0  # of those, members this run parked
    tenants_failed: int = 0
    deferred: bool = False  # out of time: the rest stays due for the next run


def _out_of_time(context: Any) -> bool:
    return context is not None and context.get_remaining_time_in_millis() < RESERVE_MS


def _sweep_tenant(
    ctx: logic.Context, store: DynamoLedgerStore, table: str, tenant_id: str, context: Any, run: SweepRun
) -> None:
    items = jobs.JobItems(table, tenant_id, JOB, ctx.now)
    try:
        for member in store.due_members(tenant_id, iso(ctx.now)):
            if items.is_parked(member):
                continue
            if _out_of_time(context):
                run.deferred = True
                return  # the rest stays due; failure records of members not reached stay as they are
            run.members += 1
            try:
                applied = logic.sweep(ctx, tenant_id, member).applied
            except Exception as err:  # noqa: BLE001 - recorded per member; the rest go ahead
                failure = items.failed(member, err)
                jobs.log_failure(logger, "points sweep failed for a member", failure)
                continue
            items.succeeded(member)
            run.commits += int(applied)
        items.forget_unseen()  # no longer due: a ledger operation applied what was due
    finally:
        run.failed += items.failed_count
        run.parked += items.parked_count


def run_sweep(invocation: ScheduledInvocation, context: Any = None) -> SweepRun:
    settings = get_settings()
    table = settings.require("loyalty_table")
    store = DynamoLedgerStore(table, settings.require("events_table"), settings.tz)
    program = get_program()
    ctx = logic.Context(store, program.points, settings.tz, invocation.at, program=program)
    run = SweepRun()
    for tenant in tenants.list_tenants(table):
        try:
            _sweep_tenant(ctx, store, table, tenant.tenant_id, context, run)
        except Exception as err:  # noqa: BLE001 - one tenant's failure does not stop the others
            jobs.log_tenant_failure(logger, "points sweep failed for a tenant", tenant.tenant_id, err)
            run.tenants_failed += 1
        if run.deferred:
            break
    metrics.add_metric(name="PointsSweptMembers", unit=MetricUnit.Count, value=run.members)
    if run.deferred:
        logger.warning("points sweep ran out of time; the rest stays due", extra={"members": run.members})
    jobs.finish(run, metrics, "member sweeps")
    return run


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_sweep(jobs.invocation_for(event, JOB), context).model_dump()
