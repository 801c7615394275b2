"""Key rules for a storefront's keys and a tenant's admin keys, and the order of
scopes. Pure: no AWS here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from loyalty.credentials import ALL_SCOPES, KeyRing, StorefrontKey, hash_key
from loyalty.errors import Conflict, NotFound

MAX_ACTIVE_KEYS = 2  # one in use, one being rolled out

Ring = TypeVar("Ring", bound=KeyRing)


def ordered_scopes(scopes: Sequence[str]) -> list[str]:
    """Each scope once, in the documented order."""
    return [s for s in ALL_SCOPES if s in scopes]


def active_keys(ring: KeyRing) -> list[StorefrontKey]:
    return [k for k in ring.keys.values() if k.revoked_at is None]


def add_key(ring: Ring, key_id: str, plaintext: str, at: str, holder: str = "a storefront") -> Ring:
    if len(active_keys(ring)) >= MAX_ACTIVE_KEYS:
        raise Conflict(
            f"{holder} has at most {MAX_ACTIVE_KEYS} active keys: revoke one first",
            code="too_many_active_keys",
        )
    new = StorefrontKey(key_id=key_id, key_hash=hash_key(plaintext), created_at=at)
    return ring.model_copy(update={"keys": {**ring.keys, key_id: new}, "version": ring.version + 1})


def adopt_key(ring: Ring, key: StorefrontKey) -> Ring:
    """List a key issued before the list knew it (no limit: it is active already).
    The version stays: the write that follows moves it."""
    if any(k.key_hash == key.key_hash for k in ring.keys.values()):
        return ring
    key_id = key.key_id if key.key_id not in ring.keys else key.key_hash[:12]
    adopted = key.model_copy(update={"key_id": key_id})
    return ring.model_copy(update={"keys": {**ring.keys, key_id: adopted}})


def revoke_key(ring: Ring, key_id: str, at: str) -> tuple[Ring, StorefrontKey]:
    key = ring.keys.get(key_id)
    if key is None:
        raise NotFound("no such key", field="key_id")
    if key.revoked_at is not None:
        return ring, key
    revoked = key.model_copy(update={"revoked_at": at})
    updated = ring.model_copy(update={"keys": {**ring.keys, key_id: revoked}, "version": ring.version + 1})
    return updated, revoked
