"""Settings come from environment variables through one pydantic model, checked
at a function's cold start.

``REQUIRED_SETTINGS`` (set per function by ``infra.definitions.function_environment``:
its tables' variables, ``SENDER_EMAIL`` when it sends email, ``REPORTS_BUCKET``
when it writes reports, ``UNSUBSCRIBE_SECRET`` when it signs or verifies unsubscribe
links, ``PUBLIC_API_URL`` when it also sends them) lists the variables the function cannot run without.
Reading the settings raises ``MissingSettings`` naming every listed variable that
is unset or empty, so a misconfigured function fails when it starts
(``loyalty.observability`` reads them at import), not with a 500 on its first
request. Without ``REQUIRED_SETTINGS`` nothing is required; ``Settings.require``
still refuses an empty value where it is used."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

REQUIRED_SETTINGS = "REQUIRED_SETTINGS"


class MissingSettings(RuntimeError):
    """Variables a function requires are unset or empty (or not settings at all)."""

    def __init__(self, missing: list[str], unknown: list[str]) -> None:
        self.missing = missing
        self.unknown = unknown
        parts = []
        if missing:
            parts.append(f"missing or empty: {', '.join(missing)}")
        if unknown:
            parts.append(f"not a setting: {', '.join(unknown)}")
        super().__init__(f"settings listed in {REQUIRED_SETTINGS} are not usable: " + "; ".join(parts))


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    events_table: str = Field(default="", alias="EVENTS_TABLE")
    loyalty_table: str = Field(default="", alias="LOYALTY_TABLE")
    idempotency_table: str = Field(default="", alias="IDEMPOTENCY_TABLE")
    reports_bucket: str = Field(default="", alias="REPORTS_BUCKET")
    sender_email: str = Field(default="", alias="SENDER_EMAIL")
    program_time_zone: str = Field(default="UTC", alias="PROGRAM_TIME_ZONE")
    # Requests per second a storefront may send unless its own limit is set.
    storefront_rate_limit: int = Field(default=100, ge=1, le=10_000, alias="STOREFRONT_RATE_LIMIT")
    # The API stage's own limit (requests per second, all keys together): no storefront's
    # limit may exceed it (AdminApi).
    api_rate_limit: int = Field(default=10_000, ge=1, alias="API_RATE_LIMIT")
    # Stream consumers: the queue that keeps a record whole once it has failed
    # ``stream_max_retries`` + 1 times (empty: the queue named <function>-dlq, as locally).
    dead_letter_queue_url: str = Field(default="", alias="DEAD_LETTER_QUEUE_URL")
    stream_max_retries: int = Field(default=3, ge=0, le=100, alias="STREAM_MAX_RETRIES")
    # The EventBridge bus care rules' ``event`` actions publish to (CareRules).
    care_event_bus: str = Field(default="", alias="CARE_EVENT_BUS")
    # The Secrets Manager secret (ARN or name) holding the unsubscribe signing keys
    # (loyalty.secrets), for the functions that sign or verify unsubscribe links.
    unsubscribe_secret: str = Field(default="", alias="UNSUBSCRIBE_SECRET")
    # The API's public base URL, which unsubscribe links in emails point at.
    public_api_url: str = Field(default="", alias="PUBLIC_API_URL")

    @model_validator(mode="before")
    @classmethod
    def _required_are_set(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        listed = [n.strip() for n in str(data.get(REQUIRED_SETTINGS) or "").split(",") if n.strip()]
        known = {str(f.alias) for f in cls.model_fields.values()}
        unknown = [n for n in listed if n not in known]
        missing = [n for n in listed if n in known and not str(data.get(n) or "").strip()]
        if missing or unknown:
            # Not a ValueError: pydantic would fold it into a ValidationError.
            raise MissingSettings(missing, unknown)
        return data

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.program_time_zone)

    def require(self, name: str) -> str:
        value = getattr(self, name)
        if not value:
            raise RuntimeError(f"setting {name} is not configured for this function")
        return str(value)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Read once per process (a Lambda container's environment does not change);
    raises ``MissingSettings`` when a variable in ``REQUIRED_SETTINGS`` is unset or empty."""
    return Settings.model_validate(dict(os.environ))
