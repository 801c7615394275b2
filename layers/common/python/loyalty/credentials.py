"""Storefront and admin credentials: data access.

A key is ``<prefix>_<key_id>_<secret>`` with 256 random bits; only its SHA-256
is stored (a fast hash suffices for a high-entropy secret). Each storefront
(tenant, channel) may hold two active keys, and so may each tenant's admin keys,
so a key can be rotated without downtime; revoking a key deactivates it at once
in the table (API Gateway may keep a cached authorizer decision for up to its
cache TTL, 300 s). A storefront's keys are listed on its item, a tenant's admin
keys on its admin-keys item (``TENANT#<t>`` / ``ADMINKEYS``); each key change
writes the list (optimistic on its ``version``), the credential and the audit
entry in one transaction.

A storefront may carry its own request rate limit (``rate_limit_per_second``);
without one, the deployment default (``STOREFRONT_RATE_LIMIT``) applies. The
authorizer reads it and hands it to the handlers, so a change also takes effect
within the authorizer cache TTL."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel

from loyalty import audit, aws, keys
from loyalty.commit import LostRace, optimistic
from loyalty.dynamo import cancellation_codes, transact_write
from loyalty.tenants import Tenant, tenant_item
from loyalty.timeutil import iso

Role = Literal["storefront", "admin"]
KEY_SK = "KEY"
ADMIN_KEYS_SK = "ADMINKEYS"
Scope = Literal[
    "events:write",
    "members:read",
    "members:write",
    "members:erase",
    "points:redeem",
    "tickets:read",
    "tickets:write",
]
ALL_SCOPES: tuple[str, ...] = (
    "events:write",
    "members:read",
    "members:write",
    "members:erase",
    "points:redeem",
    "tickets:read",
    "tickets:write",
)
# A storefront registered without scopes may do everything but erase members.
DEFAULT_SCOPES: tuple[str, ...] = tuple(s for s in ALL_SCOPES if s != "members:erase")


class Credential(BaseModel):
    tenant_id: str
    role: Role = "storefront"
    storefront: str = ""
    channel: str = ""
    key_id: str = ""
    active: bool


class StorefrontKey(BaseModel):
    key_id: str
    key_hash: str
    created_at: str
    revoked_at: str | None = None


class KeyRing(BaseModel):
    """Keys by id (active and revoked) and the version the list is written under."""

    keys: dict[str, StorefrontKey]
    version: int


class Storefront(KeyRing):
    tenant_id: str
    storefront_id: str
    name: str
    channel: str
    created_at: str
    rate_limit_per_second: int | None = None  # None: the deployment default
    scopes: list[str] | None = None  # None: DEFAULT_SCOPES

    @property
    def granted(self) -> tuple[str, ...]:
        return tuple(self.scopes) if self.scopes is not None else DEFAULT_SCOPES


class AdminKeys(KeyRing):
    """A tenant's admin keys; version 0 until first written."""

    tenant_id: str


class StorefrontExists(Exception):
    pass


class StaleStorefront(LostRace):
    """The storefront changed between read and write; read again and retry."""


class StaleAdminKeys(LostRace):
    """The tenant's admin keys changed between read and write; read again and retry."""


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def new_key(role: Role) -> tuple[str, str]:
    """A fresh (key_id, plaintext) pair."""
    key_id = secrets.token_hex(6)
    prefix = "sf" if role == "storefront" else "adm"
    return key_id, f"{prefix}_{key_id}_{secrets.token_urlsafe(32)}"


def _credential_item(plaintext: str, credential: Credential, now: datetime) -> dict[str, Any]:
    return {
        "pk": keys.api_key_pk(hash_key(plaintext)),
        "sk": KEY_SK,
        "kind": "api_key",
        **credential.model_dump(),
        "created_at": iso(now),
    }


def put_credential(table_name: str, plaintext: str, credential: Credential, now: datetime) -> None:
    """Store a credential directly (tenant bootstrap: the admin key, seeded keys)."""
    aws.table(table_name).put_item(Item=_credential_item(plaintext, credential, now))


