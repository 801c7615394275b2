"""Faults AWS produces and moto does not, injected through a botocore event hook.

Installed on boto3's default session, so every client the functions create
afterwards (``loyalty.aws``) carries the hook; the harness's own session (the
stream pump, assertions) is left alone. Faults hit only calls made while a
handler of one of ``functions`` runs (``infra.local.runtime.current_function``).

Kinds:
* ``conflict``: TransactWriteItems cancelled with ``TransactionConflict``;
* ``throughput`` / ``throttling`` / ``request_limit``: the three throttling errors;
* ``timeout``: a read timeout before the request is sent;
* ``lost_reply``: the call is applied by DynamoDB, then the reply times out.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError

from infra.local.runtime import current_function
from loyalty import aws

KINDS = ("conflict", "throughput", "throttling", "request_limit", "timeout", "lost_reply")
_THROTTLE_CODES = {
    "throughput": "ProvisionedThroughputExceededException",
    "throttling": "ThrottlingException",
    "request_limit": "RequestLimitExceeded",
}


def _error(code: str, message: str, **extra: Any) -> tuple[AWSResponse, dict[str, Any]]:
    status = 400
    parsed = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}},
        **extra,
    }
    return AWSResponse("https://dynamodb.local", status, {}, None), parsed


class Faults:
    def __init__(
        self,
        rate: float,
        seed: int,
        functions: Iterable[str],
        kinds: Iterable[str] = KINDS,
        when: Callable[[str, dict[str, Any]], bool] | None = None,
    ) -> None:
        self.rate = rate
        self.random = random.Random(seed)
        self.functions = set(functions)
        self.kinds = tuple(kinds)
        self.when = when
        self.injected: Counter[str] = Counter()
        self.calls = 0
        self._lost: set[int] = set()

    def install(self) -> Faults:
        session = boto3._get_default_session()
        session.events.register("before-call.dynamodb", self._before)
        session.events.register("after-call.dynamodb", self._after)
        aws.reset()  # clients created from now on copy the hook
        return self

    def uninstall(self) -> None:
        session = boto3._get_default_session()
        session.events.unregister("before-call.dynamodb", self._before)
        session.events.unregister("after-call.dynamodb", self._after)
        aws.reset()

    def _applies(self, operation: str, params: dict[str, Any]) -> bool:
        if current_function.get() not in self.functions:
            return False
        if self.when is not None and not self.when(operation, params):
            return False
        self.calls += 1
        return self.random.random() < self.rate

    def _before(self, model: Any, params: dict[str, Any], context: Any, **kwargs: Any) -> Any:
        operation = model.name
        body = params.get("body") or b"{}"
        params = json.loads(body) if isinstance(body, bytes | str) else {}
        if not self._applies(operation, params):
            return None
        kinds = [k for k in self.kinds if k != "conflict"]
        transaction = operation == "TransactWriteItems" and "conflict" in self.kinds
        # Half the faults a transaction meets are collisions with another transaction.
        kind = "conflict" if transaction and (not kinds or self.random.random() < 0.5) else None
        kind = kind or self.random.choice(kinds)
        self.injected[kind] += 1
        if kind == "conflict":
            items = len(params.get("TransactItems") or [])
            reasons = [{"Code": "None"}] * items
            reasons[self.random.randrange(items)] = {
                "Code": "TransactionConflict",
                "Message": "Transaction is ongoing for the item",
            }
            return _error(
                "TransactionCanceledException",
                "Transaction cancelled, please refer cancellation reasons for specific reasons "
                "[TransactionConflict]",
                CancellationReasons=reasons,
            )
        if kind == "timeout":
            raise ReadTimeoutError(endpoint_url="https://dynamodb.local")
        if kind == "lost_reply":
            context["lost_reply"] = True  # applied below, then the reply is lost
            return None
        return _error(_THROTTLE_CODES[kind], "Rate of requests exceeds the allowed throughput.")

    def _after(self, context: Any, http_response: Any, **kwargs: Any) -> None:
        if context.get("lost_reply") and http_response.status_code < 300:
            raise ReadTimeoutError(endpoint_url="https://dynamodb.local")
