"""Storefront key rules. Pure: no AWS here."""

from __future__ import annotations

from loyalty.credentials import Storefront, StorefrontKey, hash_key
from loyalty.errors import Conflict, NotFound

MAX_ACTIVE_KEYS = 2  # one in use, one being rolled out


def active_keys(storefront: Storefront) -> list[StorefrontKey]:
    return [k for k in storefront.keys.values() if k.revoked_at is None]


def add_key(storefront: Storefront, key_id: str, plaintext: str, at: str) -> Storefront:
    if len(active_keys(storefront)) >= MAX_ACTIVE_KEYS:
        raise Conflict(
            f"a storefront has at most {MAX_ACTIVE_KEYS} active keys: revoke one first",
            code="too_many_active_keys",
        )
    new = StorefrontKey(key_id=key_id, key_hash=hash_key(plaintext), created_at=at)
    return storefront.model_copy(
        update={"keys": {**storefront.keys, key_id: new}, "version": storefront.version + 1}
    )


def revoke_key(storefront: Storefront, key_id: str, at: str) -> tuple[Storefront, StorefrontKey]:
    key = storefront.keys.get(key_id)
    if key is None:
        raise NotFound("no such key", field="key_id")
    if key.revoked_at is not None:
        return storefront, key
    revoked = key.model_copy(update={"revoked_at": at})
    updated = storefront.model_copy(
        update={"keys": {**storefront.keys, key_id: revoked}, "version": storefront.version + 1}
    )
    return updated, revoked
