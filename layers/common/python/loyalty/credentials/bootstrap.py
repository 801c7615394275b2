"""Bootstrap of credentials with given secrets, outside the admin API: a new
tenant with its first admin key (``make tenant``), and the fixed keys of the
local stack and the tests. Keys issued through the admin API are random
instead (``loyalty.credentials.registry``)."""

from __future__ import annotations

from datetime import datetime

from botocore.exceptions import ClientError

from loyalty import audit
from loyalty.commit import optimistic
from loyalty.credentials.model import (
    ALL_SCOPES,
    AdminKeys,
    Credential,
    Storefront,
    StorefrontKey,
    hash_key,
    new_key,
)
from loyalty.credentials.reads import admin_keys_item, get_admin_keys
from loyalty.credentials.registry import create_storefront, new_credential_op, put_credential, save_admin_keys
from loyalty.dynamo import cancellation_codes, transact_write
from loyalty.tenants import Tenant, tenant_item
from loyalty.timeutil import iso


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
                new_credential_op(table_name, plaintext, credential, now),
                {
                    "Put": {
                        "TableName": table_name,
                        "Item": admin_keys_item(ring),
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
