"""Admin API (admin credential only): storefronts, their keys and request rate limits,
the tenant's admin keys, and the audit trail of admin actions.

A new key's secret is returned once, at creation; only its hash is stored. Every
change made here is recorded in the audit trail in the same transaction."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from ingest.storefronts import logic
from ingest.storefronts.models import (
    AdminKeysOut,
    AuditEntryOut,
    AuditPage,
    CreatedStorefrontOut,
    NewKeyOut,
    StorefrontIn,
    StorefrontOut,
    StorefrontPatch,
    key_out,
    storefront_out,
)
from loyalty import audit, credentials
from loyalty.api import (
    ADMIN_SECURITY,
    ERROR_RESPONSES,
    ID_PATTERN,
    Caller,
    ErrorResponse,
    caller,
    create_resolver,
    json_response,
    request_time,
    resolve,
)
from loyalty.commit import optimistic
from loyalty.credentials import AdminKeys, Storefront, StorefrontKey
from loyalty.errors import Conflict, NotFound, ValidationFailed
from loyalty.observability import logger_for, metrics_for, tracer_for
from loyalty.settings import get_settings
from loyalty.timeutil import iso

logger = logger_for(__name__)
tracer = tracer_for(__name__)
metrics = metrics_for(__name__)
app = create_resolver(logger)

StorefrontId = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN)]
KeyId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[0-9a-f]+$")]


def _out(storefront: Storefront) -> StorefrontOut:
    return storefront_out(storefront, get_settings().storefront_rate_limit)


def _within_stage_limit(limit: int | None) -> None:
    stage = get_settings().api_rate_limit
    if limit is not None and limit > stage:
        raise ValidationFailed(
            f"rate_limit_per_second may not exceed the API's stage limit of {stage} per second",
            field="rate_limit_per_second",
        )


def _table() -> str:
    return get_settings().require("loyalty_table")


def _actor(admin: Caller) -> audit.Actor:
    return audit.Actor("admin", admin.key_id)


def _load(tenant: str, storefront_id: str) -> Storefront:
    found = credentials.get_storefront(_table(), tenant, storefront_id)
    if found is None:
        raise NotFound("no such storefront", field="storefront_id")
    return found


_MISSING = json_response("Unknown storefront or key", ErrorResponse)


@app.post(
    "/v1/admin/storefronts",
    summary="Register a storefront and issue its first key",
    responses={
        201: json_response("Created", CreatedStorefrontOut),
        409: json_response("The storefront exists", ErrorResponse),
        **ERROR_RESPONSES,
    },
    security=ADMIN_SECURITY,
    tags=["admin"],
)
def post_storefront(body: Annotated[StorefrontIn, Body()]) -> Response[Any]:
    admin = caller(app, role="admin")
    tenant = admin.tenant_id
    _within_stage_limit(body.rate_limit_per_second)
    now = request_time(app)
    key_id, plaintext = credentials.new_key("storefront")
    empty = Storefront(
        tenant_id=tenant,
        storefront_id=body.storefront_id,
        name=body.name,
        channel=body.channel,
        created_at=iso(now),
        keys={},
        version=0,
        rate_limit_per_second=body.rate_limit_per_second,
        scopes=logic.ordered_scopes(body.scopes) if body.scopes is not None else None,
    )
    storefront = logic.add_key(empty, key_id, plaintext, iso(now))
    details: dict[str, Any] = {"channel": body.channel, "key_id": key_id, "scopes": list(storefront.granted)}
    if body.rate_limit_per_second is not None:
        details["rate_limit_per_second"] = body.rate_limit_per_second
    entry = audit.entry_item(tenant, now, _actor(admin), "storefront.created", body.storefront_id, details)
    try:
        credentials.create_storefront(_table(), storefront, key_id, plaintext, now, [entry])
    except credentials.StorefrontExists as err:
        raise Conflict("a storefront with this id exists", field="storefront_id") from err
    logger.info("storefront created", extra={"storefront": body.storefront_id, "key_id": key_id})
    out = CreatedStorefrontOut(
        storefront=_out(storefront),
        key=NewKeyOut(key_id=key_id, created_at=iso(now), revoked_at=None, api_key=plaintext),
    )
    return Response(201, "application/json", out.model_dump_json())


@app.get(
    "/v1/admin/storefronts/<storefront_id>",
    summary="A storefront and its keys (never the secrets)",
    responses={200: json_response("The storefront", StorefrontOut), 404: _MISSING, **ERROR_RESPONSES},
    security=ADMIN_SECURITY,
    tags=["admin"],
)
def get_storefront(storefront_id: StorefrontId) -> StorefrontOut:
    return _out(_load(caller(app, role="admin").tenant_id, storefront_id))


@app.patch(
    "/v1/admin/storefronts/<storefront_id>",
    summary="Set a storefront's rate limit or scopes (effective within the authorizer cache TTL, 300 s)",
    responses={200: json_response("The storefront", StorefrontOut), 404: _MISSING, **ERROR_RESPONSES},
    security=ADMIN_SECURITY,
    tags=["admin"],
)
def patch_storefront(storefront_id: StorefrontId, body: Annotated[StorefrontPatch, Body()]) -> StorefrontOut:
    admin = caller(app, role="admin")
    tenant = admin.tenant_id
    _within_stage_limit(body.rate_limit_per_second)
    now = request_time(app)
    scopes = logic.ordered_scopes(body.scopes) if body.scopes is not None else None
    entries = []
    if body.rate_limit_per_second is not None:
        limit = {"rate_limit_per_second": body.rate_limit_per_second}
        entries.append(
            audit.entry_item(tenant, now, _actor(admin), "storefront.rate_limit_set", storefront_id, limit)
        )
    if scopes is not None:
        entries.append(
            audit.entry_item(
                tenant, now, _actor(admin), "storefront.scopes_set", storefront_id, {"scopes": scopes}
            )
        )
    updated = credentials.set_access(
        _table(),
        tenant,
        storefront_id,
        rate_limit=body.rate_limit_per_second,
        scopes=scopes,
        audit_entries=entries,
    )
    if updated is None:
        raise NotFound("no such storefront", field="storefront_id")
    logger.info(
        "storefront updated",
        extra={
            "storefront": storefront_id,
            "rate_limit_per_second": body.rate_limit_per_second,
            "scopes": body.scopes,
        },
    )
    return _out(updated)


@app.post(
    "/v1/admin/storefronts/<storefront_id>/keys",
    summary="Issue another key (at most two active: rotate, then revoke the old one)",
    responses={
        201: json_response("The new key", NewKeyOut),
        404: _MISSING,
        409: json_response("Two keys are active already", ErrorResponse),
        **ERROR_RESPONSES,
    },
    security=ADMIN_SECURITY,
    tags=["admin"],
)
def post_key(storefront_id: StorefrontId) -> Response[Any]:
    admin = caller(app, role="admin")
    tenant = admin.tenant_id
    now = request_time(app)
    key_id, plaintext = credentials.new_key("storefront")
    details = {"storefront_id": storefront_id}

    def attempt() -> None:
        before = _load(tenant, storefront_id)
        after = logic.add_key(before, key_id, plaintext, iso(now))
        entry = audit.entry_item(tenant, now, _actor(admin), "key.issued", key_id, details)
        credentials.save_keys(_table(), before, after, now, plaintext=plaintext, audit_entries=[entry])

    optimistic(attempt, what="storefront")  # a concurrent key change: read again and retry
    logger.info("storefront key issued", extra={"storefront": storefront_id, "key_id": key_id})
    out = NewKeyOut(key_id=key_id, created_at=iso(now), revoked_at=None, api_key=plaintext)
    return Response(201, "application/json", out.model_dump_json())


@app.delete(
    "/v1/admin/storefronts/<storefront_id>/keys/<key_id>",
    summary="Revoke a key (effective at once; API Gateway may honour a cached decision up to 300 s)",
    responses={204: {"description": "Revoked (also when already revoked)"}, 404: _MISSING, **ERROR_RESPONSES},
    security=ADMIN_SECURITY,
    tags=["admin"],
)
def delete_key(storefront_id: StorefrontId, key_id: KeyId) -> Response[Any]:
    admin = caller(app, role="admin")
    tenant = admin.tenant_id
    now = request_time(app)
    details = {"storefront_id": storefront_id}

    def attempt() -> bool:
        before = _load(tenant, storefront_id)
        after, revoked = logic.revoke_key(before, key_id, iso(now))
        if after is before:
            return False  # revoked already
        entry = audit.entry_item(tenant, now, _actor(admin), "key.revoked", key_id, details)
        credentials.save_keys(
            _table(), before, after, now, revoked_hash=revoked.key_hash, audit_entries=[entry]
        )
        return True

    if optimistic(attempt, what="storefront"):
        logger.info("storefront key revoked", extra={"storefront": storefront_id, "key_id": key_id})
    return Response(204, "application/json", "")


# Admin keys ------------------------------------------------------------------


def _caller_secret() -> str | None:
    return app.current_event.get_header_value("x-api-key", case_sensitive=False)


def _admin_keys(tenant: str) -> tuple[AdminKeys | None, AdminKeys]:
    """The stored list (None before the tenant's first write) and the list as it should
    be: with the calling key added when it is missing (an admin key registered before
    the list existed), so it can be listed, counted and revoked like any other."""
    before = credentials.get_admin_keys(_table(), tenant)
    current = before or AdminKeys(tenant_id=tenant, keys={}, version=0)
    secret = _caller_secret()
    if secret and not any(k.key_hash == credentials.hash_key(secret) for k in current.keys.values()):
        own = credentials.admin_key(_table(), tenant, secret)
        if own is not None:
            current = logic.adopt_key(current, own)
    return before, current


def _is_callers(key: StorefrontKey, admin: Caller) -> bool:
    secret = _caller_secret()
    if secret:
        return key.key_hash == credentials.hash_key(secret)
    return bool(admin.key_id) and key.key_id == admin.key_id


_ADMIN_KEY_MISSING = json_response("Unknown key", ErrorResponse)


@app.get(
    "/v1/admin/keys",
    summary="The tenant's admin keys (never the secrets)",
    responses={200: json_response("The admin keys", AdminKeysOut), **ERROR_RESPONSES},
    security=ADMIN_SECURITY,
    tags=["admin"],
)
def get_admin_keys() -> AdminKeysOut:
    _, current = _admin_keys(caller(app, role="admin").tenant_id)
    ordered = sorted(current.keys.values(), key=lambda k: (k.created_at, k.key_id))
    return AdminKeysOut(keys=[key_out(k) for k in ordered])


@app.post(
    "/v1/admin/keys",
    summary="Issue another admin key (at most two active: rotate, then revoke the old one)",
    responses={
        201: json_response("The new key", NewKeyOut),
        409: json_response("Two admin keys are active already", ErrorResponse),
        **ERROR_RESPONSES,
    },
    security=ADMIN_SECURITY,
    tags=["admin"],
)
def post_admin_key() -> Response[Any]:
    admin = caller(app, role="admin")
    tenant = admin.tenant_id
    now = request_time(app)
    key_id, plaintext = credentials.new_key("admin")

    def attempt() -> None:
        before, current = _admin_keys(tenant)
        after = logic.add_key(current, key_id, plaintext, iso(now), holder="a tenant")
        entry = audit.entry_item(tenant, now, _actor(admin), "admin_key.issued", key_id)
        credentials.save_admin_keys(_table(), before, after, now, plaintext=plaintext, audit_entries=[entry])

    optimistic(attempt, what="admin keys")  # a concurrent key change: read again and retry
    logger.info("admin key issued", extra={"key_id": key_id})
    out = NewKeyOut(key_id=key_id, created_at=iso(now), revoked_at=None, api_key=plaintext)
    return Response(201, "application/json", out.model_dump_json())


@app.delete(
    "/v1/admin/keys/<key_id>",
    summary="Revoke an admin key, not the one making the request "
    "(effective at once; API Gateway may honour a cached decision up to 300 s)",
    responses={
        204: {"description": "Revoked (also when already revoked)"},
        404: _ADMIN_KEY_MISSING,
        409: json_response("The key is the one making the request", ErrorResponse),
        **ERROR_RESPONSES,
    },
    security=ADMIN_SECURITY,
    tags=["admin"],
)
def delete_admin_key(key_id: KeyId) -> Response[Any]:
    admin = caller(app, role="admin")
    tenant = admin.tenant_id
    now = request_time(app)

    def attempt() -> bool:
        before, current = _admin_keys(tenant)
        key = current.keys.get(key_id)
        if key is not None and key.revoked_at is None and _is_callers(key, admin):
            raise Conflict(
                "a key cannot revoke itself: revoke it with another admin key",
                field="key_id",
                code="own_key",
            )
        after, revoked = logic.revoke_key(current, key_id, iso(now))
        if after is current:
            return False  # revoked already
        entry = audit.entry_item(tenant, now, _actor(admin), "admin_key.revoked", key_id)
        credentials.save_admin_keys(
            _table(), before, after, now, revoked_hash=revoked.key_hash, audit_entries=[entry]
        )
        return True

    if optimistic(attempt, what="admin keys"):
        logger.info("admin key revoked", extra={"key_id": key_id})
    return Response(204, "application/json", "")


# Audit trail -------------------------------------------------------------------


@app.get(
    "/v1/admin/audit",
    summary="The tenant's audit trail of admin actions, newest first",
    responses={200: json_response("One page of audit entries", AuditPage), **ERROR_RESPONSES},
    security=ADMIN_SECURITY,
    tags=["admin"],
)
def get_audit(
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> AuditPage:
    tenant = caller(app, role="admin").tenant_id
    found, next_cursor = audit.entries(_table(), tenant, limit, cursor)
    return AuditPage(entries=[AuditEntryOut.model_validate(e) for e in found], next_cursor=next_cursor)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve(app, event, context)
