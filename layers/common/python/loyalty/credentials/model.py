"""What a credential is: a storefront's or a tenant's admin key, its scopes, and
the key rings (a storefront's keys, a tenant's admin keys) they are listed on.
Pure: no AWS here.

A key is ``<prefix>_<key_id>_<secret>`` with 256 random bits; only its SHA-256
is stored (a fast hash suffices for a high-entropy secret). A key ring holds a
storefront's or a tenant's keys, active and revoked, under the version its
list is written with."""

from __future__ import annotations

import hashlib
import secrets
from typing import Literal

from pydantic import BaseModel

Role = Literal["storefront", "admin"]
Scope = Literal[
    "events:write",
    "members:read",
    "members:write",
    "members:erase",
    "points:redeem",
    "tickets:read",
    "tickets:write",
    "care:read",
    "care:write",
]
ALL_SCOPES: tuple[str, ...] = (
    "events:write",
    "members:read",
    "members:write",
    "members:erase",
    "points:redeem",
    "tickets:read",
    "tickets:write",
    "care:read",
    "care:write",
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


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def new_key(role: Role) -> tuple[str, str]:
    """A fresh (key_id, plaintext) pair."""
    key_id = secrets.token_hex(6)
    prefix = "sf" if role == "storefront" else "adm"
    return key_id, f"{prefix}_{key_id}_{secrets.token_urlsafe(32)}"
