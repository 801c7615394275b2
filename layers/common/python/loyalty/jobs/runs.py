"""A scheduled run's input and end: the schedule payload, checked to be for the function's
job, and the end of every run, which emits the failure metrics and fails the invocation
(so Lambda retries it, then dead-letters it) while an item is still to be retried or a
tenant failed."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel

from loyalty.timeutil import parse_rfc3339


class ScheduledInvocation(BaseModel):
    """The input each EventBridge Scheduler schedule sends (see infra)."""

    job: str
    schedule: str = ""
    scheduled_time: str

    @property
    def at(self) -> datetime:
        return parse_rfc3339(self.scheduled_time)


class JobFailed(Exception):
    """Part of a scheduled run failed. Raised at the end of the run, after the
    rest was done, so Lambda retries the invocation and then dead-letters it.
    ``result`` is what the run did (its result model, dumped)."""

    def __init__(self, message: str, result: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.result = result or {}


class RunOutcome(Protocol):
    """What every scheduled run's result model counts."""

    failed: int
    parked: int
    tenants_failed: int

    def model_dump(self) -> dict[str, Any]: ...


def finish(run: RunOutcome, metrics: Any, items: str) -> None:
    """End a scheduled run: emit ``JobItemsFailed`` and ``JobItemsParked``, and raise
    JobFailed while an item is still to be retried or a tenant failed (so Lambda
    retries the run); once every failing item is parked the run succeeds."""
    from aws_lambda_powertools.metrics import MetricUnit

    metrics.add_metric(name="JobItemsFailed", unit=MetricUnit.Count, value=run.failed)
    metrics.add_metric(name="JobItemsParked", unit=MetricUnit.Count, value=run.parked)
    retrying = run.failed - run.parked
    if retrying or run.tenants_failed:
        raise JobFailed(
            f"{retrying} {items} failed and will be retried; {run.tenants_failed} tenants failed",
            run.model_dump(),
        )


def invocation_for(event: dict[str, Any], job: str) -> ScheduledInvocation:
    """The schedule payload, checked to be for ``job``."""
    invocation = ScheduledInvocation.model_validate(event)
    if invocation.job != job:
        raise ValueError(f"this function runs {job!r}, not {invocation.job!r}")
    return invocation
