"""Data access of care tasks, the member's send ledger and the rules' activity counters
(LoyaltyTable, keys in ``care_rules.layout``; docs/data-model.md lists the patterns).

* A task is one item, ``T#<t>#CT#<task_id>`` / ``TASK``. ``create`` writes it only if
  it does not exist, so a repeated attempt (the task id is derived from the firing)
  creates nothing. ``get`` is one consistent GetItem. ``update`` rewrites the task's
  fields and its index keys conditioned on the version it replaces (``LostRace``
  otherwise); ``close_task`` reads, decides (``tasks.close``) and updates, retrying a
  lost race or a transient fault with a fresh read, so a concurrent close is answered
  from what it stored: the same close is a no-op, another is a ``TaskClosed``.
* Lists read the task indexes: by status (gsi1 ``T#<t>#TASKS#<status>`` /
  ``<assignee>#<due_at>#<task_id>``) or by member (gsi2 ``T#<t>#TASKM#<member>`` /
  ``<status>#<due_at>#<task_id>``), each page one or more Queries of ``limit + 1``
  items, filtered in memory where the index cannot (assignee within a member, overdue
  across assignees) and read on until the page is full. Indexes are eventually
  consistent: a task created or closed a moment ago may be missing from a list, or
  listed under its former status, for about a second; a GetItem is always current.
  A cursor is the key of the last task answered plus a digest of the query, so a
  cursor of another query, tenant or status is a 400.
* The send ledger is read newest first from the member's partition (``CL#`` items);
  the activity of a rule is one Query per counter shard over the selected days.

No personal data is read or written here: a task holds ids, a title and figures."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from care_rules import layout, tasks
from care_rules.tasks import LedgerEntry, MemberSummary, Task
from loyalty import aws, cursor, keys
from loyalty.commit import LostRace, optimistic
from loyalty.dynamo import is_condition_failure, query_all, query_page
from loyalty.errors import ValidationFailed
from loyalty.timeutil import iso

KIND = "care_task"
LEDGER_PAGE_KEYS = ("pk", "sk")
_FIELDS = tuple(name for name in Task.model_fields if name not in ("task_id", "tenant_id"))


def _key(tenant: str, task_id: str) -> dict[str, str]:
    return {"pk": layout.task_pk(tenant, task_id), "sk": layout.TASK_SK}


def _index(task: Task) -> dict[str, str]:
    return layout.task_index(
        task.tenant_id, task.member_id, task.assignee, task.status, task.due_at, task.task_id
    )


def _stored_fields(task: Task) -> dict[str, Any]:
    """The task's attributes, without the empty ones."""
    fields = task.model_dump()
    fields["summary"] = {k: v for k, v in fields["summary"].items() if v is not None}
    return {name: fields[name] for name in _FIELDS if fields[name] is not None}


def task_item(task: Task) -> dict[str, Any]:
    return {
        **_key(task.tenant_id, task.task_id),
        "kind": KIND,
        "tenant_id": task.tenant_id,
        "task_id": task.task_id,
        **_stored_fields(task),
        **_index(task),
    }


def _optional(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name)
    return None if value is None else str(value)


def _task(item: dict[str, Any]) -> Task:
    summary = item.get("summary") or {}
    return Task(
        task_id=str(item["task_id"]),
        tenant_id=str(item["tenant_id"]),
        member_id=str(item["member_id"]),
        assignee=str(item["assignee"]),
        rule_id=str(item["rule_id"]),
        rule_version=int(item["rule_version"]),
        title=str(item["title"]),
        status=item["status"],
        due_at=str(item["due_at"]),
        created_at=str(item["created_at"]),
        summary=MemberSummary(
            tier=_optional(summary, "tier"),
            last_order_at=_optional(summary, "last_order_at"),
            lifetime_spend=str(summary.get("lifetime_spend", "0")),
            open_tickets=int(summary.get("open_tickets", 0)),
        ),
        assigned_by=item["assigned_by"],
        version=int(item["version"]),
        closed_at=_optional(item, "closed_at"),
        closed_by=_optional(item, "closed_by"),
        outcome=_optional(item, "outcome"),
    )


