"""API models of the points function (input and output; never stored items)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from loyalty.timeutil import Timestamp
from loyalty.types import Currency, Identifier, Money


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BalanceOut(BaseModel):
    available: int
    pending: int
    held: int


class RedemptionIn(Strict):
    redemption_id: Identifier = Field(description="Client-unique; replaying it returns the first result")
    points: int = Field(ge=1, le=10_000_000)
    reward: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    hold: bool = Field(default=False, description="hold the points until confirmed or cancelled")
    order_id: Identifier | None = Field(default=None, description="the order the points pay for, if any")


class RedemptionOut(BaseModel):
    redemption_id: str
    status: Literal["held", "redeemed", "cancelled", "lapsed"]
    points: int
    reward: str | None = None
    order_id: str | None = None
    created_at: str
    lapses_at: str | None = None
    balance: BalanceOut


class AdjustmentIn(Strict):
    adjustment_id: Identifier = Field(description="Client-unique; replaying it returns the first result")
    points: int = Field(ge=-10_000_000, le=10_000_000, description="non-zero; negative takes points away")
    reason: Annotated[str, StringConstraints(min_length=3, max_length=500)]


class AdjustmentOut(BaseModel):
    adjustment_id: str
    points: int
    applied_points: int = Field(description="less than asked when the negative balance policy refused part")
    reason: str
    balance: BalanceOut


class EntryOut(BaseModel):
    seq: int
    type: Literal[
        "earn", "release", "redeem", "hold", "release-hold", "expire", "clawback", "adjust", "note"
    ] = Field(description="note: moves nothing and says why an event earned or took nothing")
    at: str
    reason: str
    available: int
    pending: int
    held: int
    lots: list[dict[str, int | str]] = Field(description="lots moved: [{expires_on, points}] (signed)")
    unrecovered: int = 0
    refs: dict[str, str]


class LedgerPage(BaseModel):
    entries: list[EntryOut]
    next_cursor: str | None = None


class EstimateItem(Strict):
    sku: Identifier
    category: Annotated[str, StringConstraints(max_length=64)] | None = None
    quantity: int = Field(ge=1, le=10_000)
    unit_price: Money


class EstimateOrder(Strict):
    order_id: Identifier | None = None
    currency: Currency
    total: Money
    items: list[EstimateItem] = Field(default_factory=list, max_length=500)


class EstimateIn(Strict):
    member_id: Identifier
    order: EstimateOrder
    placed_at: Timestamp | None = Field(default=None, description="RFC 3339; default now")


class BonusOut(BaseModel):
    name: str
    points: int


class EstimateOut(BaseModel):
    points: int = Field(description="everything the order would earn")
    order_points: int
    bonuses: list[BonusOut]
    rules: list[str]
