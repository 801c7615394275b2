"""Scheduled: the points sweep. Releases pending points whose return window
ended, expires lots, announces points expiring soon, lapses unconfirmed holds
and re-evaluates tiers on their anniversary.

A due-index job of the shared outline (``loyalty.jobs.DueJob``). It reads the points
due index (one Query per shard), so a run costs in proportion to the members with
something due, never to all members. A run handles everything due by its scheduled
time, so a missed run loses nothing; a run that nears the end of its invocation
(``RESERVE_MS`` left) stops taking members, and what is left stays in the index for
the next run.

Each member is an item of its own: a member whose sweep fails is recorded,
retried by the next runs and parked after ``jobs.MAX_ATTEMPTS`` of them (it stays
in the due index, skipped, listed by ``python -m infra.ops failures``), while the
other members and tenants are swept. The tenant's failure records are read once
per run (one Query), so skipping a parked member reads nothing more."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from loyalty import jobs
from loyalty.jobs import ScheduledInvocation
from loyalty.observability import logger_for, metrics_for, tracer_for
from loyalty.program import get_program
from loyalty.settings import get_settings
from loyalty.tenants import Tenant
from loyalty.timeutil import iso
from points import logic
from points.repository import DynamoLedgerStore

logger = logger_for(__name__)
tracer = tracer_for(__name__)
metrics = metrics_for(__name__)

JOB = "points_sweep"
# Stop taking new members when less than this is left of the invocation.
RESERVE_MS = jobs.RESERVE_MS


class SweepRun(jobs.JobRun):
    members: int = 0  # members swept (parked ones are skipped and not counted)
    commits: int = 0


class Sweep(jobs.DueJob[SweepRun, str]):
    name = JOB
    item_label = "member sweep"
    items_label = "member sweeps"
    reserve_ms = RESERVE_MS

    def __init__(self, invocation: ScheduledInvocation, context: Any = None) -> None:
        super().__init__(invocation, SweepRun(), context=context, logger=logger, metrics=metrics)
        settings = get_settings()
        self.store = DynamoLedgerStore(self.table, settings.require("events_table"), settings.tz)
        program = get_program()
        self.ctx = logic.Context(self.store, program.points, settings.tz, self.at, program=program)

    def items_of(self, tenant: Tenant) -> Iterable[str]:
        return self.store.due_members(tenant.tenant_id, iso(self.at))

    def key_of(self, member: str) -> str:
        return member

    def handle(self, tenant: Tenant, member: str) -> jobs.Outcome:
        self.run.members += 1
        self.run.commits += int(logic.sweep(self.ctx, tenant.tenant_id, member).applied)
        return jobs.Outcome.DONE

    def add_metrics(self) -> None:
        self.metrics.add_metric(name="PointsSweptMembers", unit=MetricUnit.Count, value=self.run.members)


def run_sweep(invocation: ScheduledInvocation, context: Any = None) -> SweepRun:
    return Sweep(invocation, context).execute()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_sweep(jobs.invocation_for(event, JOB), context).model_dump()
