"""Scheduled jobs: the schedule payload, and per-tenant progress markers that
make every job catch up: a run handles everything that came due since the last
successful run, so a missed or failed run in AWS loses nothing."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel

from loyalty import aws, keys
from loyalty.dynamo import is_condition_failure
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
    rest was done, so Lambda retries the invocation and then dead-letters it."""


def invocation_for(event: dict[str, Any], job: str) -> ScheduledInvocation:
    """The schedule payload, checked to be for ``job``."""
    invocation = ScheduledInvocation.model_validate(event)
    if invocation.job != job:
        raise ValueError(f"this function runs {job!r}, not {invocation.job!r}")
    return invocation


def last_done_day(table_name: str, tenant_id: str, job: str) -> date | None:
    item = aws.table(table_name).get_item(Key={"pk": keys.job_pk(tenant_id), "sk": job}).get("Item")
    return date.fromisoformat(item["done_through"]) if item else None


def mark_done_day(table_name: str, tenant_id: str, job: str, day: date, previous: date | None) -> bool:
    """Advance the job's marker from ``previous`` to ``day``; False when another
    run already moved it (optimistic concurrency, so two runs cannot both advance)."""
    condition = "attribute_not_exists(pk)" if previous is None else "done_through = :prev"
    values = {":day": day.isoformat()}
    if previous is not None:
        values[":prev"] = previous.isoformat()
    try:
        aws.table(table_name).update_item(
            Key={"pk": keys.job_pk(tenant_id), "sk": job},
            UpdateExpression="SET done_through = :day",
            ConditionExpression=condition,
            ExpressionAttributeValues=values,
        )
    except ClientError as err:
        if is_condition_failure(err):
            return False
        raise
    return True
