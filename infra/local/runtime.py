"""Calls handlers in-process the way Lambda does: resolve ``module.function``
from a FunctionDef and pass a Lambda-shaped context."""

from __future__ import annotations

import importlib
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Metrics

from infra.definitions import FunctionDef

Handler = Callable[[dict[str, Any], Any], Any]
REGION = "eu-central-1"
ACCOUNT = "123456789012"

# The function whose handler is running in this thread (None outside handlers),
# so observers such as the capacity benchmark can attribute AWS calls to it.
current_function: ContextVar[str | None] = ContextVar("current_function", default=None)


@dataclass
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int
    timeout_seconds: int
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load_handler(fn: FunctionDef) -> Handler:
    module_name, attribute = fn.handler.rsplit(".", 1)
    handler: Handler = getattr(importlib.import_module(module_name), attribute)
    return handler


def invoke(fn: FunctionDef, handler: Handler, event: dict[str, Any]) -> Any:
    context = LambdaContext(fn.logical_id, fn.memory_mb, fn.timeout_seconds)
    token = current_function.set(fn.logical_id)
    try:
        return handler(event, context)
    finally:
        current_function.reset(token)
        # With POWERTOOLS_METRICS_DISABLED, Powertools skips the flush and keeps
        # the (process-wide) metric set; Lambda would have emitted it, so drop it.
        Metrics().clear_metrics()
