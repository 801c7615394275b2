"""Data access for care rules: the birthday and registration indexes, and each tenant's rule set.

A tenant's rules live in one partition, ``T#<t>#CARE`` (docs/data-model.md):

* the head ``RULE#`` (written once, when the default rules are seeded);
* each rule's current version ``RULE#<id>`` (rewritten by every save, conditioned on
  the version it replaces);
* every version ``RULEV#<id>#<version, 6 digits>``, immutable (written once,
  conditioned on not existing).

The head sorts before every rule, so one Query (``begins_with RULE#``) lists the rule
set and says whether it was seeded; the partition grows with configuration (rules
and their edits), never with members or events. A save writes the current item, its
version and the audit entry in one transaction. A rule is stored as its canonical
JSON (``ruleset.canonical``), so what is read back is exactly what was validated."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from care_rules.ruleset import StoredRule, canonical, parse
from loyalty import audit, aws, cursor, keys
from loyalty.commit import LostRace, optimistic
from loyalty.dynamo import cancellation_codes, query_all, query_page, transact_write
from loyalty.errors import ValidationFailed

PAGE_KEYS = ("pk", "sk")


def members_with_birthday(table_name: str, tenant: str, month_day: str) -> Iterator[dict[str, Any]]:
    """Query the birthday index (gsi1) for one month-day; each page read is retried on
    throttling and timeouts."""
    return query_all(
        aws.table(table_name),
        IndexName="gsi1",
        KeyConditionExpression="gsi1pk = :pk",
        ExpressionAttributeValues={":pk": keys.birthday_pk(tenant, month_day)},
    )


def members_registered_on(table_name: str, tenant: str, month_day: str) -> Iterator[dict[str, Any]]:
    """Query the registration anniversary index (gsi2 of the members' stats items) for one
    program-local month-day."""
    return query_all(
        aws.table(table_name),
        IndexName="gsi2",
        KeyConditionExpression="gsi2pk = :pk",
        ExpressionAttributeValues={":pk": keys.registration_pk(tenant, month_day)},
    )


def member_profile(table_name: str, tenant: str, member: str) -> dict[str, Any]:
    """A member's profile (its time zone places a registration anniversary)."""
    key = {"pk": keys.member_pk(tenant, member), "sk": keys.PROFILE_SK}
    item: dict[str, Any] = (
        optimistic(lambda: aws.table(table_name).get_item(Key=key), what="profile").get("Item") or {}
    )
    return item


# Rule set -----------------------------------------------------------------------


def _attributes(tenant: str, stored: StoredRule, saved_by: str) -> dict[str, Any]:
    return {
        "pk": keys.care_pk(tenant),
        "tenant_id": tenant,
        "rule_id": stored.rule_id,
        "version": stored.version,
        "enabled": stored.enabled,
        "rule": canonical(stored.rule),
        "saved_at": stored.saved_at,
        "saved_by": saved_by,
    }


def rule_item(tenant: str, stored: StoredRule, saved_by: str) -> dict[str, Any]:
    return {
        **_attributes(tenant, stored, saved_by),
        "sk": keys.care_rule_sk(stored.rule_id),
        "kind": "care_rule",
    }


def version_item(tenant: str, stored: StoredRule, saved_by: str) -> dict[str, Any]:
    return {
        **_attributes(tenant, stored, saved_by),
        "sk": keys.care_rule_version_sk(stored.rule_id, stored.version),
        "kind": "care_rule_version",
    }


def _stored(item: dict[str, Any]) -> StoredRule:
    return StoredRule(
        rule_id=str(item["rule_id"]),
        version=int(item["version"]),
        rule=parse(str(item["rule"])),
        saved_at=str(item["saved_at"]),
    )


def list_rules(table_name: str, tenant: str) -> tuple[bool, list[StoredRule]]:
    """Whether the tenant's rule set was seeded, and its current rules by id: one Query
    (more pages only past 1 MB of rules)."""
    found = list(
        query_all(
            aws.table(table_name),
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": keys.care_pk(tenant), ":prefix": keys.CARE_RULE_PREFIX},
            ConsistentRead=True,
        )
    )
    head = any(item["sk"] == keys.CARE_RULES_HEAD_SK for item in found)
    return head, [_stored(item) for item in found if item["sk"] != keys.CARE_RULES_HEAD_SK]


def _get(table_name: str, tenant: str, sk: str) -> dict[str, Any] | None:
    """A consistent GetItem, retried on throttling and timeouts (the care engine reads rules
    and versions for every firing it delivers)."""
    key = {"pk": keys.care_pk(tenant), "sk": sk}

    def read() -> dict[str, Any] | None:
        item: dict[str, Any] | None = aws.table(table_name).get_item(Key=key, ConsistentRead=True).get("Item")
        return item

    return optimistic(read, what="care rule")


def get_rule(table_name: str, tenant: str, rule_id: str) -> StoredRule | None:
    item = _get(table_name, tenant, keys.care_rule_sk(rule_id))
    return _stored(item) if item else None


def get_version(table_name: str, tenant: str, rule_id: str, version: int) -> StoredRule | None:
    """One version of a rule (immutable once written)."""
    item = _get(table_name, tenant, keys.care_rule_version_sk(rule_id, version))
    return _stored(item) if item else None


def is_seeded(table_name: str, tenant: str) -> bool:
    return _get(table_name, tenant, keys.CARE_RULES_HEAD_SK) is not None


def _put(table_name: str, item: dict[str, Any], condition: str, values: dict[str, Any] | None = None) -> Any:
    body: dict[str, Any] = {"TableName": table_name, "Item": item, "ConditionExpression": condition}
    if values:
        body["ExpressionAttributeValues"] = values
    return {"Put": body}


def seed(table_name: str, tenant: str, rules: list[StoredRule], at: str) -> bool:
    """Write the head and version 1 of each default rule in one transaction, unless the
    head exists; False when it did (another request seeded first)."""
    head = {
        "pk": keys.care_pk(tenant),
        "sk": keys.CARE_RULES_HEAD_SK,
        "kind": "care_rules_head",
        "tenant_id": tenant,
        "seeded_at": at,
        "defaults": [stored.rule_id for stored in rules],
    }
    new = "attribute_not_exists(pk)"
    operations = [_put(table_name, head, new)]
    for stored in rules:
        operations.append(_put(table_name, rule_item(tenant, stored, "defaults"), new))
        operations.append(_put(table_name, version_item(tenant, stored, "defaults"), new))
    try:
        transact_write(operations)
    except ClientError as err:
        if "ConditionalCheckFailed" in cancellation_codes(err):
            return False
        raise
    return True


def save(
    table_name: str,
    tenant: str,
    before: StoredRule | None,
    after: StoredRule,
    saved_by: str,
    audit_entry: dict[str, Any],
) -> None:
    """The new current version, its version item and the audit entry, in one transaction
    conditioned on the current version being ``before``; :class:`LostRace` when it changed."""
    if before is None:
        current = _put(table_name, rule_item(tenant, after, saved_by), "attribute_not_exists(pk)")
    else:
        current = _put(
            table_name, rule_item(tenant, after, saved_by), "version = :read", {":read": before.version}
        )
    operations = [
        current,
        _put(table_name, version_item(tenant, after, saved_by), "attribute_not_exists(pk)"),
        audit.put_op(table_name, audit_entry),
    ]
    try:
        transact_write(operations)
    except ClientError as err:
        if "ConditionalCheckFailed" in cancellation_codes(err):
            raise LostRace(f"care rule {after.rule_id} changed since it was read") from err
        raise


def earlier_versions(
    table_name: str, tenant: str, current: StoredRule, limit: int, start: str | None
) -> tuple[list[StoredRule], str | None]:
    """One page of the versions before ``current``, newest first, and the next cursor."""
    if current.version <= 1:
        return [], None
    partition = keys.care_pk(tenant)
    prefix = keys.care_rule_versions_prefix(current.rule_id)
    start_key = cursor.decode(start, PAGE_KEYS, {"pk": partition})
    if start_key is not None and not str(start_key["sk"]).startswith(prefix):
        raise ValidationFailed("cursor is not valid", field="cursor", code="invalid_cursor")
    items, next_cursor = query_page(
        aws.table(table_name),
        PAGE_KEYS,
        {"pk": partition},
        start,
        KeyConditionExpression="pk = :pk AND sk BETWEEN :first AND :last",
        ExpressionAttributeValues={
            ":pk": partition,
            ":first": keys.care_rule_version_sk(current.rule_id, 1),
            ":last": keys.care_rule_version_sk(current.rule_id, current.version - 1),
        },
        ScanIndexForward=False,
        ConsistentRead=True,
        Limit=limit,
    )
    return [_stored(item) for item in items], next_cursor
