"""The service desk's configuration as the ticket functions read it at run time.

The deployment validates ``config/service.yaml`` and stores it in SSM Parameter Store
as compact JSON (``infra.definitions.service_config_json``); :func:`service_config`
reads the parameter named by ``SERVICE_CONFIG_PARAMETER`` through Powertools
Parameters, cached for five minutes, and validates it again with the same model
(``tickets.service_config.ServiceConfig``), once per distinct document. Guarantees: it
returns only a validated configuration; a function without the variable, or a parameter
holding a document that is not valid JSON or not a valid configuration, raises
:class:`ServiceConfigError` naming the parameter and each failing field, at use, never
with a configuration silently filled in."""

from __future__ import annotations

import json
import os
from functools import lru_cache

from pydantic import ValidationError

from tickets.service_config import ServiceConfig

PARAMETER_VARIABLE = "SERVICE_CONFIG_PARAMETER"
PARAMETER_MAX_AGE_SECONDS = 300


class ServiceConfigError(RuntimeError):
    """The service configuration is missing or invalid."""


@lru_cache(maxsize=4)
def _parse(name: str, raw: str) -> ServiceConfig:
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ServiceConfigError(f"service config parameter {name} is not JSON: {error.msg}") from error
    try:
        return ServiceConfig.model_validate(document)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or '(document)'}: {problem['msg']}"
            for problem in error.errors(include_input=False, include_url=False)
        )
        raise ServiceConfigError(f"service config parameter {name} is invalid: {problems}") from error


def service_config() -> ServiceConfig:
    """The validated calendars and SLA policies (at most five minutes old)."""
    name = os.environ.get(PARAMETER_VARIABLE)
    if not name:
        raise ServiceConfigError(
            f"{PARAMETER_VARIABLE} is not set: the service calendars and policies are unknown"
        )
    from aws_lambda_powertools.utilities import parameters

    return _parse(name, str(parameters.get_parameter(name, max_age=PARAMETER_MAX_AGE_SECONDS)))


def clear_cache() -> None:
    """Forget the parsed documents and the fetched parameters (a changed parameter is
    read on the next use)."""
    from aws_lambda_powertools.utilities import parameters

    _parse.cache_clear()
    parameters.clear_caches()
