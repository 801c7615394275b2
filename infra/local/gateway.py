"""Turns HTTP requests into API Gateway (REST, proxy integration) events for
the same handlers Lambda runs, with the REQUEST authorizer in front."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from infra.definitions import AUTHORIZER, FUNCTIONS, FunctionDef, RouteDef
from infra.local.runtime import ACCOUNT, REGION, Handler, invoke

STAGE = "local"
API_ID = "localapi"
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit


@dataclass(frozen=True)
class Route:
    route: RouteDef
    function: FunctionDef
    pattern: re.Pattern[str]
    names: tuple[str, ...]


@dataclass(frozen=True)
class GatewayResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def _compile(path: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    names = tuple(re.findall(r"\{(\w+)\}", path))
    regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path))
    return re.compile(f"^{regex}$"), names


def _error(status: int, code: str, message: str) -> GatewayResponse:
    body = json.dumps({"error": {"code": code, "message": message, "field": None}}).encode()
    return GatewayResponse(status, {"content-type": "application/json"}, body)


class Gateway:
    def __init__(self, handlers: dict[str, Handler]) -> None:
        self._handlers = handlers
        self.routes = [Route(route, fn, *_compile(route.path)) for fn in FUNCTIONS for route in fn.routes]

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None | str:
        """The route and path parameters; "method" when only the method is wrong."""
        path_matched = False
        for route in self.routes:
            found = route.pattern.match(path)
            if found:
                path_matched = True
                if route.route.method == method:
                    return route, found.groupdict()
        return "method" if path_matched else None

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes, now: datetime, source_ip: str
    ) -> GatewayResponse:
        path, _, query = raw_path.partition("?")
        matched = self.match(method, path)
        if matched is None:
            return _error(404, "route_not_found", f"no route for {method} {path}")
        if matched == "method":
            return _error(405, "method_not_allowed", f"{method} is not allowed on {path}")
        assert not isinstance(matched, str)
        route, params = matched
        if len(body) > MAX_BODY_BYTES:
            return _error(413, "payload_too_large", "request body exceeds 10 MB")
        try:
            text = body.decode("utf-8") if body else None
        except UnicodeDecodeError:
            return _error(400, "invalid_encoding", "request body must be UTF-8")
        event = self._event(method, path, query, headers, text, route, params, now, source_ip)
        if route.route.authorized:
            authorized = self._authorize(event, method, path)
            if isinstance(authorized, GatewayResponse):
                return authorized
            event["requestContext"]["authorizer"] = authorized
        result = invoke(route.function, self._handlers[route.function.logical_id], event)
        return self._response(result)

    def _authorize(self, event: dict[str, Any], method: str, path: str) -> dict[str, Any] | GatewayResponse:
        request = {
            "type": "REQUEST",
            "methodArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/{STAGE}/{method}{path}",
            "resource": event["resource"],
            "path": path,
            "httpMethod": method,
            "headers": event["headers"],
            "multiValueHeaders": event["multiValueHeaders"],
            "queryStringParameters": event["queryStringParameters"],
            "multiValueQueryStringParameters": event["multiValueQueryStringParameters"],
            "pathParameters": event["pathParameters"],
            "stageVariables": None,
            "requestContext": {k: v for k, v in event["requestContext"].items() if k != "authorizer"},
        }
        try:
            policy = invoke(AUTHORIZER, self._handlers[AUTHORIZER.logical_id], request)
        except Exception as err:  # noqa: BLE001 - API Gateway turns any authorizer error into 401/500
            if str(err) == "Unauthorized":
                return _error(401, "unauthorized", "missing or unknown API key")
            return _error(500, "authorizer_error", "authorizer failed")
        statements = policy.get("policyDocument", {}).get("Statement", [])
        if not any(s.get("Effect") == "Allow" for s in statements):
            return _error(403, "forbidden", "this key may not call this route")
        return {"principalId": policy.get("principalId"), **(policy.get("context") or {})}

    @staticmethod
    def _event(
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        body: str | None,
        route: Route,
        params: dict[str, str],
        now: datetime,
        source_ip: str,
    ) -> dict[str, Any]:
        multi_query = parse_qs(query, keep_blank_values=True) if query else {}
        epoch_ms = int(now.timestamp() * 1000)
        request_id = str(uuid.uuid4())
        return {
            "resource": route.route.path,
            "path": path,
            "httpMethod": method,
            "headers": dict(headers) or None,
            "multiValueHeaders": {k: [v] for k, v in headers.items()} or None,
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": params or None,
            "stageVariables": None,
            "requestContext": {
                "accountId": ACCOUNT,
                "apiId": API_ID,
                "domainName": "127.0.0.1",
                "httpMethod": method,
                "path": f"/{STAGE}{path}",
                "protocol": "HTTP/1.1",
                "requestId": request_id,
                "extendedRequestId": request_id,
                "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "requestTimeEpoch": epoch_ms,
                "resourceId": "local",
                "resourcePath": route.route.path,
                "stage": STAGE,
                "identity": {"sourceIp": source_ip, "userAgent": headers.get("user-agent")},
            },
            "body": body,
            "isBase64Encoded": False,
        }

    @staticmethod
    def _response(result: dict[str, Any]) -> GatewayResponse:
        headers = {k.lower(): str(v) for k, v in (result.get("headers") or {}).items()}
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers[name.lower()] = ", ".join(str(v) for v in values)
        body = result.get("body") or ""
        if result.get("isBase64Encoded"):
            import base64

            payload = base64.b64decode(body)
        else:
            payload = body.encode("utf-8")
        return GatewayResponse(int(result.get("statusCode", 500)), headers, payload)
