"""What one run of the care engine works with: its tables, sender, clock and program,
and the tenant's rules, versions and template overrides read once per run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from care_rules import catalog, repository, template_store
from care_rules.ruleset import StoredRule
from loyalty.program import ProgramConfig


@dataclass
class Context:
    table: str
    events_table: str
    sender: str
    tz: ZoneInfo
    program: ProgramConfig
    now: datetime
    bus: str | None = None
    # (tenant, member) -> the member's unsubscribe URL, or None when none can be made
    unsubscribe: Callable[[str, str], str | None] = lambda tenant, member: None
    _versions: dict[tuple[str, str, int], StoredRule | None] = field(default_factory=dict)
    _current: dict[tuple[str, str], StoredRule | None] = field(default_factory=dict)
    _overrides: dict[str, dict[str, str]] = field(default_factory=dict)

    def version(self, tenant: str, rule_id: str, version: int) -> StoredRule | None:
        key = (tenant, rule_id, version)
        if key not in self._versions:
            self._versions[key] = repository.get_version(self.table, tenant, rule_id, version)
        return self._versions[key]

    def current(self, tenant: str, rule_id: str) -> StoredRule | None:
        key = (tenant, rule_id)
        if key not in self._current:
            self._current[key] = catalog.current(self.table, tenant, rule_id, self.now)
        return self._current[key]

    def overrides(self, tenant: str) -> dict[str, str]:
        if tenant not in self._overrides:
            self._overrides[tenant] = template_store.overrides(self.table, tenant)
        return self._overrides[tenant]
