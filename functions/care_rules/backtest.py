"""What a care rule would have done over a past window, simulated. Pure: no AWS here.

:func:`simulate` takes a rule, the firings it would have had in the window
(:class:`Candidate`: the member, when it would have been due, what it is known by, the
member's facts and the triggering event's data) and the guards' settings, and answers
what the engine would have done, running the guards in the engine's order with the
engine's own functions (docs/care-rules.md, "Guards, in order"):

1. **erased** members receive nothing (``erased``);
2. the rule's **conditions** over the member's facts (``condition``); the facts are the
   member as stored now: the log keeps the events, not the member's past state;
3. **address and consent** of each email (``no_address``, ``consent``) by the delivery's
   own check (``Settings.email_block``) against the profile as stored now; a firing every
   action of which is stopped here takes no once marker;
4. **once per** period in the member's calendar (``once``), kept in memory, keyed as the
   engine keys its markers (:func:`care_rules.engine.period`);
5. the **frequency cap** of marketing emails (``frequency_cap``), kept in memory over the
   simulated sends only: the member's real cap record is not read;
6. **quiet hours**: an email due inside them is counted in ``deferred`` and sent at the
   window's end, where the cap is checked again; a deferred send counts in
   ``would_fire`` also when the quiet window ends after the backtest's window.

Firings are taken in the order they would have been due. ``skipped`` counts the skip
entries the send ledger would hold (one per firing stopped whole, one per email stopped
by address, consent or the cap); every reason the simulation can give is present.
``would_fire`` counts the firings with at least one action done (or deferred), and
``members`` lists up to :data:`MEMBERS_SHOWN` of their members, sorted.

:func:`survives` decides whether a re-armed firing (inactivity, delay) would still have
been waiting when due."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from care_rules import engine
from care_rules.engine import Facts
from care_rules.rules import CareRule, DateTrigger, DelayTrigger, EmailAction, EventTrigger, InactivityTrigger
from loyalty.errors import DomainError, ValidationFailed
from loyalty.events.stored import DAY_INDEXED_TYPES

Item = dict[str, Any]
MEMBERS_SHOWN = 20
MAX_DAYS = 90  # the longest window
ITEM_BUDGET = 20_000  # items a backtest may read; past it, backtest_too_large
REASONS = ("erased", "condition", "no_address", "consent", "once", "frequency_cap")
REARMED = ("inactivity", "delay")


class TooLarge(DomainError):
    """The window holds more than the backtest may read (422)."""

    status = 422
    code = "backtest_too_large"


def unsupported(rule: CareRule) -> ValidationFailed | None:
    """Why ``rule`` cannot be backtested without reading all members or all events (the
    trigger field named), or None. The activity index lists only ``DAY_INDEXED_TYPES``;
    registration anniversaries have no index of who is due."""
    trigger = rule.trigger
    found: tuple[str, str] | None = None
    if isinstance(trigger, EventTrigger | InactivityTrigger) and trigger.event_type not in DAY_INDEXED_TYPES:
        found = "trigger.event_type", trigger.event_type
    elif isinstance(trigger, DelayTrigger) and trigger.after not in DAY_INDEXED_TYPES:
        found = "trigger.after", trigger.after
    elif isinstance(trigger, DateTrigger) and trigger.field != "birthday":
        found = "trigger.field", trigger.field
    if found is None:
        return None
    return ValidationFailed(
        f"{found[1]} is not in an index a backtest can read: it would need a scan",
        field=found[0],
        code="backtest_unsupported",
    )


@dataclass(frozen=True)
class Candidate:
    """One firing the rule would have had."""

    member_id: str
    at: datetime  # when it would have been due (aware)
    instance: str  # what the delivery knows it by (``triggers.instance``)
    facts: Facts
    event_data: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Settings:
    tz: ZoneInfo  # the tenant's zone, for members without one
    frequency_cap: int
    cap_days: int
    quiet_start: time
    quiet_end: time
    email_block: Callable[[EmailAction, Item], str | None]  # the delivery's address and consent check


@dataclass
class Answer:
    would_fire: int = 0
    skipped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASONS, 0))
    deferred: int = 0
    members: set[str] = field(default_factory=set)

    def shown(self) -> list[str]:
        return sorted(self.members)[:MEMBERS_SHOWN]


@dataclass
class _State:
    """What the simulated run remembers: once markers and each member's cap record."""

    once: dict[tuple[str, str], str] = field(default_factory=dict)  # (member, period) -> instance
    caps: dict[str, dict[str, str]] = field(default_factory=dict)  # member -> instance -> day


