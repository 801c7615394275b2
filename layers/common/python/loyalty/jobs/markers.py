"""Per-tenant progress markers of day-based jobs (``T#<tenant>#JOBS`` / ``<job>``:
``done_through``): a run handles every day after the marker, so a missed or failed run
in AWS loses nothing, and two runs can never both advance one marker (each move is
conditioned on the value it read)."""

from __future__ import annotations

from datetime import date

from botocore.exceptions import ClientError

from loyalty import aws, keys
from loyalty.dynamo import is_condition_failure


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


def begin(table_name: str, tenant_id: str, job: str, before: date) -> date:
    """The job's marker, created on a tenant's first run as done through ``before`` (the
    day before the first one the job handles), so a first run whose day fails keeps that
    day due like any other. Returns the stored marker (another run may have created it)."""
    if mark_done_day(table_name, tenant_id, job, before, None):
        return before
    stored = last_done_day(table_name, tenant_id, job)
    return stored if stored is not None else before
