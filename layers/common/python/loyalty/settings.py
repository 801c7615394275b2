"""Settings come from environment variables through one pydantic model."""

from __future__ import annotations

import os
from functools import lru_cache
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field


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
    """Read once per process (a Lambda container's environment does not change)."""
    return Settings.model_validate(dict(os.environ))