def simulate(rule: CareRule, candidates: Iterable[Candidate], settings: Settings) -> Answer:
    """What ``rule`` would have done for ``candidates`` (any order)."""
    answer = Answer()
    state = _State()
    rearmed = rule.trigger.type in REARMED
    for candidate in sorted(candidates, key=lambda c: (c.at, c.member_id, c.instance)):
        _one(rule, candidate, settings, state, answer, rearmed=rearmed)
    return answer


def _one(
    rule: CareRule, candidate: Candidate, settings: Settings, state: _State, answer: Answer, *, rearmed: bool
) -> None:
    facts = candidate.facts
    if facts.erased:
        answer.skipped["erased"] += 1
        return
    if not engine.evaluate(rule.conditions, facts, candidate.event_data):
        if rule.guards.once_per == "match" and not rearmed:
            state.once.pop((candidate.member_id, "match"), None)  # the next match may act again
        answer.skipped["condition"] += 1
        return
    blocked = {
        n: reason
        for n, action in enumerate(rule.actions)
        if isinstance(action, EmailAction) and (reason := settings.email_block(action, facts.profile))
    }
    if len(blocked) == len(rule.actions):
        for reason in blocked.values():
            answer.skipped[reason] += 1
        return
    zone = facts.zone(settings.tz)
    if not _hold_once(rule, candidate, state, candidate.at.astimezone(zone)):
        answer.skipped["once"] += 1
        return
    acted = _act(rule, candidate, settings, state, answer, blocked)
    if acted:
        answer.would_fire += 1
        answer.members.add(candidate.member_id)


def _hold_once(rule: CareRule, candidate: Candidate, state: _State, local: datetime) -> bool:
    period = engine.period(rule.guards.once_per, local, candidate.instance)
    if period is None:
        return True
    key = (candidate.member_id, period)
    holder = state.once.setdefault(key, candidate.instance)
    return holder == candidate.instance


def _act(
    rule: CareRule,
    candidate: Candidate,
    settings: Settings,
    state: _State,
    answer: Answer,
    blocked: dict[int, str],
) -> bool:
    """Each action in order; True when at least one would have been done. After a quiet
    hours deferral the remaining actions are done at the window's end, as the engine
    takes the deferred firing up again there."""
    local = candidate.at.astimezone(candidate.facts.zone(settings.tz))
    deferred = False
    acted = False
    for n, action in enumerate(rule.actions):
        if n in blocked:
            answer.skipped[blocked[n]] += 1
            continue
        if not isinstance(action, EmailAction):
            acted = True  # tasks, points and events are not messages: never capped or deferred
            continue
        if action.marketing and _over(state, candidate, local, settings):
            answer.skipped["frequency_cap"] += 1  # over the cap: skipped, not deferred
            continue
        until = None if deferred else engine.quiet_until(local, settings.quiet_start, settings.quiet_end)
        if until is not None:
            if not deferred:
                answer.deferred += 1
            deferred = True
            local = until.astimezone(local.tzinfo)
        if action.marketing and not _reserve(state, candidate, local, settings):
            answer.skipped["frequency_cap"] += 1
            continue
        acted = True
    return acted


def _over(state: _State, candidate: Candidate, local: datetime, settings: Settings) -> bool:
    sent = state.caps.get(candidate.member_id, {})
    return engine.over_cap(sent, candidate.instance, local.date(), settings.frequency_cap, settings.cap_days)


def _reserve(state: _State, candidate: Candidate, local: datetime, settings: Settings) -> bool:
    sent = state.caps.get(candidate.member_id, {})
    day = local.date()
    if engine.over_cap(sent, candidate.instance, day, settings.frequency_cap, settings.cap_days):
        return False
    state.caps[candidate.member_id] = engine.reserve(sent, candidate.instance, day, settings.cap_days)
    return True


def survives(anchor: str, due: str, interfering: Iterable[str]) -> bool:
    """Whether a re-armed firing armed by the event at ``anchor`` (``triggers.anchor_key``)
    is still waiting when ``due`` (an ISO instant): no event of ``interfering`` (their
    anchor keys: a newer arming event, or a cancelling one) came after it, at or before
    ``due``."""
    limit = f"{due}#~"
    return not any(anchor < other <= limit for other in interfering)


def answer_document(
    answer: Answer, first: str, last: str, reads: Mapping[str, int], version: int | None
) -> Item:
    """The API's answer."""
    return {
        "would_fire": answer.would_fire,
        "skipped": dict(answer.skipped),
        "deferred": answer.deferred,
        "members": answer.shown(),
        "window": {"from": first, "to": last},
        "reads": {"queries": int(reads.get("queries", 0)), "items": int(reads.get("items", 0))},
        "version": version,
    }
