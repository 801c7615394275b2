"""The audit trail of admin actions: data access.

One append-only item per action, in one partition per tenant: pk ``T#<t>#AUDIT``,
sk ``<at>#<entry id>`` (``at`` the request time, millisecond-precise, so the sort key
orders entries by time). Read newest first with a Query, paged with a checked cursor.
Only admin actions and erasures write it (a few a day, not one per event), so the
single partition per tenant is never hot.

An entry says who (the key's id, never the key; the storefront for a storefront key),
what (``action``), on what (``target``: a storefront, key, member, adjustment, care rule
or staff id) and a few ``details``; never a member's or a staff member's personal data.

Where the action is one transaction, its entry is written in that transaction
(:func:`put_op`). Otherwise it is written after the action, once
(:func:`record_once`): together with a marker ``T#<t>#AUDIT#ONCE`` / ``<once key>``
that must not exist, so a retried or replayed request records the action a single
time, and a request retried after a failure between the action and its entry
records it then."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from botocore.exceptions import ClientError

from loyalty import aws
from loyalty.commit import optimistic
from loyalty.dynamo import cancellation_codes, plain, query_page, transact_write
from loyalty.timeutil import iso

Action = Literal[
    "storefront.created",
    "storefront.scopes_set",
    "storefront.rate_limit_set",
    "key.issued",
    "key.revoked",
    "admin_key.issued",
    "admin_key.revoked",
    "points.adjusted",
    "member.erased",
    "care_rule.saved",
    "care_rule.disabled",
    "staff.saved",
    "care_template.saved",
    "care_template.removed",
]
ActorRole = Literal["admin", "storefront", "operator"]  # operator: make tenant, outside the API
PAGE_KEYS = ("pk", "sk")


@dataclass(frozen=True)
class Actor:
    role: ActorRole
    key_id: str
    storefront: str = ""


OPERATOR = Actor("operator", "")


def audit_pk(tenant: str) -> str:
    return f"T#{tenant}#AUDIT"


def once_pk(tenant: str) -> str:
    return f"T#{tenant}#AUDIT#ONCE"


def entry_item(
    tenant: str,
    at: datetime,
    actor: Actor,
    action: Action,
    target: str,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A new entry (a fresh id: two actions in the same millisecond are two entries)."""
    when = iso(at)
    entry_id = secrets.token_hex(8)
    item: dict[str, Any] = {
        "pk": audit_pk(tenant),
        "sk": f"{when}#{entry_id}",
        "kind": "audit",
        "tenant_id": tenant,
        "entry_id": entry_id,
        "at": when,
        "action": action,
        "target": target,
        "actor_role": actor.role,
        "actor_key_id": actor.key_id,
        "details": details or {},
    }
    if actor.storefront:
        item["actor_storefront"] = actor.storefront
    return item


def put_op(table_name: str, item: dict[str, Any]) -> dict[str, Any]:
    """The entry as one operation of the action's own transaction."""
    return {"Put": {"TableName": table_name, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}


def record_once(table_name: str, item: dict[str, Any], once: str) -> bool:
    """Write the entry unless an entry with the same ``once`` key was written before;
    True when this call wrote it. Throttling, conflicts and timeouts are retried (an
    attempt whose write went in before a timeout finds its marker)."""
    marker = {
        "pk": once_pk(str(item["tenant_id"])),
        "sk": once,
        "kind": "audit_once",
        "entry_sk": item["sk"],
    }

    def attempt() -> bool:
        try:
            transact_write(
                [
                    put_op(table_name, item),
                    {
                        "Put": {
                            "TableName": table_name,
                            "Item": marker,
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        except ClientError as err:
            if "ConditionalCheckFailed" in cancellation_codes(err):
                return False
            raise
        return True

    return optimistic(attempt, what="audit trail")


def entries(
    table_name: str, tenant: str, limit: int, start: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the tenant's entries, newest first, and the cursor for the next."""
    partition = audit_pk(tenant)
    items, next_cursor = query_page(
        aws.table(table_name),
        PAGE_KEYS,
        {"pk": partition},
        start,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": partition},
        ScanIndexForward=False,
        ConsistentRead=True,
        Limit=limit,
    )
    found = [
        {
            "at": item["at"],
            "action": item["action"],
            "target": item["target"],
            "actor_role": item["actor_role"],
            "actor_key_id": item["actor_key_id"],
            "actor_storefront": item.get("actor_storefront"),
            "details": plain(item.get("details") or {}),
        }
        for item in items
    ]
    return found, next_cursor
