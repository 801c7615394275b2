"""Storefront and admin credentials: data access.

A key is ``<prefix>_<key_id>_<secret>`` with 256 random bits; only its SHA-256
is stored (a fast hash suffices for a high-entropy secret). Each storefront
(tenant, channel) may hold two active keys, so a key can be rotated without
downtime; revoking a key deactivates it at once in the table (API Gateway may
keep a cached authorizer decision for up to its cache TTL, 300 s).

A storefront may carry its own request rate limit (``rate_limit_per_second``);
without one, the deployment default (``STOREFRONT_RATE_LIMIT``) applies. The
authorizer reads it and hands it to the handlers, so a change also takes effect
within the authorizer cache TTL."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel

from loyalty import aws, keys
from loyalty.dynamo import cancellation_codes, is_condition_failure, transact_write
from loyalty.tenants import Tenant, tenant_item
from loyalty.timeutil import iso

Role = Literal["storefront", "admin"]
KEY_SK = "KEY"
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


class Storefront(BaseModel):
    tenant_id: str
    storefront_id: str
    name: str
    channel: str
    created_at: str
    keys: dict[str, StorefrontKey]
    version: int
    rate_limit_per_second: int | None = None  # None: the deployment default
    scopes: list[str] | None = None  # None: DEFAULT_SCOPES

    @property
    def granted(self) -> tuple[str, ...]:
        return tuple(self.scopes) if self.scopes is not None else DEFAULT_SCOPES


class StorefrontExists(Exception):
    pass


class StaleStorefront(Exception):
    """The storefront changed between read and write; read again and retry."""


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


def set_scopes(table_name: str, tenant: str, storefront_id: str, scopes: list[str]) -> Storefront | None:
    """Replace the storefront's scopes; None when there is no such storefront."""
    try:
        item = aws.table(table_name).update_item(
            Key=_storefront_key(tenant, storefront_id),
            UpdateExpression="SET scopes = :scopes, version = version + :one",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":scopes": scopes, ":one": 1},
            ReturnValues="ALL_NEW",
        )["Attributes"]
    except ClientError as err:
        if is_condition_failure(err):
            return None
        raise
    return _storefront_from(item)


def set_rate_limit(table_name: str, tenant: str, storefront_id: str, limit: int) -> Storefront | None:
    """Set the storefront's limit; None when there is no such storefront. The version
    moves too, so a concurrent key change (a Put of the whole item) retries instead
    of writing the old limit back."""
    try:
        item = aws.table(table_name).update_item(
            Key=_storefront_key(tenant, storefront_id),
            UpdateExpression="SET rate_limit_per_second = :limit, version = version + :one",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":limit": limit, ":one": 1},
            ReturnValues="ALL_NEW",
        )["Attributes"]
    except ClientError as err:
        if is_condition_failure(err):
            return None
        raise
    return _storefront_from(item)


def create_storefront(
    table_name: str, storefront: Storefront, key_id: str, plaintext: str, now: datetime
) -> None:
    """The storefront and its first key, together."""
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
                {
                    "Put": {
                        "TableName": table_name,
                        "Item": _credential_item(plaintext, credential, now),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    except ClientError as err:
        if cancellation_codes(err)[:1] == ["ConditionalCheckFailed"]:
            raise StorefrontExists(storefront.storefront_id) from err
        raise


def save_keys(
    table_name: str,
    before: Storefront,
    after: Storefront,
    now: datetime,
    *,
    plaintext: str | None = None,
    revoked_hash: str | None = None,
) -> None:
    """Write the storefront's new key list (optimistic on its version) together with
    the credential it adds (``plaintext``) or deactivates (``revoked_hash``)."""
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
    if plaintext is not None:
        key_id = next(k for k in after.keys if k not in before.keys)
        credential = Credential(
            tenant_id=after.tenant_id,
            storefront=after.storefront_id,
            channel=after.channel,
            key_id=key_id,
            active=True,
        )
        ops.append(
            {
                "Put": {
                    "TableName": table_name,
                    "Item": _credential_item(plaintext, credential, now),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        )
    if revoked_hash is not None:
        ops.append(
            {
                "Update": {
                    "TableName": table_name,
                    "Key": {"pk": keys.api_key_pk(revoked_hash), "sk": KEY_SK},
                    "UpdateExpression": "SET active = :f",
                    "ExpressionAttributeValues": {":f": False},
                    "ConditionExpression": "attribute_exists(pk)",
                }
            }
        )
    try:
        transact_write(ops)
    except ClientError as err:
        if cancellation_codes(err)[:1] == ["ConditionalCheckFailed"]:
            raise StaleStorefront(after.storefront_id) from err
        raise


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


def register_admin_key(table_name: str, tenant: str, plaintext: str, now: datetime) -> None:
    put_credential(table_name, plaintext, Credential(tenant_id=tenant, role="admin", active=True), now)


class TenantExists(Exception):
    pass


def bootstrap_tenant(table_name: str, tenant: Tenant, now: datetime) -> tuple[str, str]:
    """A new tenant and its first admin key, together; returns (key_id, plaintext), the
    only time the key is seen. An existing tenant is refused (TenantExists), so running
    it twice never hands out a second key unnoticed."""
    key_id, plaintext = new_key("admin")
    credential = Credential(tenant_id=tenant.tenant_id, role="admin", key_id=key_id, active=True)
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
                {
                    "Put": {
                        "TableName": table_name,
                        "Item": _credential_item(plaintext, credential, now),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    except ClientError as err:
        if cancellation_codes(err)[:1] == ["ConditionalCheckFailed"]:
            raise TenantExists(tenant.tenant_id) from err
        raise
    return key_id, plaintext
