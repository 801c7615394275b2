"""A tenant's care rules: read, saved and disabled through one place, so the default
rules are seeded before anything else sees the rule set.

Seeding is lazy: the first read or write of a tenant's rules whose rule set has no
head writes the defaults (version 1 each) and the head in one transaction that
requires the head not to exist. Two first requests at once seed once (the loser's
condition fails and it reads what the winner wrote), a tenant created at any time
gets the defaults, and a default rule disabled or changed later is never seeded
again: the head stays. Saves and disables are optimistic (``loyalty.commit``): a
concurrent change or a transient fault re-reads and tries again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from care_rules import repository, ruleset
from care_rules.defaults import default_rules
from care_rules.rules import CareRule
from care_rules.ruleset import StoredRule
from loyalty import audit
from loyalty.commit import optimistic
from loyalty.timeutil import iso


@dataclass(frozen=True)
class Saved:
    stored: StoredRule
    created: bool  # the rule id was new
    changed: bool  # a version was written (False: the request repeated what is stored)


def ensure_seeded(table: str, tenant: str, at: datetime) -> bool:
    """Seed the default rules unless the tenant's rule set has its head; True when
    this call seeded them."""

    def attempt() -> bool:
        if repository.is_seeded(table, tenant):
            return False
        return repository.seed(table, tenant, ruleset.seeded(default_rules(), iso(at)), iso(at))

    return optimistic(attempt, what="care rule set")


def rules(table: str, tenant: str, at: datetime) -> list[StoredRule]:
    """The tenant's current rules by id (seeded first when they never were)."""
    seeded, found = repository.list_rules(table, tenant)
    if seeded:
        return found
    ensure_seeded(table, tenant, at)
    return repository.list_rules(table, tenant)[1]


def current(table: str, tenant: str, rule_id: str, at: datetime) -> StoredRule | None:
    """The current version of ``rule_id``; None when the tenant has no such rule. An
    existing rule proves the rule set seeded; only a miss looks at the head."""
    found = repository.get_rule(table, tenant, rule_id)
    if found is None and ensure_seeded(table, tenant, at):
        found = repository.get_rule(table, tenant, rule_id)
    return found


def save(table: str, tenant: str, rule_id: str, rule: CareRule, at: datetime, actor: audit.Actor) -> Saved:
    """Create or replace ``rule_id`` with ``rule``: a new version, unless it is the current one."""

    def attempt() -> Saved:
        before = current(table, tenant, rule_id, at)
        after = ruleset.revise(before, rule_id, rule, iso(at))
        if after is None:
            assert before is not None  # revise keeps only an existing equal rule
            return Saved(before, created=False, changed=False)
        details = {"version": after.version, "enabled": after.enabled}
        entry = audit.entry_item(tenant, at, actor, "care_rule.saved", rule_id, details)
        repository.save(table, tenant, before, after, actor.key_id, entry)
        return Saved(after, created=before is None, changed=True)

    return optimistic(attempt, what="care rule")


def disable(table: str, tenant: str, rule_id: str, at: datetime, actor: audit.Actor) -> Saved | None:
    """Disable ``rule_id`` with a new version, its history kept; None when there is no
    such rule, the current version when it is disabled already."""

    def attempt() -> Saved | None:
        before = current(table, tenant, rule_id, at)
        if before is None:
            return None
        after = ruleset.disabled(before, iso(at))
        if after is None:
            return Saved(before, created=False, changed=False)
        entry = audit.entry_item(tenant, at, actor, "care_rule.disabled", rule_id, {"version": after.version})
        repository.save(table, tenant, before, after, actor.key_id, entry)
        return Saved(after, created=False, changed=True)

    return optimistic(attempt, what="care rule")
