"""Storefront and admin credentials.

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
within the authorizer cache TTL.

Split along what each caller needs: ``model`` (what a key, a scope and a key
ring are; hashing; pure), ``reads`` (the stored items and their reads: the
authorizer needs only these), ``registry`` (the admin API's writes) and
``bootstrap`` (given secrets: a new tenant, the local stack, test fixtures).
Every public name is also importable from here: the pure ``model`` at once, the
others (which reach DynamoDB) on first use, so pure code may import this package
without loading boto3."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from loyalty.credentials.model import (
    ALL_SCOPES,
    DEFAULT_SCOPES,
    AdminKeys,
    Credential,
    KeyRing,
    Role,
    Scope,
    Storefront,
    StorefrontKey,
    hash_key,
    new_key,
)

if TYPE_CHECKING:
    from loyalty.credentials.bootstrap import (
        TenantExists,
        bootstrap_tenant,
        register_admin_key,
        register_storefront,
    )
    from loyalty.credentials.reads import (
        admin_key,
        get_admin_keys,
        get_storefront,
        lookup,
        storefront_access,
    )
    from loyalty.credentials.registry import (
        StaleAdminKeys,
        StaleStorefront,
        StorefrontExists,
        create_storefront,
        put_credential,
        save_admin_keys,
        save_keys,
        set_access,
    )

# The names that reach DynamoDB, by the module that defines them.
_LAZY = {
    "bootstrap": ("TenantExists", "bootstrap_tenant", "register_admin_key", "register_storefront"),
    "reads": ("admin_key", "get_admin_keys", "get_storefront", "lookup", "storefront_access"),
    "registry": (
        "StaleAdminKeys",
        "StaleStorefront",
        "StorefrontExists",
        "create_storefront",
        "put_credential",
        "save_admin_keys",
        "save_keys",
        "set_access",
    ),
}
_MODULE_OF = {name: module for module, names in _LAZY.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "ALL_SCOPES",
    "DEFAULT_SCOPES",
    "AdminKeys",
    "Credential",
    "KeyRing",
    "Role",
    "Scope",
    "StaleAdminKeys",
    "StaleStorefront",
    "Storefront",
    "StorefrontExists",
    "StorefrontKey",
    "TenantExists",
    "admin_key",
    "bootstrap_tenant",
    "create_storefront",
    "get_admin_keys",
    "get_storefront",
    "hash_key",
    "lookup",
    "new_key",
    "put_credential",
    "register_admin_key",
    "register_storefront",
    "save_admin_keys",
    "save_keys",
    "set_access",
    "storefront_access",
]
