"""A tenant's care email template overrides: read, listed for the engine, saved and
removed.

An override is one item next to the tenant's rules, ``T#<t>#CARE`` /
``TPL#<template>#<locale>`` (``layout.template_sk``), holding the tenant's ``source``,
its ``version`` (1 when created, +1 on each change), ``saved_at`` and ``saved_by`` (the
admin key's id). A save or a removal writes the item and its audit entry
(``care_template.saved`` / ``care_template.removed``) in one transaction conditioned on
the version read, through ``loyalty.commit.optimistic``: a concurrent change re-reads
and decides again, a repeat of what is stored writes nothing, and a retried removal
finds nothing left to remove. A removed override's next save starts at version 1.

The engine reads every override of a tenant with one Query (``begins_with TPL#``): the
partition grows with configuration, never with members. Sources are validated by the
caller (``rendering.validate_source``) before they reach :func:`save`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from care_rules import layout
from care_rules.rendering import override_key
from loyalty import audit, aws, keys
from loyalty.commit import LostRace, optimistic
from loyalty.dynamo import cancellation_codes, query_all, transact_write
from loyalty.timeutil import iso


@dataclass(frozen=True)
class StoredTemplate:
    template_id: str
    locale: str
    source: str
    version: int
    saved_at: str
    saved_by: str


@dataclass(frozen=True)
class Saved:
    stored: StoredTemplate
    created: bool  # there was no override before
    changed: bool  # False: the source is the stored one, nothing was written


def _key(tenant: str, template_id: str, locale: str) -> dict[str, str]:
    return {"pk": keys.care_pk(tenant), "sk": layout.template_sk(template_id, locale)}


def _item(tenant: str, stored: StoredTemplate) -> dict[str, Any]:
    return {
        **_key(tenant, stored.template_id, stored.locale),
        "kind": "care_template",
        "tenant_id": tenant,
        "template_id": stored.template_id,
        "locale": stored.locale,
        "source": stored.source,
        "version": stored.version,
        "saved_at": stored.saved_at,
        "saved_by": stored.saved_by,
    }


def _stored(item: dict[str, Any]) -> StoredTemplate:
    return StoredTemplate(
        template_id=str(item["template_id"]),
        locale=str(item["locale"]),
        source=str(item["source"]),
        version=int(item["version"]),
        saved_at=str(item["saved_at"]),
        saved_by=str(item.get("saved_by", "")),
    )


def get(table_name: str, tenant: str, template_id: str, locale: str) -> StoredTemplate | None:
    """The tenant's override of ``template_id`` in ``locale`` (a consistent GetItem)."""
    key = _key(tenant, template_id, locale)
    item = aws.table(table_name).get_item(Key=key, ConsistentRead=True).get("Item")
    return _stored(item) if item else None


def overrides(table_name: str, tenant: str) -> dict[str, str]:
    """Every override of the tenant as ``{"<template_id>.<locale>": source}``, what
    ``rendering.render`` takes: one Query (more pages only past 1 MB of sources)."""
    found = query_all(
        aws.table(table_name),
        KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":pk": keys.care_pk(tenant), ":prefix": layout.TEMPLATE_PREFIX},
    )
    return {override_key(str(i["template_id"]), str(i["locale"])): str(i["source"]) for i in found}


def _commit(table_name: str, operation: dict[str, Any], entry: dict[str, Any], what: str) -> None:
    try:
        transact_write([operation, audit.put_op(table_name, entry)])
    except ClientError as err:
        if "ConditionalCheckFailed" in cancellation_codes(err):
            raise LostRace(f"the template override {what} changed since it was read") from err
        raise


def _condition(before: StoredTemplate | None) -> dict[str, Any]:
    if before is None:
        return {"ConditionExpression": "attribute_not_exists(pk)"}
    return {"ConditionExpression": "version = :read", "ExpressionAttributeValues": {":read": before.version}}


def save(
    table_name: str,
    tenant: str,
    template_id: str,
    locale: str,
    source: str,
    at: datetime,
    actor: audit.Actor,
) -> Saved:
    """Store ``source`` as the override: a new version, unless it is the stored source."""
    what = override_key(template_id, locale)

    def attempt() -> Saved:
        before = get(table_name, tenant, template_id, locale)
        if before is not None and before.source == source:
            return Saved(before, created=False, changed=False)
        after = StoredTemplate(
            template_id=template_id,
            locale=locale,
            source=source,
            version=(before.version + 1) if before else 1,
            saved_at=iso(at),
            saved_by=actor.key_id,
        )
        put = {"Put": {"TableName": table_name, "Item": _item(tenant, after), **_condition(before)}}
        details = {"template_id": template_id, "locale": locale, "version": after.version}
        entry = audit.entry_item(tenant, at, actor, "care_template.saved", what, details)
        _commit(table_name, put, entry, what)
        return Saved(after, created=before is None, changed=True)

    return optimistic(attempt, what="template override")


def remove(
    table_name: str, tenant: str, template_id: str, locale: str, at: datetime, actor: audit.Actor
) -> StoredTemplate | None:
    """Delete the override (the shipped template applies again); the removed override,
    None when there was none (nothing written)."""
    what = override_key(template_id, locale)

    def attempt() -> StoredTemplate | None:
        before = get(table_name, tenant, template_id, locale)
        if before is None:
            return None
        key = _key(tenant, template_id, locale)
        delete = {"Delete": {"TableName": table_name, "Key": key, **_condition(before)}}
        details = {"template_id": template_id, "locale": locale, "version": before.version}
        entry = audit.entry_item(tenant, at, actor, "care_template.removed", what, details)
        _commit(table_name, delete, entry, what)
        return before

    return optimistic(attempt, what="template override")
