"""The loyalty program's configuration (config/program.yaml), validated.

Functions read it at run time from SSM Parameter Store (``get_program``); the
defaults here apply when a section is left out."""

from __future__ import annotations

import json
import os
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Literal

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


PositiveDecimal = Annotated[Decimal, Field(gt=0, le=100)]
TierName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,23}$")]


class Campaign(Strict):
    """An earn multiplier for orders placed from ``starts_on`` to ``ends_on``
    inclusive (days in the program's time zone)."""

    name: Annotated[str, Field(min_length=1, max_length=64)]
    starts_on: date
    ends_on: date
    multiplier: PositiveDecimal
    categories: list[str] = Field(default_factory=list, description="empty: every category")

    @model_validator(mode="after")
    def _window(self) -> Campaign:
        if self.ends_on < self.starts_on:
            raise ValueError(f"campaign {self.name}: ends_on is before starts_on")
        return self


class Bonuses(Strict):
    """Fixed points, available at once (no return window). 0 switches a bonus off."""

    sign_up: int = Field(default=100, ge=0)
    first_order: int = Field(default=200, ge=0)
    birthday_month: int = Field(
        default=250, ge=0, description="once per year, on the first order in the birthday month"
    )
    review: int = Field(default=25, ge=0)
    referral: int = Field(default=500, ge=0, description="credited to the referring member")


class Tier(Strict):
    name: TierName
    threshold: int = Field(ge=0, description="qualifying points earned in a rolling 12 months")
    multiplier: PositiveDecimal


DEFAULT_TIERS = [
    Tier(name="member", threshold=0, multiplier=Decimal("1.0")),
    Tier(name="silver", threshold=1_000, multiplier=Decimal("1.25")),
    Tier(name="gold", threshold=5_000, multiplier=Decimal("1.5")),
    Tier(name="black", threshold=20_000, multiplier=Decimal("2.0")),
]


class NegativeBalance(Strict):
    """What a clawback (refund) or a negative adjustment may do when it exceeds
    the available points: ``deny`` stops at zero and records the shortfall as
    unrecovered; ``allow`` lets the balance go down to ``-cap``."""

    policy: Literal["deny", "allow"] = "deny"
    cap: int = Field(default=0, ge=0)


class Points(Strict):
    points_per_unit: PositiveDecimal = Field(default=Decimal("1"), description="per whole currency unit")
    category_multipliers: dict[str, PositiveDecimal] = Field(default_factory=dict)
    campaigns: list[Campaign] = Field(default_factory=list)
    bonuses: Bonuses = Bonuses()
    daily_cap: int | None = Field(default=None, ge=1, description="most points one member earns per day")
    pending_days: int = Field(default=14, ge=0, le=365, description="the return window")
    expiry_months: int = Field(default=12, ge=1, le=120)
    expiring_notice_days: int = Field(default=30, ge=1, le=365)
    hold_minutes: int = Field(
        default=30, ge=1, le=60 * 24 * 30, description="an unconfirmed hold lapses after this"
    )
    negative_balance: NegativeBalance = NegativeBalance()
    return_spent_points_on_refund: bool = True
    max_active_holds: int = Field(
        default=100, ge=1, le=1000, description="unconfirmed holds one member may have at once"
    )
    tiers: list[Tier] = Field(default_factory=lambda: list(DEFAULT_TIERS), min_length=1)

    @model_validator(mode="after")
    def _tiers_ascend(self) -> Points:
        thresholds = [t.threshold for t in self.tiers]
        if thresholds[0] != 0 or thresholds != sorted(set(thresholds)):
            raise ValueError("tiers must start at threshold 0 and ascend strictly")
        if len({t.name for t in self.tiers}) != len(self.tiers):
            raise ValueError("tier names must be unique")
        return self


# Refunds kept by currency use this key for "the order's own currency" (a refund
# that names none, or that arrives before its order).
ORDER_CURRENCY = "order"
CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
Rate = Annotated[Decimal, Field(gt=0, le=Decimal("1000000"))]


_CLOCK = r"^([01]\d|2[0-3]):[0-5]\d$"