def create(table_name: str, task: Task) -> bool:
    """Store a new task; False (and nothing written) when it exists already."""
    try:
        aws.table(table_name).put_item(Item=task_item(task), ConditionExpression="attribute_not_exists(pk)")
    except ClientError as err:
        if is_condition_failure(err):
            return False
        raise
    return True


def get(table_name: str, tenant: str, task_id: str) -> Task | None:
    """The task, read consistently; None when the tenant has no such task."""
    item = aws.table(table_name).get_item(Key=_key(tenant, task_id), ConsistentRead=True).get("Item")
    return _task(item) if item else None


def update(table_name: str, task: Task, expected_version: int) -> None:
    """Write ``task`` over the stored version ``expected_version``, its index keys moved
    to its status; ``LostRace`` when the stored task is another version (or gone)."""
    values = {**_stored_fields(task), **_index(task)}
    removed = [name for name in _FIELDS if name not in values]
    names = {f"#{name}": name for name in [*values, *removed, "version"]}
    expression = "SET " + ", ".join(f"#{name} = :{name}" for name in values)
    if removed:
        expression += " REMOVE " + ", ".join(f"#{name}" for name in removed)
    try:
        aws.table(table_name).update_item(
            Key=_key(task.tenant_id, task.task_id),
            UpdateExpression=expression,
            ConditionExpression="#version = :expected",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={
                **{f":{k}": v for k, v in values.items()},
                ":expected": expected_version,
            },
        )
    except ClientError as err:
        if is_condition_failure(err):
            raise LostRace(f"care task {task.task_id} changed since it was read") from err
        raise


@dataclass(frozen=True)
class Closed:
    task: Task
    changed: bool  # False: the task was closed this way already


def close_task(
    table_name: str,
    tenant: str,
    task_id: str,
    status: str,
    outcome: str | None,
    at: datetime,
    by: str,
) -> Closed | None:
    """Close the task (``tasks.close``); None when the tenant has no such task."""

    def attempt() -> Closed | None:
        before = get(table_name, tenant, task_id)
        if before is None:
            return None
        after = tasks.close(before, status, outcome, at, by)
        if after is before:
            return Closed(before, changed=False)
        update(table_name, after, before.version)
        return Closed(after, changed=True)

    return optimistic(attempt, what="care task")


# Lists -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    index: str  # gsi1 or gsi2
    partition: str
    low: str  # the sort key prefix ("" for the whole partition)
    high: str | None  # an upper bound (overdue), else None
    keep: Callable[[Task], bool]
    digest: str

    @property
    def page_keys(self) -> tuple[str, ...]:
        return ("pk", "sk", f"{self.index}pk", f"{self.index}sk")


def _plan(
    tenant: str, status: str, assignee: str | None, member_id: str | None, overdue_at: datetime | None
) -> _Plan:
    now = iso(overdue_at) if overdue_at is not None else None
    shape = f"{status}\n{assignee or ''}\n{member_id or ''}\n{overdue_at is not None}"
    digest = hashlib.sha256(shape.encode()).hexdigest()[:16]

    def keep(task: Task) -> bool:
        return (
            task.status == status
            and (assignee is None or task.assignee == assignee)
            and (member_id is None or task.member_id == member_id)
            and (overdue_at is None or tasks.is_overdue(task, overdue_at))
        )

    if member_id is not None:
        partition, low = layout.tasks_by_member_pk(tenant, member_id), f"{status}#"
        return _Plan("gsi2", partition, low, f"{low}{now}" if now else None, keep, digest)
    partition = layout.tasks_by_status_pk(tenant, status)
    if assignee is not None:
        low = f"{assignee}#"
        return _Plan("gsi1", partition, low, f"{low}{now}" if now else None, keep, digest)
    return _Plan("gsi1", partition, "", None, keep, digest)


def _start(plan: _Plan, tenant: str, start: str | None) -> dict[str, Any] | None:
    fields = (*plan.page_keys, "q")
    key = cursor.decode(start, fields, {f"{plan.index}pk": plan.partition, "q": plan.digest})
    if key is None:
        return None
    if (
        not str(key["pk"]).startswith(layout.task_pk(tenant, ""))
        or key["sk"] != layout.TASK_SK
        or not str(key[f"{plan.index}sk"]).startswith(plan.low)
    ):
        raise ValidationFailed("cursor is not valid", field="cursor", code="invalid_cursor")
    del key["q"]
    return key