def lookup(table_name: str, plaintext: str) -> Credential | None:
    item = (
        aws.table(table_name)
        .get_item(Key={"pk": keys.api_key_pk(hash_key(plaintext)), "sk": KEY_SK})
        .get("Item")
    )
    return Credential.model_validate(item) if item else None


def _storefront_key(tenant: str, storefront_id: str) -> dict[str, str]:
    return {"pk": keys.tenant_pk(tenant), "sk": f"STOREFRONT#{storefront_id}"}


def _storefront_from(item: dict[str, Any]) -> Storefront:
    return Storefront.model_validate({**item, "version": int(item["version"])})


def _storefront_item(storefront: Storefront) -> dict[str, Any]:
    item = {
        **_storefront_key(storefront.tenant_id, storefront.storefront_id),
        "kind": "storefront",
        **storefront.model_dump(mode="json"),
    }
    for optional in ("rate_limit_per_second", "scopes"):
        if item[optional] is None:
            del item[optional]
    return item


def get_storefront(table_name: str, tenant: str, storefront_id: str) -> Storefront | None:
    item = (
        aws.table(table_name)
        .get_item(Key=_storefront_key(tenant, storefront_id), ConsistentRead=True)
        .get("Item")
    )
    return _storefront_from(item) if item else None


def storefront_access(table_name: str, tenant: str, storefront_id: str) -> tuple[int | None, tuple[str, ...]]:
    """The storefront's own limit (requests per second, None when it has none) and
    its scopes (the default scopes when it has none)."""
    item = (
        aws.table(table_name)
        .get_item(
            Key=_storefront_key(tenant, storefront_id),
            ProjectionExpression="rate_limit_per_second, scopes",
        )
        .get("Item")
    ) or {}
    value = item.get("rate_limit_per_second")
    scopes = item.get("scopes")
    return (None if value is None else int(value)), (
        tuple(str(s) for s in scopes) if scopes is not None else DEFAULT_SCOPES
    )


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
                        "Key": _storefront_key(tenant, storefront_id),
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
    item = _storefront_item(storefront)
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
                _new_credential_op(table_name, plaintext, credential, now),
                *(audit.put_op(table_name, entry) for entry in audit_entries),
            ]
        )
    except ClientError as err:
        if cancellation_codes(err)[:1] == ["ConditionalCheckFailed"]:
            raise StorefrontExists(storefront.storefront_id) from err
        raise


def _new_credential_op(
    table_name: str, plaintext: str, credential: Credential, now: datetime
) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": table_name,
            "Item": _credential_item(plaintext, credential, now),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def _deactivate_op(table_name: str, key_hash: str) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": table_name,
            "Key": {"pk": keys.api_key_pk(key_hash), "sk": KEY_SK},
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
        ops.append(_new_credential_op(table_name, plaintext, credential, now))
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
                "Item": _storefront_item(after),
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


def register_storefront(
    table_name: str,
    tenant: str,
    storefront_id: str,
    name: str,
    channel: str,
    plaintext: str,
    now: datetime,
    scopes: tuple[str, ...] = ALL_SCOPES,
) -> None:
    """Bootstrap: a storefront with a given key and, by default, every scope (the
    local stack's ``local-dev-key``, test fixtures). Keys issued through the admin
    API are random instead."""
    key_id = hash_key(plaintext)[:12]
    storefront = Storefront(
        tenant_id=tenant,
        storefront_id=storefront_id,
        name=name,
        channel=channel,
        created_at=iso(now),
        keys={key_id: StorefrontKey(key_id=key_id, key_hash=hash_key(plaintext), created_at=iso(now))},
        version=1,
        scopes=list(scopes),
    )
    create_storefront(table_name, storefront, key_id, plaintext, now)


# Admin keys ------------------------------------------------------------------


def _admin_keys_key(tenant: str) -> dict[str, str]:
    return {"pk": keys.tenant_pk(tenant), "sk": ADMIN_KEYS_SK}


