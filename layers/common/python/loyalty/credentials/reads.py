"""Credentials as stored, and the reads of them: the credential of a key (what
the authorizer resolves a request's key to), a storefront with its keys and
access, a tenant's admin keys.

Items (LoyaltyTable): a credential at ``APIKEY#<sha256(key)>`` / ``KEY``; a
storefront, its key list, its own ``rate_limit_per_second`` and ``scopes``, at
``TENANT#<t>`` / ``STOREFRONT#<id>``; a tenant's admin keys at ``TENANT#<t>`` /
``ADMINKEYS``. The writes are in ``registry`` (and ``bootstrap``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from loyalty import aws, keys
from loyalty.credentials.model import (
    DEFAULT_SCOPES,
    AdminKeys,
    Credential,
    Storefront,
    StorefrontKey,
    hash_key,
)
from loyalty.timeutil import iso


def credential_item(plaintext: str, credential: Credential, now: datetime) -> dict[str, Any]:
    return {
        "pk": keys.api_key_pk(hash_key(plaintext)),
        "sk": keys.API_KEY_SK,
        "kind": "api_key",
        **credential.model_dump(),
        "created_at": iso(now),
    }


def lookup(table_name: str, plaintext: str) -> Credential | None:
    item = (
        aws.table(table_name)
        .get_item(Key={"pk": keys.api_key_pk(hash_key(plaintext)), "sk": keys.API_KEY_SK})
        .get("Item")
    )
    return Credential.model_validate(item) if item else None


def storefront_key(tenant: str, storefront_id: str) -> dict[str, str]:
    return {"pk": keys.tenant_pk(tenant), "sk": keys.storefront_sk(storefront_id)}


def storefront_from(item: dict[str, Any]) -> Storefront:
    return Storefront.model_validate({**item, "version": int(item["version"])})


def storefront_item(storefront: Storefront) -> dict[str, Any]:
    item = {
        **storefront_key(storefront.tenant_id, storefront.storefront_id),
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
        .get_item(Key=storefront_key(tenant, storefront_id), ConsistentRead=True)
        .get("Item")
    )
    return storefront_from(item) if item else None


def storefront_access(table_name: str, tenant: str, storefront_id: str) -> tuple[int | None, tuple[str, ...]]:
    """The storefront's own limit (requests per second, None when it has none) and
    its scopes (the default scopes when it has none)."""
    item = (
        aws.table(table_name)
        .get_item(
            Key=storefront_key(tenant, storefront_id),
            ProjectionExpression="rate_limit_per_second, scopes",
        )
        .get("Item")
    ) or {}
    value = item.get("rate_limit_per_second")
    scopes = item.get("scopes")
    return (None if value is None else int(value)), (
        tuple(str(s) for s in scopes) if scopes is not None else DEFAULT_SCOPES
    )


def admin_keys_key(tenant: str) -> dict[str, str]:
    return {"pk": keys.tenant_pk(tenant), "sk": keys.ADMIN_KEYS_SK}


def get_admin_keys(table_name: str, tenant: str) -> AdminKeys | None:
    """The tenant's admin keys; None for a tenant whose keys were all registered before
    the list existed."""
    item = aws.table(table_name).get_item(Key=admin_keys_key(tenant), ConsistentRead=True).get("Item")
    return AdminKeys.model_validate({**item, "version": int(item["version"])}) if item else None


def admin_keys_item(ring: AdminKeys) -> dict[str, Any]:
    return {**admin_keys_key(ring.tenant_id), "kind": "admin_keys", **ring.model_dump(mode="json")}


def admin_key(table_name: str, tenant: str, plaintext: str) -> StorefrontKey | None:
    """The active admin key of ``tenant`` with this secret, as its credential records it
    (a key registered before the tenant's admin-keys list existed is found this way:
    from the secret of the request that uses it)."""
    key_hash = hash_key(plaintext)
    item = (
        aws.table(table_name)
        .get_item(Key={"pk": keys.api_key_pk(key_hash), "sk": keys.API_KEY_SK}, ConsistentRead=True)
        .get("Item")
    )
    if not item or item.get("role") != "admin" or item.get("tenant_id") != tenant or not item.get("active"):
        return None
    return StorefrontKey(
        key_id=str(item.get("key_id") or key_hash[:12]),
        key_hash=key_hash,
        created_at=str(item.get("created_at", "")),
    )
