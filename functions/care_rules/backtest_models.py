"""API models of the care rule backtest: the window asked for, an unsaved rule with its
window, and the answer."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from care_rules.rules import CareRule
from loyalty.timeutil import Timestamp


class BacktestIn(BaseModel):
    """A window of the past, at most 90 days long."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: Timestamp = Field(alias="from", description="The window's start (RFC 3339, included)")
    to: Timestamp = Field(
        description="The window's end (RFC 3339, excluded), after from, at most 90 days later"
    )


class DraftBacktestIn(BacktestIn):
    """An unsaved rule (validated like a PUT) and the window."""

    rule: CareRule


class WindowOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from")
    to: str


class ReadsOut(BaseModel):
    queries: int = Field(description="DynamoDB Queries the backtest made (pages counted)")
    items: int = Field(description="Items those Queries read (before filters)")


class BacktestOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    would_fire: int = Field(description="Firings that would have done at least one action")
    skipped: dict[str, int] = Field(
        description="Skip entries the send ledger would hold, by reason; every reason present"
    )
    deferred: int = Field(description="Emails that quiet hours would have deferred (also in would_fire)")
    members: list[str] = Field(description="Up to 20 members that would have got the rule's actions, sorted")
    window: WindowOut
    reads: ReadsOut
    version: int | None = Field(description="The backtested version; null for an unsaved rule")
