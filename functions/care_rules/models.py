"""API models of the care rules admin API. The rule itself is ``rules.CareRule``:
the body of a PUT and the ``rule`` of every answer, as stored."""

from __future__ import annotations

from pydantic import BaseModel, Field

from care_rules.rules import CareRule
from care_rules.ruleset import StoredRule


class CareRuleOut(BaseModel):
    rule_id: str
    version: int = Field(ge=1, description="1 for a new rule, one more for each change")
    enabled: bool
    saved_at: str = Field(description="When this version was saved (RFC 3339)")
    rule: CareRule


class CareRulesOut(BaseModel):
    rules: list[CareRuleOut] = Field(description="The tenant's current rules, by id")


class CareRuleDetailOut(CareRuleOut):
    earlier_versions: list[CareRuleOut] = Field(description="Versions before the current one, newest first")
    next_cursor: str | None = Field(description="More earlier versions: pass as cursor")


def rule_out(stored: StoredRule) -> CareRuleOut:
    return CareRuleOut(
        rule_id=stored.rule_id,
        version=stored.version,
        enabled=stored.enabled,
        saved_at=stored.saved_at,
        rule=stored.rule,
    )
