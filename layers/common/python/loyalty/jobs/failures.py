"""Records of failing job items, so one bad item is retried a bounded number of runs,
then parked, while the rest of the items and tenants proceed.

One item per tenant, job and failing item: ``T#<tenant>#JOBS`` / ``FAILED#<job>#<item>``.
``attempts`` counts the runs (distinct schedule times) that failed on the item; Lambda's own
retries of one run count once. At MAX_ATTEMPTS the item is parked: jobs skip it and it stays
listed (``python -m infra.ops failures``) until dismissed. An item that succeeds again, or is
no longer due, loses its failure record. No personal data: the error's class, code and a
message with addresses and phone numbers removed, in the record and in the log lines."""

from __future__ import annotations

import re
import traceback
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ValidationError

from loyalty import aws, keys
from loyalty.commit import LostRace, optimistic
from loyalty.dynamo import is_condition_failure, plain, query_all
from loyalty.timeutil import iso

MAX_ATTEMPTS = 5
FAILED = "failed"
PARKED = "parked"
FAILURE_PREFIX = "FAILED#"
MESSAGE_LIMIT = 300

_EMAIL = re.compile(r"[^\s@<>()\[\],;:\"']+@[^\s@<>()\[\],;:\"']+")
_PHONE = re.compile(r"\+\d[\d\s().-]{6,}\d")


def failure_sk(job: str, item: str) -> str:
    return f"{FAILURE_PREFIX}{job}#{item}"


class ItemFailure(BaseModel):
    tenant_id: str
    job: str
    item: str
    state: str  # failed | parked
    attempts: int
    error_class: str
    error_code: str | None = None
    error_message: str = ""
    where: str = ""
    first_failed_at: str
    last_failed_at: str
    last_run: str  # the schedule time of the last failed run
    parked_at: str | None = None


@dataclass(frozen=True)
class ErrorInfo:
    error_class: str
    error_code: str | None
    message: str
    where: str


def redact(text: str) -> str:
    """``text`` without email addresses and phone numbers, at most MESSAGE_LIMIT characters."""
    text = _PHONE.sub("<phone>", _EMAIL.sub("<address>", text))
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


def describe_error(err: BaseException) -> ErrorInfo:
    """What may be stored and logged about an error: class, AWS error code, a redacted
    message (no input values of a validation error), and where it was raised."""
    code: str | None = None
    if isinstance(err, ClientError):
        error = err.response.get("Error") or {}
        code = str(error.get("Code")) if error.get("Code") else None
        message = str(error.get("Message") or "")
    elif isinstance(err, ValidationError):
        message = "; ".join(
            f"{'.'.join(str(part) for part in e['loc'])}: {e['msg']}" for e in err.errors(include_input=False)
        )
    else:
        message = str(err)
    frames = traceback.extract_tb(err.__traceback__)
    own = [f for f in frames if "site-packages" not in f.filename]
    where = own[-1] if own else (frames[-1] if frames else None)
    return ErrorInfo(
        error_class=type(err).__name__,
        error_code=code,
        message=redact(message),
        where=f"{Path(where.filename).name}:{where.lineno} in {where.name}" if where else "",
    )


def list_failures(
    table_name: str,
    tenant_id: str,
    job: str | None = None,
    *,
    first: str | None = None,
    last: str | None = None,
) -> list[ItemFailure]:
    """A tenant's failing and parked items: one Query of ``T#<tenant>#JOBS``, all of them, one
    job's, or one job's with item keys from ``first`` through ``last`` (prefixes)."""
    prefix = FAILURE_PREFIX if job is None else failure_sk(job, "")
    values: dict[str, str] = {":pk": keys.job_pk(tenant_id)}
    if first is not None and last is not None:
        condition = "pk = :pk AND sk BETWEEN :lo AND :hi"
        values.update({":lo": prefix + first, ":hi": prefix + last + "~"})
    else:
        condition = "pk = :pk AND begins_with(sk, :prefix)"
        values[":prefix"] = prefix
    items = query_all(
        aws.table(table_name),
        KeyConditionExpression=condition,
        ExpressionAttributeValues=values,
        ConsistentRead=True,
    )
    return [ItemFailure.model_validate(plain(item)) for item in items]


