"""API Gateway REQUEST authorizer: resolves the storefront API key (header
x-api-key) to its tenant and channel, and a storefront key to its storefront's
request rate limit. Results are cached by API Gateway (300 s), so a revoked key
or a changed limit takes effect within that time."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from loyalty.commit import optimistic
from loyalty.credentials import lookup, storefront_access
from loyalty.observability import logger_for
from loyalty.settings import get_settings

logger = logger_for(__name__)


def _policy(
    effect: str, resource: str, principal: str, context: dict[str, str] | None = None
) -> dict[str, Any]:
    policy: dict[str, Any] = {
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
    }
    if context:
        policy["context"] = context
    return policy


def _api_wildcard(method_arn: str) -> str:
    # arn:aws:execute-api:region:account:api-id/stage/METHOD/path -> .../stage/*/*
    # so the cached decision holds for every route of the API.
    parts = method_arn.split("/")
    return "/".join(parts[:2] + ["*", "*"]) if len(parts) >= 2 else method_arn


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    api_key = headers.get("x-api-key") or ""
    method_arn = str(event.get("methodArn", "*"))
    if not api_key or len(api_key) > 256:
        raise PermissionError("Unauthorized")  # API Gateway answers 401
    settings = get_settings()
    table = settings.require("loyalty_table")
    # Reads retried on throttling and timeouts: a failing authorizer is a 500 at API Gateway.
    key = optimistic(lambda: lookup(table, api_key), what="credential")
    if key is None or not key.active:
        logger.info("rejected key")
        raise PermissionError("Unauthorized")
    identity = {
        "tenant_id": key.tenant_id,
        "role": key.role,
        "storefront": key.storefront,
        "channel": key.channel,
        "key_id": key.key_id,
    }
    if key.role == "storefront" and key.storefront:
        storefront = key.storefront
        limit, scopes = optimistic(
            lambda: storefront_access(table, key.tenant_id, storefront), what="storefront"
        )
        # API Gateway hands context values to the handler as strings.
        identity["rate_limit_per_second"] = str(limit or settings.storefront_rate_limit)
        identity["scopes"] = " ".join(scopes)
    return _policy(
        "Allow",
        _api_wildcard(method_arn),
        principal=f"{key.tenant_id}/{key.role}/{key.storefront or 'admin'}",
        context=identity,
    )
