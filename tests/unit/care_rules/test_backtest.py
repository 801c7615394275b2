"""The backtest simulation: each guard in the engine's order, the cap across days, once
per year, quiet hours deferral, the members list, and which triggers can be backtested."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from care_rules import backtest, delivery
from care_rules.backtest import Candidate, Settings
from care_rules.engine import Facts
from care_rules.rules import CareRule, validate_rule

BERLIN = ZoneInfo("Europe/Berlin")
SETTINGS = Settings(
    tz=BERLIN,
    frequency_cap=2,
    cap_days=7,
    quiet_start=time(21, 0),
    quiet_end=time(9, 0),
    email_block=delivery.email_block,
)
CONSENTED = {"email": "a@example.com", "consent_email": {"granted": True}}
NOON = datetime(2026, 3, 10, 11, 0, tzinfo=UTC)  # 12:00 in Berlin


def _rule(marketing: bool = True, once_per: str | None = None, **extra: Any) -> CareRule:
    return validate_rule(
        {
            "name": "r",
            "trigger": {"type": "event", "event_type": "order.placed"},
            "actions": [{"type": "email", "template": "t", "marketing": marketing}],
            "guards": {"once_per": once_per},
            **extra,
        }
    )


def _firing(
    member: str = "m1", at: datetime = NOON, profile: dict[str, Any] | None = None, **kw: Any
) -> Candidate:
    stats = kw.pop("stats", {})
    instance = kw.pop("instance", f"e:{member}-{at.isoformat()}")
    facts = Facts(member_id=member, profile=CONSENTED if profile is None else profile, stats=stats)
    return Candidate(member_id=member, at=at, instance=instance, facts=facts, **kw)


def _run(rule: CareRule, *firings: Candidate) -> backtest.Answer:
    return backtest.simulate(rule, list(firings), SETTINGS)


def _skips(answer: backtest.Answer) -> dict[str, int]:
    return {reason: n for reason, n in answer.skipped.items() if n}


GUARDS = [
    ("sent", _rule(), {}, 1, {}),
    ("erased", _rule(), {"profile": {**CONSENTED, "erased_at": "2026-01-01T00:00:00Z"}}, 0, {"erased": 1}),
    (
        "condition",
        _rule(conditions={"all": [{"field": "stats.orders_count", "op": "eq", "value": 1}]}),
        {"stats": {"orders_count": 3}},
        0,
        {"condition": 1},
    ),
    (
        "event data",
        _rule(conditions={"all": [{"field": "event.data.total", "op": "gte", "value": 100}]}),
        {"event_data": {"total": "99.00"}},
        0,
        {"condition": 1},
    ),
    ("no address", _rule(), {"profile": {"consent_email": {"granted": True}}}, 0, {"no_address": 1}),
    ("marketing needs consent", _rule(), {"profile": {"email": "a@example.com"}}, 0, {"consent": 1}),
    ("transactional needs none", _rule(marketing=False), {"profile": {"email": "a@example.com"}}, 1, {}),
    (
        "withdrawn stops transactional",
        _rule(marketing=False),
        {"profile": {"email": "a@example.com", "consent_email": {"granted": False}}},
        0,
        {"consent": 1},
    ),
]


@pytest.mark.parametrize(("name", "rule", "firing", "fired", "skipped"), GUARDS, ids=[g[0] for g in GUARDS])
def test_each_guard(
    name: str, rule: CareRule, firing: dict[str, Any], fired: int, skipped: dict[str, int]
) -> None:
    answer = _run(rule, _firing(**firing))
    assert (answer.would_fire, _skips(answer)) == (fired, skipped)
    assert set(answer.skipped) == set(backtest.REASONS)  # every reason, 0 when none


def test_the_guards_run_in_the_engines_order() -> None:
    # Erased before conditions, conditions before consent.
    rule = _rule(conditions={"all": [{"field": "tier", "op": "eq", "value": "gold"}]})
    erased = _firing(profile={"erased_at": "2026-01-01T00:00:00Z"})
    unmatched = _firing("m2", profile={})
    assert _skips(_run(rule, erased, unmatched)) == {"erased": 1, "condition": 1}


def test_a_firing_blocked_by_consent_takes_no_once_marker() -> None:
    rule = _rule(once_per="ever")
    first = _firing(profile={"email": "a@example.com"})
    second = _firing(at=NOON + timedelta(hours=1))
    answer = _run(rule, first, second)
    assert (answer.would_fire, _skips(answer)) == (1, {"consent": 1})


def test_once_per_year_in_the_members_calendar() -> None:
    rule = _rule(once_per="year")
    new_year = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)  # 00:30 on 1 January 2027 in Berlin
    firings = [
        _firing(at=datetime(2026, 3, 1, 12, tzinfo=UTC)),
        _firing(at=datetime(2026, 6, 1, 12, tzinfo=UTC)),
        _firing(at=new_year),
        _firing(at=new_year + timedelta(days=3)),
    ]
    answer = _run(_rule(marketing=False, once_per="year"), *firings)
    assert (answer.would_fire, _skips(answer)) == (2, {"once": 2})
    assert rule.guards.once_per == "year"


def test_the_cap_counts_marketing_emails_across_days() -> None:
    days = [NOON + timedelta(days=n) for n in (0, 1, 2, 7, 8)]
    answer = _run(_rule(), *(_firing(at=at) for at in days))
    # Two in any 7 local days: day 0 and 1 sent, day 2 over the cap, day 7 and 8 sent.
    assert (answer.would_fire, _skips(answer)) == (4, {"frequency_cap": 1})
    transactional = _run(_rule(marketing=False), *(_firing(at=at) for at in days))
    assert (transactional.would_fire, _skips(transactional)) == (5, {})


def test_the_cap_is_per_member() -> None:
    answer = _run(
        _rule(), *(_firing(who) for who in ("a", "b", "c")), _firing("a", NOON + timedelta(hours=1))
    )
    assert (answer.would_fire, _skips(answer)) == (4, {})


def test_quiet_hours_defer_and_the_deferred_send_still_counts() -> None:
    evening = datetime(2026, 3, 10, 21, 30, tzinfo=UTC)  # 22:30 in Berlin
    answer = _run(_rule(), _firing(at=evening), _firing("m2", at=NOON))
    assert (answer.would_fire, answer.deferred, _skips(answer)) == (2, 1, {})


def test_a_deferred_send_is_capped_on_the_day_it_goes() -> None:
    # Two sends on 11 March; a 22:30 firing on 10 March goes at 09:00 on 11 March: the third.
    first = datetime(2026, 3, 11, 9, 30, tzinfo=UTC)
    firings = [
        _firing(at=first),
        _firing(at=first + timedelta(hours=1)),
        _firing(at=datetime(2026, 3, 10, 21, 30, tzinfo=UTC)),
    ]
    answer = _run(_rule(), *firings)
    assert answer.deferred == 1
    assert answer.would_fire + answer.skipped["frequency_cap"] == 3
    assert answer.skipped["frequency_cap"] == 1


def test_tasks_are_never_deferred_nor_capped() -> None:
    rule = validate_rule(
        {
            "name": "r",
            "trigger": {"type": "event", "event_type": "order.placed"},
            "actions": [{"type": "task", "fallback": "desk", "title": "Call", "due": "P1D"}],
        }
    )
    evening = datetime(2026, 3, 10, 21, 30, tzinfo=UTC)
    answer = _run(rule, *(_firing(at=evening + timedelta(minutes=n), profile={}) for n in range(5)))
    assert (answer.would_fire, answer.deferred, _skips(answer)) == (5, 0, {})


def test_match_acts_again_after_the_member_stopped_matching() -> None:
    rule = _rule(
        marketing=False,
        once_per="match",
        conditions={"all": [{"field": "tier", "op": "eq", "value": "gold"}]},
    )
    gold: dict[str, Any] = {**CONSENTED}
    plain: dict[str, Any] = {}
    firings = [
        Candidate("m", NOON, "e:1", Facts("m", profile=gold, balance={"tier": "gold"})),
        Candidate("m", NOON + timedelta(hours=1), "e:2", Facts("m", profile=gold, balance={"tier": "gold"})),
        Candidate("m", NOON + timedelta(hours=2), "e:3", Facts("m", profile=plain, balance={"tier": "base"})),
        Candidate("m", NOON + timedelta(hours=3), "e:4", Facts("m", profile=gold, balance={"tier": "gold"})),
    ]
    answer = _run(rule, *firings)
    assert (answer.would_fire, _skips(answer)) == (2, {"once": 1, "condition": 1})


def test_members_are_sorted_and_capped_at_20() -> None:
    answer = _run(_rule(), *(_firing(f"m{n:02d}") for n in range(30, 0, -1)))
    assert answer.would_fire == 30
    assert answer.shown() == [f"m{n:02d}" for n in range(1, 21)]


def test_firings_are_taken_in_time_order_whatever_their_input_order() -> None:
    days = [NOON + timedelta(days=n) for n in (2, 0, 1)]
    answer = _run(_rule(), *(_firing(at=at) for at in days))
    assert _skips(answer) == {"frequency_cap": 1}


@pytest.mark.parametrize(
    ("trigger", "field"),
    [
        ({"type": "event", "event_type": "order.placed"}, None),
        ({"type": "event", "event_type": "points.expiring"}, None),
        ({"type": "event", "event_type": "cart.updated"}, "trigger.event_type"),
        ({"type": "event", "event_type": "ticket.resolved"}, "trigger.event_type"),
        ({"type": "event", "event_type": "member.stage_changed"}, "trigger.event_type"),
        ({"type": "date", "field": "birthday"}, None),
        ({"type": "date", "field": "registered_at"}, "trigger.field"),
        ({"type": "inactivity", "event_type": "order.placed", "days": 90}, None),
        ({"type": "inactivity", "event_type": "page.viewed", "days": 9}, "trigger.event_type"),
        ({"type": "delay", "after": "order.placed", "delay": "P14D"}, None),
        ({"type": "delay", "after": "cart.updated", "delay": "PT4H"}, "trigger.after"),
    ],
)
def test_which_triggers_can_be_backtested(trigger: dict[str, Any], field: str | None) -> None:
    rule = validate_rule(
        {"name": "r", "trigger": trigger, "actions": [{"type": "email", "template": "t", "marketing": False}]}
    )
    problem = backtest.unsupported(rule)
    assert (problem.field if problem else None) == field
    if problem:
        assert (problem.code, problem.status) == ("backtest_unsupported", 400)


def test_a_rearmed_firing_survives_only_without_a_later_event_before_it_is_due() -> None:
    anchor = "2026-01-01T10:00:00.000Z#e1"
    due = "2026-04-01T10:00:00.000Z"
    assert backtest.survives(anchor, due, [anchor, "2025-12-01T10:00:00.000Z#e0"])
    assert not backtest.survives(anchor, due, ["2026-02-01T10:00:00.000Z#e2"])
    assert not backtest.survives(anchor, due, [f"{due}#e3"])  # at the due instant: re-armed first
    assert backtest.survives(anchor, due, ["2026-04-01T10:00:00.001Z#e4"])  # after it was due


def test_the_answer_document() -> None:
    answer = _run(_rule(), _firing())
    document = backtest.answer_document(answer, "a", "b", {"queries": 3, "items": 9}, 4)
    assert document == {
        "would_fire": 1,
        "skipped": dict.fromkeys(backtest.REASONS, 0),
        "deferred": 0,
        "members": ["m1"],
        "window": {"from": "a", "to": "b"},
        "reads": {"queries": 3, "items": 9},
        "version": 4,
    }


def test_over_the_cap_a_quiet_hours_email_is_skipped_not_deferred() -> None:
    day = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
    evening = datetime(2026, 3, 10, 21, 30, tzinfo=UTC)  # 22:30 in Berlin, a third email that day
    answer = _run(_rule(), _firing(at=day), _firing(at=day + timedelta(hours=1)), _firing(at=evening))
    assert (answer.would_fire, answer.deferred, _skips(answer)) == (2, 0, {"frequency_cap": 1})
