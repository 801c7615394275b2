"""The loyalty program's configuration (config/program.yaml), validated.

Functions receive it as JSON in the PROGRAM_CONFIG environment variable; the
defaults here apply when a section is left out."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from functools import lru_cache
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Lifecycle(Strict):
    new_days: int = Field(default=30, ge=1)
    active_days: int = Field(default=90, ge=1)
    lapsed_days: int = Field(default=180, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> Lifecycle:
        if not self.active_days < self.lapsed_days:
            raise ValueError("active_days must be less than lapsed_days")
        return self


Descending4 = Annotated[list[int], Field(min_length=4, max_length=4)]


class Rfm(Strict):
    recency_days: Descending4 = [30, 60, 120, 240]
    frequency_orders: Descending4 = [10, 6, 3, 2]
    monetary: Annotated[list[Decimal], Field(min_length=4, max_length=4)] = [
        Decimal("1000"),
        Decimal("500"),
        Decimal("200"),
        Decimal("75"),
    ]

    @model_validator(mode="after")
    def _monotonic(self) -> Rfm:
        if self.recency_days != sorted(self.recency_days):
            raise ValueError("recency_days must increase (thresholds for scores 5, 4, 3, 2)")
        if self.frequency_orders != sorted(self.frequency_orders, reverse=True):
            raise ValueError("frequency_orders must decrease (thresholds for scores 5, 4, 3, 2)")
        if self.monetary != sorted(self.monetary, reverse=True):
            raise ValueError("monetary must decrease (thresholds for scores 5, 4, 3, 2)")
        return self


class TagRule(Strict):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]
    description: str = ""
    min_orders: int | None = Field(default=None, ge=1)
    within_days: int | None = Field(default=None, ge=1, le=365)
    min_spend: Decimal | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_rule(self) -> TagRule:
        if (self.min_orders is None) == (self.min_spend is None):
            raise ValueError(f"tag {self.name}: give either min_orders (with within_days) or min_spend")
        if self.min_orders is not None and self.within_days is None:
            raise ValueError(f"tag {self.name}: min_orders needs within_days")
        return self


class ProgramConfig(Strict):
    lifecycle: Lifecycle = Lifecycle()
    rfm: Rfm = Rfm()
    tags: list[TagRule] = []

    @property
    def order_window_days(self) -> int:
        """How far back order times are kept on the member: the longest window any rule reads."""
        return max([365, *(t.within_days or 0 for t in self.tags)])


@lru_cache(maxsize=1)
def get_program() -> ProgramConfig:
    raw = os.environ.get("PROGRAM_CONFIG")
    return ProgramConfig.model_validate(json.loads(raw)) if raw else ProgramConfig()
