"""Writes of the credential registry: a storefront with its first key, a key
issued or revoked, a storefront's rate limit and scopes, a tenant's admin keys.

Each key change writes the key list (optimistic on its ``version``), the
credential it adds or deactivates and the audit entries in one transaction; a
lost race raises ``StaleStorefront`` / ``StaleAdminKeys`` (``LostRace``), which
the caller's ``loyalty.commit.optimistic`` reads again and retries. Revoking a
key deactivates it at once in the table (API Gateway may keep a cached
authorizer decision for up to its cache TTL, 300 s)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from loyalty import audit, aws, keys
from loyalty.commit import LostRace
from loyalty.credentials.model import AdminKeys, Credential, Storefront, hash_key
from loyalty.credentials.reads import (
    admin_keys_item,
    credential_item,
    get_storefront,
    storefront_item,
    storefront_key,
)
from loyalty.dynamo import cancellation_codes, transact_write


class StorefrontExists(Exception):
    pass


class StaleStorefront(LostRace):
    """The storefront changed between read and write; read again and retry."""


class StaleAdminKeys(LostRace):
    """The tenant's admin keys changed between read and write; read again and retry."""


def put_credential(table_name: str, plaintext: str, credential: Credential, now: datetime) -> None:
    """Store a credential directly (tenant bootstrap: the admin key, seeded keys)."""
    aws.table(table_name).put_item(Item=credential_item(plaintext, credential, now))


def set_access(
    table_name: str,
    tenant: str,
    storefront_id: str,
    *,
    rate_limit: int | None = None,
    scopes: list[str] | None = None,
    audit_entries: Sequence[dict[str, Any]] = (),
) -> Storefront | None:
    """Set the storefront's limit, its scopes, or both, with their audit entries, in one
    transaction; None when there is no such storefront. The version moves too, so a
    concurrent key change (a Put of the whole item) retries instead of writing the old
    values back."""
    sets = ["version = version + :one"]
    values: dict[str, Any] = {":one": 1}
    if rate_limit is not None:
        sets.append("rate_limit_per_second = :limit")
        values[":limit"] = rate_limit
    if scopes is not None:
        sets.append("scopes = :scopes")
        values[":scopes"] = scopes
    try:
        transact_write(
            [
                {
                    "Update": {
                        "TableName": table_name,
                        "Key": storefront_key(tenant, storefront_id),
                        "UpdateExpression": "SET " + ", ".join(sets),
                        "ConditionExpression": "attribute_exists(pk)",
                        "ExpressionAttributeValues": values,
                    }
                },
                *(audit.put_op(table_name, entry) for entry in audit_entries),
            ]
        )
    except ClientError as err:
        if cancellation_codes(err)[:1] == ["ConditionalCheckFailed"]:
            return None
        raise
    return get_storefront(table_name, tenant, storefront_id)


def create_storefront(
    table_name: str,
    storefront: Storefront,
    key_id: str,
    plaintext: str,
    now: datetime,
    audit_entries: Sequence[dict[str, Any]] = (),
) -> None:
    """The storefront and its first key, together (with their audit entries)."""
    item = storefront_item(storefront)
    credential = Credential(
        tenant_id=storefront.tenant_id,
        storefront=storefront.storefront_id,
        channel=storefront.channel,
        key_id=key_id,
        active=True,
    )
    try:
        transact_write(
            [
                {
                    "Put": {
                        "TableName": table_name,
                        "Item": item,
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                new_credential_op(table_name, plaintext, credential, now),
                *(audit.put_op(table_name, entry) for entry in audit_entries),
            ]
        )
    except ClientError as err:
        if cancellation_codes(err)[:1] == ["ConditionalCheckFailed"]:
            raise StorefrontExists(storefront.storefront_id) from err
        raise


def new_credential_op(
    table_name: str, plaintext: str, credential: Credential, now: datetime
) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": table_name,
            "Item": credential_item(plaintext, credential, now),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def _deactivate_op(table_name: str, key_hash: str) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": table_name,
            "Key": {"pk": keys.api_key_pk(key_hash), "sk": keys.API_KEY_SK},
            "UpdateExpression": "SET active = :f",
            "ExpressionAttributeValues": {":f": False},
            "ConditionExpression": "attribute_exists(pk)",
        }
    }


def _commit_key_change(
    table_name: str,
    ops: list[dict[str, Any]],
    now: datetime,
    credential: Credential | None,
    plaintext: str | None,
    revoked_hash: str | None,
    audit_entries: Sequence[dict[str, Any]],
    stale: LostRace,
) -> None:
    """One transaction: the key list's write (``ops``, conditioned on its version), the
    credential it adds or deactivates, and the audit entries. ``stale`` is raised when
    the key list changed since it was read."""
    if credential is not None and plaintext is not None:
        ops.append(new_credential_op(table_name, plaintext, credential, now))
    if revoked_hash is not None:
        ops.append(_deactivate_op(table_name, revoked_hash))
    ops += [audit.put_op(table_name, entry) for entry in audit_entries]
    try:
        transact_write(ops)
    except ClientError as err:
        if cancellation_codes(err)[:1] == ["ConditionalCheckFailed"]:
            raise stale from err
        raise


def save_keys(
    table_name: str,
    before: Storefront,
    after: Storefront,
    now: datetime,
    *,
    plaintext: str | None = None,
    revoked_hash: str | None = None,
    audit_entries: Sequence[dict[str, Any]] = (),
) -> None:
    """Write the storefront's new key list (optimistic on its version) together with
    the credential it adds (``plaintext``) or deactivates (``revoked_hash``) and the
    audit entries."""
    ops: list[dict[str, Any]] = [
        {
            "Put": {
                "TableName": table_name,
                "Item": storefront_item(after),
                "ConditionExpression": "version = :v",
                "ExpressionAttributeValues": {":v": before.version},
            }
        }
    ]
    credential = None
    if plaintext is not None:
        key_id = next(k for k in after.keys if k not in before.keys)
        credential = Credential(
            tenant_id=after.tenant_id,
            storefront=after.storefront_id,
            channel=after.channel,
            key_id=key_id,
            active=True,
        )
    _commit_key_change(
        table_name,
        ops,
        now,
        credential,
        plaintext,
        revoked_hash,
        audit_entries,
        StaleStorefront(after.storefront_id),
    )


def save_admin_keys(
    table_name: str,
    before: AdminKeys | None,
    after: AdminKeys,
    now: datetime,
    *,
    plaintext: str | None = None,
    revoked_hash: str | None = None,
    audit_entries: Sequence[dict[str, Any]] = (),
) -> None:
    """Write the tenant's new admin-key list (optimistic on its version, or created when
    ``before`` is None) together with the credential it adds (``plaintext``) or
    deactivates (``revoked_hash``) and the audit entries."""
    condition: dict[str, Any] = (
        {"ConditionExpression": "attribute_not_exists(pk)"}
        if before is None
        else {"ConditionExpression": "version = :v", "ExpressionAttributeValues": {":v": before.version}}
    )
    ops: list[dict[str, Any]] = [
        {"Put": {"TableName": table_name, "Item": admin_keys_item(after), **condition}}
    ]
    credential = None
    if plaintext is not None:
        key_hash = hash_key(plaintext)
        key_id = next(k.key_id for k in after.keys.values() if k.key_hash == key_hash)
        credential = Credential(tenant_id=after.tenant_id, role="admin", key_id=key_id, active=True)
    _commit_key_change(
        table_name,
        ops,
        now,
        credential,
        plaintext,
        revoked_hash,
        audit_entries,
        StaleAdminKeys(after.tenant_id),
    )
