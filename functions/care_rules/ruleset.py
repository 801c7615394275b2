"""A tenant's care rules as versions: what a save or a disable makes of the current
version. Pure: no AWS here.

Versions count from 1 per rule and never change once written; the current version
is the newest. Saving a rule equal to the current one (compared as stored, every
default filled in) makes no version: a repeated PUT answers what is stored.
Disabling writes a version with ``enabled: false``; a disabled rule stays disabled
when disabled again."""

from __future__ import annotations

import json
from dataclasses import dataclass

from care_rules.rules import CareRule


@dataclass(frozen=True)
class StoredRule:
    rule_id: str
    version: int
    rule: CareRule
    saved_at: str

    @property
    def enabled(self) -> bool:
        return self.rule.enabled


def canonical(rule: CareRule) -> str:
    """The stored form of a rule: compact JSON with sorted keys (what equality compares)."""
    return json.dumps(rule.document(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def parse(text: str) -> CareRule:
    """A stored rule (validated when it was saved) read back."""
    return CareRule.model_validate(json.loads(text))


def revise(current: StoredRule | None, rule_id: str, rule: CareRule, at: str) -> StoredRule | None:
    """The next version of ``rule_id`` holding ``rule``; None when ``rule`` is the current one."""
    if current is not None and canonical(current.rule) == canonical(rule):
        return None
    return StoredRule(rule_id, (current.version if current else 0) + 1, rule, at)


def disabled(current: StoredRule, at: str) -> StoredRule | None:
    """The version that disables ``current``; None when it is disabled already."""
    if not current.enabled:
        return None
    return revise(current, current.rule_id, current.rule.model_copy(update={"enabled": False}), at)


def seeded(defaults: dict[str, CareRule], at: str) -> list[StoredRule]:
    """Version 1 of each default rule, in id order."""
    return [StoredRule(rule_id, 1, defaults[rule_id], at) for rule_id in sorted(defaults)]
