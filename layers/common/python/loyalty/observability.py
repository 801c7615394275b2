"""A function's Logger, Tracer and Metrics, created once per service, and its
settings checked at its cold start.

Importing this module validates the function's settings (``loyalty.settings``):
a function missing a variable it needs fails at import, before its first
request, with every missing variable named. Each entry module then takes its
instruments from here (``logger_for(__name__)`` and so on):

- the service is ``POWERTOOLS_SERVICE_NAME`` (set per function by
  ``infra.definitions.function_environment``), else the entry module's package,
  as in the local stack and the tests, which run every function in one
  process; one Logger, Tracer and Metrics per service, whoever asks;
- metrics go to the ``Loyalty`` namespace;
- X-Ray is only imported when tracing is on. Powertools' ``Tracer`` imports
  ``aws_xray_sdk`` even when tracing is disabled; here a disabled tracer is a
  ``DisabledTracer`` with the same decorators, which return what they decorate.
  Tracing is off, as in Powertools, when ``POWERTOOLS_TRACE_DISABLED`` is true or
  outside Lambda (no ``LAMBDA_TASK_ROOT``, or SAM or Chalice local). When it is on,
  the real Tracer records neither responses nor errors
  (``infra.definitions.TRACER_ENVIRONMENT``).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

# The package imports all three classes; only a Tracer's creation imports X-Ray.
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.shared import constants
from aws_lambda_powertools.shared.functions import resolve_truthy_env_var_choice

from loyalty.settings import get_settings

METRICS_NAMESPACE = "Loyalty"

F = TypeVar("F", bound=Callable[..., Any])


def tracing_enabled() -> bool:
    """Powertools' own rule (``Tracer._is_tracer_disabled``): off when
    ``POWERTOOLS_TRACE_DISABLED`` is true, and outside Lambda or in its emulators."""
    if resolve_truthy_env_var_choice(env=os.getenv(constants.TRACER_DISABLED_ENV, "false")):
        return False
    in_lambda = bool(os.getenv(constants.LAMBDA_TASK_ROOT_ENV))
    emulated = bool(os.getenv(constants.SAM_LOCAL_ENV) or os.getenv(constants.CHALICE_LOCAL_ENV))
    return in_lambda and not emulated


class DisabledTracer:
    """The decorators and calls of Powertools' ``Tracer`` the functions use, recording
    nothing: each decorator returns the function it decorates, unchanged."""

    disabled = True

    def __init__(self, service: str) -> None:
        self.service = service

    def capture_lambda_handler(
        self,
        lambda_handler: Callable[..., Any] | None = None,
        capture_response: bool | None = None,
        capture_error: bool | None = None,
    ) -> Callable[..., Any]:
        if lambda_handler is None:
            return _unchanged
        return lambda_handler

    def capture_method(
        self,
        method: F | None = None,
        capture_response: bool | None = None,
        capture_error: bool | None = None,
    ) -> Any:
        if method is None:
            return _unchanged
        return method

    def put_annotation(self, key: str, value: Any) -> None:
        return None

    def put_metadata(self, key: str, value: Any, namespace: str | None = None) -> None:
        return None


def _unchanged(function: F) -> F:
    return function


def service_of(module: str) -> str:
    """``POWERTOOLS_SERVICE_NAME``, else the package of ``module`` (``points.api``: points)."""
    return os.environ.get(constants.SERVICE_NAME_ENV) or module.split(".", 1)[0]


@functools.cache
def _logger(service: str) -> Logger:
    return Logger(service=service)


@functools.cache
def _tracer(service: str) -> Tracer | DisabledTracer:
    if not tracing_enabled():
        return DisabledTracer(service)
    return Tracer(service=service)


@functools.cache
def _metrics(service: str) -> Metrics:
    return Metrics(namespace=METRICS_NAMESPACE, service=service)


def logger_for(module: str) -> Logger:
    """The Logger of the service ``module`` (an entry module's ``__name__``) belongs to."""
    return _logger(service_of(module))


def tracer_for(module: str) -> Tracer | DisabledTracer:
    """The Tracer of the service: Powertools' when tracing is on, else a ``DisabledTracer``."""
    return _tracer(service_of(module))


def metrics_for(module: str) -> Metrics:
    """The Metrics of the service, namespace ``Loyalty``."""
    return _metrics(service_of(module))


get_settings()  # the cold start's check: raises MissingSettings naming every missing variable
