"""Lazily created, cached boto3 clients: nothing touches AWS at import time,
so tests can start moto first. The only module that imports boto3 directly."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=3, read_timeout=10)


@cache
def client(service: str) -> Any:
    return boto3.client(service, config=_CONFIG)  # type: ignore[call-overload]


@cache
def table(name: str) -> Any:
    return boto3.resource("dynamodb", config=_CONFIG).Table(name)


def reset() -> None:
    """Drop cached clients (tests switch endpoints between moto instances)."""
    client.cache_clear()
    table.cache_clear()
