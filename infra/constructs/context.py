"""Deployment settings from CDK context, validated once, before any resource is built.

Pass them with ``-c name=value`` (``make deploy DEPLOY_CONTEXT="-c sender_email=..."``), in
``cdk.context.json`` or, for tests, in ``App(context=...)``. Values given on the command line
arrive as strings; numbers are parsed here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from infra.definitions import (
    API_THROTTLE_BURST,
    API_THROTTLE_RATE,
    ARCHITECTURE,
    PYTHON_RUNTIME,
    STOREFRONT_RATE_LIMIT,
)

SENDER_EMAIL = "sender_email"
SENDER_DOMAIN = "sender_domain"
ALARM_EMAIL = "alarm_email"
API_RATE_LIMIT = "api_rate_limit"
API_BURST_LIMIT = "api_burst_limit"
STOREFRONT_RATE_LIMIT_KEY = "storefront_rate_limit"
POWERTOOLS_LAYER_ARN = "powertools_layer_arn"
# Read by earlier versions of this stack; refused so that it is not silently ignored.
LEGACY_POWERTOOLS_LAYER_VERSION = "powertoolsLayerVersion"

# Bounds of loyalty.settings.Settings.storefront_rate_limit (the functions refuse others).
STOREFRONT_LIMIT_RANGE = (1, 10_000)

USAGE = (
    "pass it as CDK context, e.g. "
    'make deploy DEPLOY_CONTEXT="-c sender_email=loyalty@shop.example" '
    "or npx aws-cdk deploy -c sender_email=loyalty@shop.example"
)

_DOMAIN = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
_EMAIL_RE = re.compile(rf"^[A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~-]+@({_DOMAIN})$")
_DOMAIN_RE = re.compile(rf"^{_DOMAIN}$")


class ContextError(ValueError):
    """A missing or invalid deployment setting; the message says which and how to fix it."""


def powertools_layer_name() -> str:
    """e.g. ``AWSLambdaPowertoolsPythonV3-python313-arm64``."""
    return f"AWSLambdaPowertoolsPythonV3-{PYTHON_RUNTIME.replace('.', '')}-{ARCHITECTURE}"


def _layer_arn_re() -> re.Pattern[str]:
    return re.compile(
        rf"^arn:aws(?:-[a-z]+)*:lambda:[a-z0-9-]+:\d{{12}}:layer:{re.escape(powertools_layer_name())}:\d+$"
    )


def _text(get: Callable[[str], Any], key: str) -> str | None:
    value = get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ContextError(f"context {key} must be a string, got {value!r}")
    value = value.strip()
    return value or None


def _positive_int(get: Callable[[str], Any], key: str, default: int) -> int:
    value = get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        raise ContextError(f"context {key} must be a whole number of requests per second, got {value!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        raise ContextError(f"context {key} must be a whole number of requests per second, got {value!r}")
    if number < 1:
        raise ContextError(f"context {key} must be at least 1, got {number}")
    return number


@dataclass(frozen=True)
class DeploymentContext:
    sender_email: str
    sender_domain: str | None
    alarm_email: str | None
    api_rate_limit: int
    api_burst_limit: int
    storefront_rate_limit: int
    powertools_layer_arn: str | None

    @classmethod
    def from_mapping(cls, context: Mapping[str, Any]) -> DeploymentContext:
        return cls.parse(context.get)

    @classmethod
    def parse(cls, get: Callable[[str], Any]) -> DeploymentContext:
        if get(LEGACY_POWERTOOLS_LAYER_VERSION) is not None:
            raise ContextError(
                f"context {LEGACY_POWERTOOLS_LAYER_VERSION} is no longer read: the Powertools layer is "
                "the one published for POWERTOOLS_VERSION (infra/definitions.py); to use another "
                f"layer pass {POWERTOOLS_LAYER_ARN}"
            )

        sender_email = _text(get, SENDER_EMAIL)
        if sender_email is None:
            raise ContextError(f"context {SENDER_EMAIL} (the SES sender address) is required: {USAGE}")
        sender_match = _EMAIL_RE.match(sender_email)
        if sender_match is None:
            raise ContextError(f"context {SENDER_EMAIL} is not an email address: {sender_email!r}")

        sender_domain = _text(get, SENDER_DOMAIN)
        if sender_domain is not None:
            if _DOMAIN_RE.match(sender_domain) is None:
                raise ContextError(f"context {SENDER_DOMAIN} is not a domain name: {sender_domain!r}")
            if sender_match.group(1).lower() != sender_domain.lower():
                raise ContextError(
                    f"context {SENDER_EMAIL} ({sender_email}) must be an address at {SENDER_DOMAIN} "
                    f"({sender_domain}), the identity SES verifies"
                )

        alarm_email = _text(get, ALARM_EMAIL)
        if alarm_email is not None and _EMAIL_RE.match(alarm_email) is None:
            raise ContextError(f"context {ALARM_EMAIL} is not an email address: {alarm_email!r}")

        api_rate_limit = _positive_int(get, API_RATE_LIMIT, API_THROTTLE_RATE)
        api_burst_limit = _positive_int(get, API_BURST_LIMIT, API_THROTTLE_BURST)
        storefront_rate_limit = _positive_int(get, STOREFRONT_RATE_LIMIT_KEY, STOREFRONT_RATE_LIMIT)
        low, high = STOREFRONT_LIMIT_RANGE
        if not low <= storefront_rate_limit <= high:
            raise ContextError(
                f"context {STOREFRONT_RATE_LIMIT_KEY} must be between {low} and {high}, "
                f"got {storefront_rate_limit}"
            )
        if storefront_rate_limit > api_rate_limit:
            raise ContextError(
                f"context {STOREFRONT_RATE_LIMIT_KEY} ({storefront_rate_limit}) exceeds {API_RATE_LIMIT} "
                f"({api_rate_limit}): the stage-wide limit applies on top of every storefront's own, "
                f"so a storefront could never reach it; raise {API_RATE_LIMIT} or lower "
                f"{STOREFRONT_RATE_LIMIT_KEY}"
            )

        layer_arn = _text(get, POWERTOOLS_LAYER_ARN)
        if layer_arn is not None and _layer_arn_re().match(layer_arn) is None:
            raise ContextError(
                f"context {POWERTOOLS_LAYER_ARN} must be a version ARN of the "
                f"{powertools_layer_name()} layer "
                f"(arn:<partition>:lambda:<region>:<account>:layer:{powertools_layer_name()}:<version>), "
                f"got {layer_arn!r}"
            )

        return cls(
            sender_email=sender_email,
            sender_domain=sender_domain,
            alarm_email=alarm_email,
            api_rate_limit=api_rate_limit,
            api_burst_limit=api_burst_limit,
            storefront_rate_limit=storefront_rate_limit,
            powertools_layer_arn=layer_arn,
        )