def _condition(plan: _Plan) -> tuple[str, dict[str, str]]:
    pk, sk = f"{plan.index}pk", f"{plan.index}sk"
    values = {":pk": plan.partition}
    if plan.high is not None:
        values.update({":low": plan.low, ":high": plan.high})
        return f"{pk} = :pk AND {sk} BETWEEN :low AND :high", values
    if plan.low:
        values[":low"] = plan.low
        return f"{pk} = :pk AND begins_with({sk}, :low)", values
    return f"{pk} = :pk", values


def list_tasks(
    table_name: str,
    tenant: str,
    *,
    status: str = "open",
    assignee: str | None = None,
    member_id: str | None = None,
    overdue_at: datetime | None = None,
    limit: int = 50,
    cursor_text: str | None = None,
) -> tuple[list[Task], str | None]:
    """One page of the tenant's tasks with ``status`` (of ``assignee``, of ``member_id``,
    due before ``overdue_at``), by assignee then due time (by due time for a member),
    and the cursor of the next page (None on the last)."""
    plan = _plan(tenant, status, assignee, member_id, overdue_at)
    condition, values = _condition(plan)
    query: dict[str, Any] = {
        "IndexName": plan.index,
        "KeyConditionExpression": condition,
        "ExpressionAttributeValues": values,
        "Limit": limit + 1,
    }
    start_key = _start(plan, tenant, cursor_text)
    if start_key is not None:
        query["ExclusiveStartKey"] = start_key
    page: list[tuple[Task, dict[str, Any]]] = []
    for item in query_all(aws.table(table_name), **query):
        task = _task(item)
        if not plan.keep(task):
            continue
        if len(page) == limit:  # one more passes: there is a next page
            last = {name: page[-1][1][name] for name in plan.page_keys}
            return [t for t, _ in page], cursor.encode({**last, "q": plan.digest})
        page.append((task, item))
    return [t for t, _ in page], None


# The send ledger and activity -------------------------------------------------------


def _entry(item: dict[str, Any]) -> LedgerEntry:
    return LedgerEntry(
        rule_id=str(item["rule_id"]),
        version=int(item["version"]),
        at=str(item["at"]),
        outcome=str(item["outcome"]),
        reason=_optional(item, "reason"),
        action_type=_optional(item, "action_type"),
        task_id=_optional(item, "task_id"),
    )


def ledger_page(
    table_name: str, tenant: str, member_id: str, limit: int, cursor_text: str | None
) -> tuple[list[LedgerEntry], str | None]:
    """One page of the member's send ledger, newest first: one Query of the member's
    partition. The cursor must be a ledger position in the member's own partition."""
    pk = keys.member_pk(tenant, member_id)
    start = cursor.decode(cursor_text, LEDGER_PAGE_KEYS, {"pk": pk})
    if start is not None and not str(start["sk"]).startswith(layout.LEDGER_PREFIX):
        raise ValidationFailed("cursor is not valid", field="cursor", code="invalid_cursor")
    items, next_cursor = query_page(
        aws.table(table_name),
        LEDGER_PAGE_KEYS,
        {"pk": pk},
        cursor_text,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":pk": pk, ":prefix": layout.LEDGER_PREFIX},
        ScanIndexForward=False,
        Limit=limit,
    )
    return [_entry(item) for item in items], next_cursor


def activity(table_name: str, tenant: str, rule_id: str, first: str, last: str) -> tasks.Activity:
    """The rule's counters from day ``first`` through ``last`` (inclusive), summed over
    every shard: one Query per shard."""
    table = aws.table(table_name)
    counters: list[dict[str, Any]] = []
    for pk in layout.activity_pks(tenant, rule_id):
        counters.extend(
            query_all(
                table,
                KeyConditionExpression="pk = :pk AND sk BETWEEN :first AND :last",
                ExpressionAttributeValues={":pk": pk, ":first": first, ":last": last},
            )
        )
    return tasks.sum_activity(counters)
