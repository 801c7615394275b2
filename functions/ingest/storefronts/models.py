"""API models of the admin API: storefronts with their keys, rate limits and
scopes, admin keys, and the audit trail. A key's secret appears only in
``NewKeyOut``, once, when the key is issued; every other model carries key
ids, never secrets or hashes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from loyalty import audit, credentials, throttle
from loyalty.api import ID_PATTERN
from loyalty.credentials import Scope, Storefront, StorefrontKey

SCOPES = (
    "What the storefront's keys may do: events:write, members:read, members:write, members:erase, "
    "points:redeem, tickets:read, tickets:write, care:read, care:write (takes effect within the "
    "authorizer cache TTL, 300 s)"
)
RATE_LIMIT = (
    "Requests per second this storefront's keys may send (a fixed one-second window); "
    "takes effect within the authorizer cache TTL (300 s)"
)


def _rate_limit_field(description: str, **kwargs: Any) -> Any:
    # strict: a JSON integer only, not true, 5.0 or "5"
    return Field(ge=throttle.MIN_LIMIT, le=throttle.MAX_LIMIT, strict=True, description=description, **kwargs)


class StorefrontIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    storefront_id: str = Field(min_length=1, max_length=64, pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    channel: Literal["web", "app", "store", "service"]
    rate_limit_per_second: int | None = _rate_limit_field(
        "Requests per second this storefront's keys may send (a fixed one-second window); "
        "omitted or null: the deployment default (STOREFRONT_RATE_LIMIT)",
        default=None,
    )
    scopes: list[Scope] | None = Field(
        default=None,
        max_length=len(credentials.ALL_SCOPES),
        description=SCOPES + "; omitted or null: every scope except members:erase",
    )


class StorefrontPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rate_limit_per_second: int | None = _rate_limit_field(RATE_LIMIT, default=None)
    scopes: list[Scope] | None = Field(
        default=None, max_length=len(credentials.ALL_SCOPES), description=SCOPES
    )

    @model_validator(mode="after")
    def _something(self) -> StorefrontPatch:
        if self.rate_limit_per_second is None and self.scopes is None:
            raise ValueError("give rate_limit_per_second, scopes, or both")
        return self


class KeyOut(BaseModel):
    key_id: str
    created_at: str
    revoked_at: str | None


class NewKeyOut(KeyOut):
    api_key: str = Field(description="The secret: shown once, store it now")


class StorefrontOut(BaseModel):
    storefront_id: str
    name: str
    channel: str
    created_at: str
    keys: list[KeyOut]
    rate_limit_per_second: int = Field(
        description="Requests per second: the storefront's own limit, else the deployment default"
    )
    scopes: list[str] = Field(description="What the storefront's keys may do")


class CreatedStorefrontOut(BaseModel):
    storefront: StorefrontOut
    key: NewKeyOut


class AdminKeysOut(BaseModel):
    keys: list[KeyOut] = Field(description="The tenant's admin keys, oldest first, revoked ones included")


class AuditEntryOut(BaseModel):
    at: str = Field(description="When the request that made the change was received")
    action: audit.Action
    target: str = Field(description="The storefront, key, adjustment or member the action was on")
    actor_role: audit.ActorRole = Field(
        description="admin or storefront: the kind of key that made the request; operator: make tenant"
    )
    actor_key_id: str = Field(description="The id of the key that made the request (never the key)")
    actor_storefront: str | None = Field(description="The storefront of a storefront key")
    details: dict[str, Any] = Field(
        description="A few facts of the action: storefront, scopes, limit, points, reason, ..."
    )


class AuditPage(BaseModel):
    entries: list[AuditEntryOut] = Field(description="Newest first")
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null on the last")


def key_out(key: StorefrontKey) -> KeyOut:
    return KeyOut(key_id=key.key_id, created_at=key.created_at, revoked_at=key.revoked_at)


def storefront_out(storefront: Storefront, default_rate_limit: int) -> StorefrontOut:
    """The storefront as the API shows it: keys oldest first (never their hashes), its
    own rate limit or else ``default_rate_limit``, its scopes or else the default ones."""
    return StorefrontOut(
        storefront_id=storefront.storefront_id,
        name=storefront.name,
        channel=storefront.channel,
        created_at=storefront.created_at,
        keys=[key_out(k) for k in sorted(storefront.keys.values(), key=lambda k: k.created_at)],
        rate_limit_per_second=storefront.rate_limit_per_second or default_rate_limit,
        scopes=list(storefront.granted),
    )