def record_failure(
    table_name: str,
    tenant_id: str,
    job: str,
    item: str,
    err: BaseException,
    run_at: datetime,
    max_attempts: int = MAX_ATTEMPTS,
) -> ItemFailure:
    """Count a failed run of ``item``; park it once ``max_attempts`` runs failed on it."""
    table = aws.table(table_name)
    key = {"pk": keys.job_pk(tenant_id), "sk": failure_sk(job, item)}
    info = describe_error(err)
    run = iso(run_at)

    def attempt() -> ItemFailure:
        current = table.get_item(Key=key, ConsistentRead=True).get("Item")
        if current is not None and current.get("state") == PARKED:
            return ItemFailure.model_validate(plain(current))
        before = int(current["attempts"]) if current is not None else 0
        attempts = before if current is not None and current.get("last_run") == run else before + 1
        parked = attempts >= max_attempts
        failure = ItemFailure(
            tenant_id=tenant_id,
            job=job,
            item=item,
            state=PARKED if parked else FAILED,
            attempts=attempts,
            error_class=info.error_class,
            error_code=info.error_code,
            error_message=info.message,
            where=info.where,
            first_failed_at=str(current["first_failed_at"]) if current is not None else run,
            last_failed_at=run,
            last_run=run,
            parked_at=run if parked else None,
        )
        condition = (
            "attribute_not_exists(pk)" if current is None else "attempts = :before AND #state = :failed"
        )
        extra: dict[str, Any] = {}
        if current is not None:
            extra = {
                "ExpressionAttributeNames": {"#state": "state"},
                "ExpressionAttributeValues": {":before": before, ":failed": FAILED},
            }
        try:
            table.put_item(
                Item={**key, "kind": "job_failure", **failure.model_dump(exclude_none=True)},
                ConditionExpression=condition,
                **extra,
            )
        except ClientError as error:
            if is_condition_failure(error):
                raise LostRace from error
            raise
        return failure

    return optimistic(attempt, what="failure record")


def clear_failure(table_name: str, tenant_id: str, job: str, item: str) -> None:
    """Forget a failing (not a parked) item: it succeeded, or is no longer due."""
    try:
        aws.table(table_name).delete_item(
            Key={"pk": keys.job_pk(tenant_id), "sk": failure_sk(job, item)},
            ConditionExpression="#state = :failed",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":failed": FAILED},
        )
    except ClientError as err:
        if not is_condition_failure(err):
            raise


def dismiss_failure(table_name: str, tenant_id: str, job: str, item: str) -> bool:
    """Delete a failure record whatever its state (an operator's decision); False if absent.
    A job retries the item, with a fresh budget, only while it is still due."""
    try:
        aws.table(table_name).delete_item(
            Key={"pk": keys.job_pk(tenant_id), "sk": failure_sk(job, item)},
            ConditionExpression="attribute_exists(pk)",
        )
    except ClientError as err:
        if is_condition_failure(err):
            return False
        raise
    return True


class JobItems:
    """One tenant's items in one run of a job: parked items are skipped, failures recorded,
    recovered items cleared. Reads the tenant's failure records of the job once (one Query,
    optionally limited to item keys from ``first`` through ``last``)."""

    def __init__(
        self,
        table_name: str,
        tenant_id: str,
        job: str,
        run_at: datetime,
        *,
        first: str | None = None,
        last: str | None = None,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.table_name = table_name
        self.tenant_id = tenant_id
        self.job = job
        self.run_at = run_at
        self.max_attempts = max_attempts
        self.known = {f.item: f for f in list_failures(table_name, tenant_id, job, first=first, last=last)}
        self.seen: set[str] = set()
        self.failed_count = 0  # items that failed in this run (parked ones included)
        self.parked_count = 0  # items this run parked

    def is_parked(self, item: str) -> bool:
        self.seen.add(item)
        failure = self.known.get(item)
        return failure is not None and failure.state == PARKED

    def succeeded(self, item: str) -> None:
        self.seen.add(item)
        failure = self.known.pop(item, None)
        if failure is not None and failure.state == FAILED:
            clear_failure(self.table_name, self.tenant_id, self.job, item)

    def failed(self, item: str, err: BaseException) -> ItemFailure:
        self.seen.add(item)
        failure = record_failure(
            self.table_name, self.tenant_id, self.job, item, err, self.run_at, self.max_attempts
        )
        self.known[item] = failure
        self.failed_count += 1
        if failure.state == PARKED and failure.parked_at == iso(self.run_at):
            self.parked_count += 1
        return failure

    def forget_unseen(self) -> None:
        """After a complete pass: failing items this run did not meet are no longer due
        (answered, withdrawn, erased). Parked ones stay listed."""
        for item, failure in list(self.known.items()):
            if item not in self.seen and failure.state == FAILED:
                clear_failure(self.table_name, self.tenant_id, self.job, item)
                del self.known[item]


def log_failure(logger: Any, what: str, failure: ItemFailure, **extra: Any) -> None:
    """Log a failed item without personal data (what its failure record holds, never the
    exception itself, whose message may hold an address): a warning while it will be
    retried, an error once parked."""
    fields = {
        "tenant": failure.tenant_id,
        "job": failure.job,
        "state": failure.state,
        "attempts": failure.attempts,
        "error_class": failure.error_class,
        "error_code": failure.error_code,
        "error_message": failure.error_message,
        "where": failure.where,
        **extra,
    }
    if failure.state == PARKED:
        logger.error(f"{what}: parked after {failure.attempts} failed runs", extra=fields)
    else:
        logger.warning(f"{what}: will be retried", extra=fields)


def log_tenant_failure(logger: Any, what: str, tenant_id: str, err: BaseException) -> None:
    """Log a failure of a tenant's whole pass (its marker, an index read), without personal data."""
    info = describe_error(err)
    logger.error(
        what,
        extra={
            "tenant": tenant_id,
            "error_class": info.error_class,
            "error_code": info.error_code,
            "error_message": info.message,
            "where": info.where,
        },
    )
