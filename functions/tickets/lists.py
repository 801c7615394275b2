"""Data access for ticket lists: ``GET /v1/tickets`` reads one index, chosen by the most
selective filter given, and applies the other filters to the summaries it reads.

* ``member_id``: the member's ticket entries (``TICKET#``, a Query of the member's partition);
* ``breaching=true``: the breaching index (``T#<t>#TKB``, up to now: the tickets whose
  earliest running target is due within its warning lead or past), most urgent first;
* ``assignee`` (``-``: nobody): the assignee index, narrowed to a ``status`` by its sort key;
* ``queue``: the queue index, narrowed to a ``status`` the same way;
* ``status``: the status index;
* nothing: every ticket.

Lists other than the breaching one are newest first. A page holds at most ``limit``
summaries; its cursor is the index key of the last one answered, checked to belong to
the same index partition. Summaries carry no text (no subject): ``GET /v1/tickets/{id}``
reads the ticket."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from loyalty import aws, cursor, keys
from loyalty.errors import ValidationFailed
from loyalty.timeutil import iso
from tickets import layout
from tickets.desk import is_breaching

PAGE_SIZE = 100  # items read per Query page while filtering


@dataclass(frozen=True)
class Filters:
    status: str | None = None
    assignee: str | None = None  # "-": unassigned
    queue: str | None = None
    member_id: str | None = None
    breaching: bool = False


@dataclass(frozen=True)
class _Read:
    pk_name: str
    pk: str
    query: dict[str, Any]
    page_keys: tuple[str, ...]


def _plan(tenant: str, f: Filters, now: datetime) -> _Read:
    if f.member_id:
        pk = keys.member_pk(tenant, f.member_id)
        query = {
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": pk, ":prefix": keys.MEMBER_TICKET_PREFIX},
            "ScanIndexForward": False,
        }
        return _Read("pk", pk, query, ("pk", "sk"))
    if f.breaching:
        pk = layout.breaching_pk(tenant)
        query = {
            "IndexName": "gsi2",
            "KeyConditionExpression": "gsi2pk = :pk AND gsi2sk <= :now",
            "ExpressionAttributeValues": {":pk": pk, ":now": f"{iso(now)}#~"},
        }
        return _Read("gsi2pk", pk, query, ("pk", "sk", "gsi2pk", "gsi2sk"))
    index, pk, prefix = "gsi1", layout.all_pk(tenant), None
    if f.assignee:
        index, pk, prefix = (
            "gsi1",
            layout.assignee_pk(tenant, None if f.assignee == "-" else f.assignee),
            f.status,
        )
    elif f.queue:
        index, pk, prefix = "gsi2", layout.queue_pk(tenant, f.queue), f.status
    elif f.status:
        index, pk = "gsi1", layout.status_pk(tenant, f.status)
    values: dict[str, str] = {":pk": pk}
    condition = f"{index}pk = :pk"
    if prefix:
        condition += f" AND begins_with({index}sk, :prefix)"
        values[":prefix"] = f"{prefix}#"
    query = {
        "IndexName": index,
        "ScanIndexForward": False,
        "KeyConditionExpression": condition,
        "ExpressionAttributeValues": values,
    }
    return _Read(f"{index}pk", pk, query, ("pk", "sk", f"{index}pk", f"{index}sk"))


def _passes(item: dict[str, Any], f: Filters, now: datetime) -> bool:
    return (
        (f.status is None or item.get("status") == f.status)
        and (f.assignee is None or item.get("assignee", "-") == f.assignee)
        and (f.queue is None or item.get("queue") == f.queue)
        and (f.member_id is None or item.get("member_id") == f.member_id)
        and (not f.breaching or is_breaching(item.get("next_due"), now))
    )


def list_tickets(
    table_name: str, tenant: str, f: Filters, now: datetime, limit: int, start: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the summaries passing ``f``, and the cursor of the next (None: last)."""
    read = _plan(tenant, f, now)
    start_key = cursor.decode(start, read.page_keys, {read.pk_name: read.pk})
    if start and start_key is None:
        raise ValidationFailed("cursor is not valid", field="cursor", code="invalid_cursor")
    table = aws.table(table_name)
    query = {**read.query, "Limit": PAGE_SIZE}
    if start_key is not None:
        query["ExclusiveStartKey"] = start_key
    page: list[dict[str, Any]] = []
    while True:
        answer = table.query(**query)
        for item in answer["Items"]:
            if not _passes(item, f, now):
                continue
            page.append(item)
            if len(page) == limit:
                return page, cursor.encode({name: item[name] for name in read.page_keys})
        last = answer.get("LastEvaluatedKey")
        if last is None:
            return page, None
        query["ExclusiveStartKey"] = last
