"""What one event of the log does to a tenant's care rules. Pure: no AWS here.

An event of a member can

* **fire** an ``event`` rule waiting for its type: a firing of its own (source
  ``e:<event_id>``), due at once;
* **arm** a ``delay`` rule whose ``after`` it is: the rule's one firing for the member
  becomes due ``delay`` after the event (a newer ``after`` event restarts the clock, so a
  cart reminder counts from the last change of the cart);
* **cancel** a ``delay`` rule that lists it in ``cancel_on``: its waiting firing, if it was
  armed by an earlier event, acts no more;
* **re-arm** an ``inactivity`` rule on its ``event_type``: the rule's one firing for the
  member becomes due ``days`` after this event, the newest such event of the member.

Disabled rules do nothing. Every plan names the version whose trigger made it: a firing
is delivered with the conditions and actions of that version (docs/care-rules.md, "When
a rule changes")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from care_rules import layout
from care_rules.rules import DelayTrigger, EventTrigger, InactivityTrigger, duration
from care_rules.ruleset import StoredRule

PlanKind = Literal["fire", "arm", "cancel"]


@dataclass(frozen=True)
class Plan:
    kind: PlanKind
    rule_id: str
    version: int
    source: str  # the firing's source (layout)
    due_at: datetime | None = None  # fire, arm


def plans(rules: list[StoredRule], event_type: str, event_id: str, occurred_at: datetime) -> list[Plan]:
    """Every change ``event`` makes to the firings of ``rules``, in rule order."""
    found: list[Plan] = []
    for stored in rules:
        if not stored.enabled:
            continue
        trigger = stored.rule.trigger
        plan = _plan(stored, trigger, event_type, event_id, occurred_at)
        if plan is not None:
            found.append(plan)
    return found


def _plan(
    stored: StoredRule, trigger: object, event_type: str, event_id: str, occurred_at: datetime
) -> Plan | None:
    rule_id, version = stored.rule_id, stored.version
    if isinstance(trigger, EventTrigger) and trigger.event_type == event_type:
        return Plan("fire", rule_id, version, layout.event_source(event_id), occurred_at)
    if isinstance(trigger, DelayTrigger):
        if trigger.after == event_type:
            due = occurred_at + duration(trigger.delay)
            return Plan("arm", rule_id, version, layout.DELAY_SOURCE, due)
        if event_type in trigger.cancel_on:
            return Plan("cancel", rule_id, version, layout.DELAY_SOURCE)
    if isinstance(trigger, InactivityTrigger) and trigger.event_type == event_type:
        due = occurred_at + timedelta(days=trigger.days)
        return Plan("arm", rule_id, version, layout.INACTIVE_SOURCE, due)
    return None


def anchor_key(occurred_at: str, event_id: str) -> str:
    """The order of the events that arm one firing: a later event wins, ties by id, so
    events arriving out of order leave the firing armed by the newest."""
    return f"{occurred_at}#{event_id}"


def instance(source: str, event_id: str | None) -> str:
    """What one delivery of a firing is known by (claims, task ids, the cap): the source,
    and for a re-armed firing the event that armed it."""
    if source in (layout.DELAY_SOURCE, layout.INACTIVE_SOURCE) and event_id:
        return f"{source}:{event_id}"
    return source
