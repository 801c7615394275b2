"""Data access of the staff registry: read a person, list the registry, save a person
with its audit entry, and resolve who gets a task.

A tenant's staff live in one partition, ``T#<t>#STAFF`` / ``STAFF#<staff_id>``
(docs/data-model.md): the registry grows with the number of staff, configuration,
never with members or events. A read is one GetItem; a list is one Query of the
partition (more pages only past 1 MB of staff), filtered in memory by role, queue
and active, and paged with a checked cursor (the key of the last person answered).

A save is optimistic (``loyalty.commit.optimistic``): it reads the person, and
writes the new version and the ``staff.saved`` audit entry in one transaction
conditioned on the version it read (on the id being new for a creation); a lost
race or a transient fault reads again and retries, so a save that went in before
its reply was lost is found equal and not repeated. A save equal to what is stored
writes nothing. Nobody is deleted: ``active: false`` retires a person, and the
audit trail is the history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from loyalty import audit, aws, cursor, keys
from loyalty.commit import LostRace, optimistic
from loyalty.dynamo import cancellation_codes, query_all, transact_write
from loyalty.errors import ValidationFailed
from loyalty.staff.model import (
    DEFAULT_CALENDAR,
    DEFAULT_MAX_OPEN,
    REPORT_PERIODS,
    Staff,
    StaffMember,
    matches,
    revise,
)
from loyalty.timeutil import iso

PAGE_KEYS = ("pk", "sk")


@dataclass(frozen=True)
class Saved:
    staff: Staff
    created: bool  # the staff id was new
    changed: bool  # a version was written (False: the save repeated what is stored)


def staff_item(tenant: str, person: Staff, saved_by: str) -> dict[str, Any]:
    return {
        "pk": keys.staff_pk(tenant),
        "sk": keys.staff_sk(person.staff_id),
        "kind": "staff",
        "tenant_id": tenant,
        "staff_id": person.staff_id,
        **person.fields(),
        "version": person.version,
        "saved_at": person.saved_at,
        "saved_by": saved_by,
    }


def staff_from_item(item: dict[str, Any]) -> Staff:
    """The person a stored staff item holds (one saved before ``calendar`` and
    ``max_open`` existed gets their defaults)."""
    return Staff(
        staff_id=str(item["staff_id"]),
        name=str(item["name"]),
        email=str(item["email"]),
        role=item["role"],
        queues=tuple(str(queue) for queue in item.get("queues") or ()),
        time_zone=str(item["time_zone"]),
        locale=item["locale"],
        active=bool(item["active"]),
        version=int(item["version"]),
        saved_at=str(item["saved_at"]),
        calendar=str(item.get("calendar", DEFAULT_CALENDAR)),  # saved before it existed: the default
        max_open=int(item.get("max_open", DEFAULT_MAX_OPEN)),
        reports=tuple(str(p) for p in item.get("reports", REPORT_PERIODS)),
    )


def get(table_name: str, tenant: str, staff_id: str) -> Staff | None:
    """The person ``staff_id`` (retired ones too); None when the tenant has no such id."""
    key = {"pk": keys.staff_pk(tenant), "sk": keys.staff_sk(staff_id)}
    item = aws.table(table_name).get_item(Key=key, ConsistentRead=True).get("Item")
    return staff_from_item(item) if item else None


def list_staff(
    table_name: str,
    tenant: str,
    *,
    role: str | None = None,
    queue: str | None = None,
    active: bool | None = None,
    limit: int = 50,
    start: str | None = None,
) -> tuple[list[Staff], str | None]:
    """One page of the people passing the filters, by id, and the cursor of the next
    page (None on the last). The cursor is checked to belong to the tenant's registry."""
    partition = keys.staff_pk(tenant)
    start_key = cursor.decode(start, PAGE_KEYS, {"pk": partition})
    if start_key is not None and not str(start_key["sk"]).startswith(keys.STAFF_PREFIX):
        raise ValidationFailed("cursor is not valid", field="cursor", code="invalid_cursor")
    query: dict[str, Any] = {
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": {":pk": partition, ":prefix": keys.STAFF_PREFIX},
        "ConsistentRead": True,
    }
    if start_key is not None:
        query["ExclusiveStartKey"] = start_key
    page: list[Staff] = []
    for item in query_all(aws.table(table_name), **query):
        person = staff_from_item(item)
        if not matches(person, role, queue, active):
            continue
        if len(page) == limit:  # one more passes: there is a next page
            last = page[-1]
            return page, cursor.encode({"pk": partition, "sk": keys.staff_sk(last.staff_id)})
        page.append(person)
    return page, None


def _write(table_name: str, tenant: str, before: Staff | None, after: Staff, entry: dict[str, Any]) -> None:
    put: dict[str, Any] = {
        "TableName": table_name,
        "Item": staff_item(tenant, after, str(entry["actor_key_id"])),
    }
    if before is None:
        put["ConditionExpression"] = "attribute_not_exists(pk)"
    else:
        put["ConditionExpression"] = "version = :read"
        put["ExpressionAttributeValues"] = {":read": before.version}
    try:
        transact_write([{"Put": put}, audit.put_op(table_name, entry)])
    except ClientError as err:
        if "ConditionalCheckFailed" in cancellation_codes(err):
            raise LostRace(f"staff {after.staff_id} changed since it was read") from err
        raise


def save(
    table_name: str,
    tenant: str,
    staff_id: str,
    person: StaffMember,
    program_locale: str,
    at: datetime,
    actor: audit.Actor,
) -> Saved:
    """Create or replace ``staff_id`` with ``person`` (a person saved without a locale
    gets ``program_locale`` when it is zh-CN or en): a new version and its audit entry,
    unless ``person`` is what is stored."""

    def attempt() -> Saved:
        before = get(table_name, tenant, staff_id)
        after = revise(before, staff_id, person, program_locale, iso(at))
        if after is None:
            assert before is not None  # revise keeps only an existing equal person
            return Saved(before, created=False, changed=False)
        details = {"version": after.version, "role": after.role, "active": after.active}
        entry = audit.entry_item(tenant, at, actor, "staff.saved", staff_id, details)
        _write(table_name, tenant, before, after, entry)
        return Saved(after, created=before is None, changed=True)

    return optimistic(attempt, what="staff")


def resolve_assignee(
    table_name: str, tenant: str, owner_id: str | None, fallback_id: str | None
) -> Staff | None:
    """Who gets a task: the owner when known and active, else the fallback when known
    and active, else None. At most two GetItems."""
    for staff_id in (owner_id, fallback_id):
        if not staff_id:
            continue
        person = get(table_name, tenant, staff_id)
        if person is not None and person.active:
            return person
    return None