def get_admin_keys(table_name: str, tenant: str) -> AdminKeys | None:
    """The tenant's admin keys; None for a tenant whose keys were all registered before
    the list existed."""
    item = aws.table(table_name).get_item(Key=_admin_keys_key(tenant), ConsistentRead=True).get("Item")
    return AdminKeys.model_validate({**item, "version": int(item["version"])}) if item else None


def _admin_keys_item(ring: AdminKeys) -> dict[str, Any]:
    return {**_admin_keys_key(ring.tenant_id), "kind": "admin_keys", **ring.model_dump(mode="json")}


def admin_key(table_name: str, tenant: str, plaintext: str) -> StorefrontKey | None:
    """The active admin key of ``tenant`` with this secret, as its credential records it
    (a key registered before the tenant's admin-keys list existed is found this way:
    from the secret of the request that uses it)."""
    key_hash = hash_key(plaintext)
    item = (
        aws.table(table_name)
        .get_item(Key={"pk": keys.api_key_pk(key_hash), "sk": KEY_SK}, ConsistentRead=True)
        .get("Item")
    )
    if not item or item.get("role") != "admin" or item.get("tenant_id") != tenant or not item.get("active"):
        return None
    return StorefrontKey(
        key_id=str(item.get("key_id") or key_hash[:12]),
        key_hash=key_hash,
        created_at=str(item.get("created_at", "")),
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
        {"Put": {"TableName": table_name, "Item": _admin_keys_item(after), **condition}}
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


def register_admin_key(table_name: str, tenant: str, plaintext: str, now: datetime) -> None:
    """Bootstrap: an admin key with a given secret (the local stack's ``local-admin-key``,
    test fixtures), listed on the tenant's admin keys so it can be rotated away. Keys
    issued through the admin API are random instead. Registering the same key again
    rewrites its credential."""
    key = StorefrontKey(key_id=hash_key(plaintext)[:12], key_hash=hash_key(plaintext), created_at=iso(now))

    def attempt() -> None:
        before = get_admin_keys(table_name, tenant)
        if before is not None and key.key_id in before.keys:
            credential = Credential(tenant_id=tenant, role="admin", key_id=key.key_id, active=True)
            put_credential(table_name, plaintext, credential, now)
            return
        ring = before or AdminKeys(tenant_id=tenant, keys={}, version=0)
        after = ring.model_copy(update={"keys": {**ring.keys, key.key_id: key}, "version": ring.version + 1})
        save_admin_keys(table_name, before, after, now, plaintext=plaintext)  # StaleAdminKeys: retried

    optimistic(attempt, what="admin keys")


class TenantExists(Exception):
    pass


def bootstrap_tenant(table_name: str, tenant: Tenant, now: datetime) -> tuple[str, str]:
    """A new tenant and its first admin key, together (listed on the tenant's admin keys,
    recorded in its audit trail); returns (key_id, plaintext), the only time the key is
    seen. An existing tenant is refused (TenantExists), so running it twice never hands
    out a second key unnoticed."""
    key_id, plaintext = new_key("admin")
    credential = Credential(tenant_id=tenant.tenant_id, role="admin", key_id=key_id, active=True)
    ring = AdminKeys(
        tenant_id=tenant.tenant_id,
        keys={key_id: StorefrontKey(key_id=key_id, key_hash=hash_key(plaintext), created_at=iso(now))},
        version=1,
    )
    entry = audit.entry_item(tenant.tenant_id, now, audit.OPERATOR, "admin_key.issued", key_id)
    try:
        transact_write(
            [
                {
                    "Put": {
                        "TableName": table_name,
                        "Item": tenant_item(tenant),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                _new_credential_op(table_name, plaintext, credential, now),
                {
                    "Put": {
                        "TableName": table_name,
                        "Item": _admin_keys_item(ring),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                audit.put_op(table_name, entry),
            ]
        )
    except ClientError as err:
        if cancellation_codes(err)[:1] == ["ConditionalCheckFailed"]:
            raise TenantExists(tenant.tenant_id) from err
        raise
    return key_id, plaintext