class Care(Strict):
    """The guards every care rule runs under (docs/care-rules.md, "Guards")."""

    frequency_cap: int = Field(
        default=2, ge=1, le=100, description="marketing emails a member may get in cap_days member-local days"
    )
    cap_days: int = Field(default=7, ge=1, le=31)
    quiet_hours_start: Annotated[str, Field(pattern=_CLOCK)] = "21:00"
    quiet_hours_end: Annotated[str, Field(pattern=_CLOCK)] = "09:00"
    late_date_hours: int = Field(
        default=24, ge=1, le=240, description="a date trigger due longer ago than this is not sent late"
    )
    program_name: Annotated[str, Field(max_length=60)] = Field(
        default="", description="the program's name in care emails"
    )


class Reports(Strict):
    """The inputs of the KPI reports that are not counted (docs/kpis.md)."""

    gross_margin: Annotated[Decimal, Field(gt=0, le=1)] = Field(
        default=Decimal(1), description="the share of revenue kept as margin, for clv"
    )
    point_value: Annotated[Decimal, Field(ge=0, le=Decimal("1000"))] = Field(
        default=Decimal("0.01"), description="one point's value in the base currency, for the liability"
    )
    expected_redemption_rate: Annotated[Decimal, Field(ge=0, le=1)] = Field(
        default=Decimal("0.8"), description="the redemption rate used while there is no redemption history"
    )


class ProgramConfig(Strict):
    currency: CurrencyCode = Field(default="CNY", description="the base currency of points and figures")
    exchange_rates: dict[CurrencyCode, Rate] = Field(
        default_factory=dict, description="units of the base currency for one unit of each other currency"
    )
    locale: Annotated[str, Field(pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")] = Field(
        default="zh-CN", description="the language of members who have none (zh-CN or en)"
    )
    lifecycle: Lifecycle = Lifecycle()
    rfm: Rfm = Rfm()
    tags: list[TagRule] = []
    points: Points = Points()
    care: Care = Care()
    reports: Reports = Reports()

    @model_validator(mode="after")
    def _rates(self) -> ProgramConfig:
        if self.currency in self.exchange_rates:
            raise ValueError("exchange_rates must not list the base currency")
        return self

    def to_base(self, amount: Decimal, currency: str | None) -> Decimal | None:
        """``amount`` in the base currency; None when ``currency`` has no rate."""
        if currency is None or currency == self.currency:
            return amount
        rate = self.exchange_rates.get(currency)
        return None if rate is None else amount * rate

    def convert(self, amount: Decimal, source: str, target: str | None) -> Decimal | None:
        """``amount`` in ``source`` expressed in ``target`` (None: the base currency),
        through the base currency; None when a rate is missing."""
        base = self.to_base(amount, source)
        if base is None or target is None or target == self.currency:
            return base
        rate = self.exchange_rates.get(target)
        return None if rate is None else base / rate

    @property
    def order_window_days(self) -> int:
        """How far back order times are kept on the member: the longest window any rule reads."""
        return max([365, *(t.within_days or 0 for t in self.tags)])


PARAMETER_MAX_AGE_SECONDS = 300  # a changed configuration reaches every function within this


@lru_cache(maxsize=4)
def _parse(raw: str) -> ProgramConfig:
    return ProgramConfig.model_validate(json.loads(raw))


def get_program() -> ProgramConfig:
    """The program configuration: from SSM Parameter Store (``PROGRAM_CONFIG_PARAMETER``,
    read through Powertools Parameters and cached for five minutes), else from the
    ``PROGRAM_CONFIG`` variable (a JSON document), else the defaults."""
    name = os.environ.get("PROGRAM_CONFIG_PARAMETER")
    if name:
        from aws_lambda_powertools.utilities import parameters

        return _parse(str(parameters.get_parameter(name, max_age=PARAMETER_MAX_AGE_SECONDS)))
    document = os.environ.get("PROGRAM_CONFIG")
    return _parse(document) if document else ProgramConfig()


def clear_program_cache() -> None:
    """Forget the cached configuration (tests switch between moto instances)."""
    from aws_lambda_powertools.utilities import parameters

    _parse.cache_clear()
    parameters.clear_caches()
