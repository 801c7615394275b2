"""The REST resolver every API function uses: validation on (so the OpenAPI
document is generated from code), one error contract, tenant from the authorizer,
per-storefront throttling before anything else.

Importing this module does not import Powertools' event handler: shared code
(``TAG_ERRORS``, ``field_path``, the error models) is also used by stream and
schedule functions, which never resolve a request. The resolver is imported when
one is created, and ``MemberId`` (a path parameter type) when first imported."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel

from loyalty import throttle
from loyalty.commit import Contention, is_transient
from loyalty.errors import TAG_ERRORS, DomainError, Forbidden, Unauthorized, field_path
from loyalty.settings import get_settings
from loyalty.timeutil import from_epoch_ms

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
    from aws_lambda_powertools.event_handler.openapi.params import Path
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

ID_PATTERN = r"^[A-Za-z0-9._:@/+\-]+$"


if TYPE_CHECKING:
    MemberId = Annotated[str, Path(min_length=1, max_length=128, pattern=ID_PATTERN, description="Member id")]
else:

    def __getattr__(name: str) -> Any:
        """``MemberId``, built on first import (it needs Powertools' OpenAPI parameters)."""
        if name == "MemberId":
            from aws_lambda_powertools.event_handler.openapi.params import Path

            value = Annotated[
                str, Path(min_length=1, max_length=128, pattern=ID_PATTERN, description="Member id")
            ]
            globals()[name] = value
            return value
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


API_TITLE = "Loyalty and care automation API"
API_VERSION = "1.0.0"
# OpenAPI security schemes (the document's components); Powertools validates them into its
# OpenAPI models when it builds the document, the only time they are needed.
SECURITY_SCHEMES: dict[str, dict[str, str]] = {
    "storefrontKey": {
        "type": "apiKey",
        "name": "x-api-key",
        "in": "header",
        "description": "A storefront's key",
    },
    "adminKey": {
        "type": "apiKey",
        "name": "x-api-key",
        "in": "header",
        "description": "The tenant's admin key (admin routes only)",
    },
}
SECURITY: list[dict[str, list[str]]] = [{"storefrontKey": []}]
ADMIN_SECURITY: list[dict[str, list[str]]] = [{"adminKey": []}]


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


def error_response(
    status: int, code: str, message: str, field: str | None = None, headers: dict[str, str] | None = None
) -> Response[Any]:
    from aws_lambda_powertools.event_handler import Response

    body = ErrorResponse(error=ErrorDetail(code=code, message=message, field=field))
    return Response(
        status_code=status, content_type="application/json", body=body.model_dump_json(), headers=headers
    )


BUSY_MESSAGE = "the data is busy; retry after the time in Retry-After"


def busy_response() -> Response[Any]:
    """503 once the retry budget of an optimistic write is spent, or DynamoDB stayed busy."""
    return error_response(503, "busy", BUSY_MESSAGE, headers={"Retry-After": str(Contention.retry_after)})


def json_response(description: str, model: type[BaseModel]) -> OpenAPIResponse:
    """An OpenAPI response entry with a JSON body of ``model``."""
    return {"description": description, "content": {"application/json": {"model": model}}}


ERROR_RESPONSES: dict[int, OpenAPIResponse] = {
    400: json_response("Invalid input", ErrorResponse),
    401: json_response("Missing or unknown API key", ErrorResponse),
    429: {
        **json_response(
            "Too many requests: a storefront key over its storefront's limit (requests per second), "
            "or any key over the stage-wide limit",
            ErrorResponse,
        ),
        "headers": {
            "Retry-After": {
                "description": "Seconds to wait before retrying (sent with the storefront's limit)",
                "schema": {"type": "integer", "minimum": 1},
            }
        },
    },
    503: {
        **json_response(
            "busy: the data kept changing under concurrent writes, or DynamoDB throttled or timed out, "
            "after every retry; nothing was applied twice, so the request can be sent again",
            ErrorResponse,
        ),
        "headers": {
            "Retry-After": {
                "description": "Seconds to wait before retrying",
                "schema": {"type": "integer", "minimum": 1},
            }
        },
    },
}


def _field_of(loc: tuple[Any, ...], union_tags: frozenset[str]) -> str | None:
    # Drop the request part ("body", "path", "query", "header").
    return field_path(loc[1:], union_tags) or (str(loc[0]) if loc else None)


def create_resolver(logger: Logger, union_tags: frozenset[str] = frozenset()) -> APIGatewayRestResolver:
    """``union_tags``: discriminator values pydantic puts in error locations; they are
    not field names, so they are left out of the reported field."""
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver
    from aws_lambda_powertools.event_handler.exceptions import NotFoundError
    from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

    app = APIGatewayRestResolver(enable_validation=True)

    @app.exception_handler(RequestValidationError)
    def _validation(exc: RequestValidationError) -> Response[Any]:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        loc = tuple(first.get("loc", ()))
        field = "type" if first.get("type") in TAG_ERRORS else _field_of(loc, union_tags)
        return error_response(400, "validation_error", str(first.get("msg")), field)

    @app.exception_handler(DomainError)
    def _domain(exc: DomainError) -> Response[Any]:
        return error_response(exc.status, exc.code, exc.message, exc.field)

    @app.not_found
    def _not_found(exc: NotFoundError) -> Response[Any]:
        return error_response(404, "route_not_found", "no such route")

    @app.exception_handler(Contention)
    def _contention(exc: Contention) -> Response[Any]:
        logger.warning("retry budget spent", extra={"reason": str(exc)})
        return busy_response()

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response[Any]:
        if is_transient(exc):  # throttling, a transaction conflict or a timeout outside a retry loop
            logger.warning("transient AWS fault", extra={"fault": type(exc).__name__})
            return busy_response()
        logger.exception("unhandled error")
        return error_response(500, "internal_error", "internal error")

    return app


DEFAULT_MAX_BODY_BYTES = 256 * 1024


def _proxy_error(status: int, code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": ErrorResponse(error=ErrorDetail(code=code, message=message, field=field)).model_dump_json(),
        "isBase64Encoded": False,
    }


def _throttled(event: dict[str, Any]) -> dict[str, Any] | None:
    """A 429 when a storefront key is over its storefront's limit; None to go on.
    Admin keys are not counted here (only the stage-wide limit applies to them)."""
    identity = (event.get("requestContext") or {}).get("authorizer") or {}
    tenant, storefront = identity.get("tenant_id"), identity.get("storefront")
    if identity.get("role") != "storefront" or not tenant or not storefront:
        return None
    settings = get_settings()
    # The authorizer passes the storefront's limit; a decision cached before it did falls back.
    limit = throttle.parse_limit(identity.get("rate_limit_per_second"), settings.storefront_rate_limit)
    decision = throttle.admit(settings.require("loyalty_table"), str(tenant), str(storefront), limit)
    if decision.admitted:
        return None
    response = _proxy_error(
        429, "throttled", f"too many requests: this storefront may send {limit} per second"
    )
    response["headers"]["Retry-After"] = str(decision.retry_after)
    return response


def resolve(
    app: APIGatewayRestResolver,
    event: dict[str, Any],
    context: Any,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> dict[str, Any]:
    """Resolve an API Gateway event after the checks that must come before any
    parsing: a storefront over its rate limit is a 429 (and nothing is done), a
    body over ``max_body_bytes`` is a 413 (never truncated or half-read), and a
    body that is not JSON is a 415."""
    try:
        throttled = _throttled(event)
    except Exception as err:
        if not is_transient(err):
            raise
        busy = _proxy_error(503, "busy", BUSY_MESSAGE)
        busy["headers"]["Retry-After"] = str(Contention.retry_after)
        return busy
    if throttled is not None:
        return throttled
    body = event.get("body") or ""
    if len(body.encode("utf-8")) > max_body_bytes:
        return _proxy_error(413, "payload_too_large", f"request body exceeds {max_body_bytes} bytes")
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    content_type = (headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if body and content_type not in ("", "application/json"):
        return _proxy_error(
            415, "unsupported_media_type", "send the body as application/json", "content-type"
        )
    return app.resolve(event, context)


@dataclass(frozen=True)
class Caller:
    tenant_id: str
    channel: str
    storefront: str
    key_id: str = ""
    scopes: frozenset[str] = frozenset()


def caller(app: APIGatewayRestResolver, role: str = "storefront", scope: str | None = None) -> Caller:
    """The identity the authorizer put in the request context, which must hold
    ``role``: storefront keys never reach admin routes, nor admin keys storefront ones;
    and, for a storefront key, ``scope`` among its storefront's scopes."""
    from loyalty.credentials import DEFAULT_SCOPES

    context = app.current_event.request_context.authorizer.get_context() or {}
    tenant = context.get("tenant_id")
    if not tenant:
        raise Unauthorized("missing or unknown API key")
    if context.get("role", "storefront") != role:
        raise Forbidden(f"this route needs a {role} key")
    # A decision cached before scopes were passed carries none: the default scopes.
    raw = context.get("scopes")
    scopes = frozenset(str(raw).split()) if raw is not None else frozenset(DEFAULT_SCOPES)
    if scope is not None and scope not in scopes:
        raise Forbidden(f"this storefront's keys lack the scope {scope}", field="scope")
    return Caller(
        tenant_id=str(tenant),
        channel=str(context.get("channel", "")),
        storefront=str(context.get("storefront", "")),
        key_id=str(context.get("key_id", "")),
        scopes=scopes,
    )


def request_time(app: APIGatewayRestResolver) -> datetime:
    """The time API Gateway received the request."""
    epoch_ms = app.current_event.request_context.get("requestTimeEpoch")
    if epoch_ms is None:
        raise RuntimeError("request context without requestTimeEpoch")
    return from_epoch_ms(int(epoch_ms))
