"""The care rule model: the default rule set and every example of the rule shape are
accepted; each kind of invalid rule is refused naming its field; a rule whose own
action could trigger it again is refused; durations are kept as written."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from care_rules import ruleset
from care_rules.rules import (
    ACTION_CAUSES,
    SYSTEM_EVENT_TYPES,
    InvalidRule,
    duration,
    validate_rule,
    validate_rule_set,
)
from infra.definitions import CARE_RULES_FILE, care_rules_defaults_json
from loyalty.events.models import EVENT_TYPES

pytestmark = pytest.mark.unit

SHAPE = {
    "name": "Thank gold and black members for the first order",
    "enabled": True,
    "trigger": {"type": "event", "event_type": "order.placed"},
    "conditions": {"all": [{"field": "tier", "op": "in", "value": ["gold", "black"]}]},
    "actions": [{"type": "email", "template": "first-order-thanks", "marketing": False}],
    "guards": {"once_per": "year"},
}
TRIGGERS = [
    {"type": "event", "event_type": "order.placed"},
    {"type": "event", "event_type": "member.stage_changed"},
    {"type": "event", "event_type": "ticket.resolved"},
    {"type": "date", "field": "birthday", "offset_days": 0, "at": "09:00"},
    {"type": "date", "field": "registered_at", "offset_days": 365, "at": "18:30"},
    {"type": "inactivity", "event_type": "order.placed", "days": 90},
    {"type": "delay", "after": "cart.updated", "delay": "PT4H", "cancel_on": ["order.placed"]},
]
ACTIONS = [
    {"type": "email", "template": "birthday-greeting", "marketing": True},
    {"type": "task", "assignee": "owner", "fallback": "staff-7", "title": "Call the member", "due": "P3D"},
    {"type": "points", "points": 100, "reason": "a goodwill gesture"},
    {"type": "event"},
    {"type": "event", "detail_type": "care.wechat"},
]
CONDITIONS = [
    {
        "any": [
            {"field": "lifecycle_stage", "op": "eq", "value": "at-risk"},
            {"field": "tags", "op": "contains", "value": "vip"},
        ]
    },
    {"not": {"field": "rfm.segment", "op": "not_in", "value": ["champions"]}},
    {
        "all": [
            {"field": "stats.total_spend", "op": "gte", "value": "500.00"},
            {"field": "points.available", "op": "lt", "value": 100},
        ]
    },
    {"field": "profile.locale", "op": "ne", "value": "en"},
    {"field": "stats.last_order_at", "op": "lt", "value": "2026-01-01T00:00:00Z"},
]


def _with(**changes: Any) -> dict[str, Any]:
    return {**SHAPE, **changes}


def test_the_default_rule_set_is_valid_and_has_exactly_the_documented_rules() -> None:
    rules = validate_rule_set(yaml.safe_load(CARE_RULES_FILE.read_text()))
    assert sorted(rules) == sorted(
        [
            "birthday-greeting",
            "win-back-90d",
            "first-order-thanks",
            "cart-abandoned",
            "points-expiring",
            "tier-changed",
            "ticket-csat",
            "nps-after-order",
        ]
    )
    doc = {rule_id: rule.document() for rule_id, rule in rules.items()}
    birthday = doc["birthday-greeting"]
    assert birthday["trigger"] == {
        "type": "date",
        "field": "birthday",
        "offset_days": 0,
        "at": "09:00",
        "leap_day": "feb28",
    }
    assert birthday["actions"] == [{"type": "email", "template": "birthday-greeting", "marketing": True}]
    assert birthday["guards"] == {"once_per": "year"}
    winback = doc["win-back-90d"]
    assert winback["trigger"] == {"type": "inactivity", "event_type": "order.placed", "days": 90}
    (task,) = winback["actions"]
    assert (task["type"], task["assignee"], bool(task["fallback"])) == ("task", "owner", True)
    assert winback["guards"] == {"once_per": "match"}
    first = doc["first-order-thanks"]
    assert first["trigger"] == {"type": "event", "event_type": "order.placed"}
    assert first["conditions"] == {"all": [{"field": "stats.orders_count", "op": "eq", "value": 1}]}
    assert first["actions"][0]["marketing"] is False
    cart = doc["cart-abandoned"]
    assert cart["trigger"] == {
        "type": "delay",
        "after": "cart.updated",
        "delay": "PT4H",
        "cancel_on": ["order.placed"],
    }
    assert (cart["actions"][0]["marketing"], cart["guards"]["once_per"]) == (True, "day")
    expiring = doc["points-expiring"]
    assert expiring["trigger"]["event_type"] == "points.expiring"
    assert (expiring["actions"][0]["marketing"], expiring["guards"]["once_per"]) == (False, "month")
    assert doc["tier-changed"]["trigger"]["event_type"] == "points.tier_changed"
    assert doc["tier-changed"]["actions"][0]["type"] == "email"
    csat = doc["ticket-csat"]
    assert csat["trigger"]["event_type"] == "ticket.resolved"
    assert (csat["actions"][0]["marketing"], csat["guards"]["once_per"]) == (False, None)
    nps = doc["nps-after-order"]
    assert (nps["trigger"]["after"], nps["trigger"]["delay"]) == ("order.placed", "P14D")
    assert (nps["actions"][0]["marketing"], nps["guards"]["once_per"]) == (True, "month")
    assert all(rule.enabled for rule in rules.values())


def test_the_deployed_defaults_fit_a_standard_parameter_and_read_back_the_same() -> None:
    document = care_rules_defaults_json()
    assert len(document.encode()) < 4096  # SSM Parameter Store's standard tier
    again = validate_rule_set(json.loads(document))
    assert again == validate_rule_set(yaml.safe_load(CARE_RULES_FILE.read_text()))


def test_the_rule_shape_of_the_documentation_is_accepted_as_written() -> None:
    assert validate_rule(SHAPE).document() == SHAPE


@pytest.mark.parametrize("trigger", TRIGGERS, ids=lambda t: f"{t['type']}")
def test_every_trigger_kind_is_accepted(trigger: dict[str, Any]) -> None:
    rule = validate_rule(_with(trigger=trigger, conditions=None))
    assert rule.document()["trigger"] == {**rule.document()["trigger"], **trigger}


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: f"{a['type']}")
def test_every_action_kind_is_accepted(action: dict[str, Any]) -> None:
    assert validate_rule(_with(actions=[action])).document()["actions"][0] == {
        **validate_rule(_with(actions=[action])).document()["actions"][0],
        **action,
    }


@pytest.mark.parametrize("conditions", CONDITIONS)
def test_conditions_nest_all_any_and_not(conditions: dict[str, Any]) -> None:
    assert validate_rule(_with(conditions=conditions)).document()["conditions"] == conditions


def test_event_data_is_a_condition_field_of_event_triggers() -> None:
    leaf = {"field": "event.data.total", "op": "gte", "value": "100"}
    assert validate_rule(_with(conditions=leaf)).conditions is not None


@pytest.mark.parametrize("once_per", [None, "day", "week", "month", "year", "ever", "match"])
def test_every_once_per_guard_is_accepted(once_per: str | None) -> None:
    assert validate_rule(_with(guards={"once_per": once_per})).guards.once_per == once_per


def test_trigger_event_types_are_the_storefront_and_system_events() -> None:
    for event_type in sorted(EVENT_TYPES | SYSTEM_EVENT_TYPES):
        validate_rule(_with(trigger={"type": "event", "event_type": event_type}))


LEAF = {"field": "tier", "op": "eq", "value": "gold"}
INVALID = [
    ({"enabled": "sometimes"}, "enabled"),
    ({"name": ""}, "name"),
    ({"trigger": {"type": "event", "event_type": "order.shipped"}}, "trigger.event_type"),
    ({"trigger": {"type": "event"}}, "trigger.event_type"),
    ({"trigger": {"type": "cron"}}, "trigger.type"),
    ({"trigger": {"event_type": "order.placed"}}, "trigger.type"),
    ({"trigger": {"type": "date", "field": "anniversary"}}, "trigger.field"),
    ({"trigger": {"type": "date", "field": "birthday", "at": "9am"}}, "trigger.at"),
    ({"trigger": {"type": "date", "field": "birthday", "at": "24:00"}}, "trigger.at"),
    ({"trigger": {"type": "inactivity", "event_type": "order.placed", "days": 0}}, "trigger.days"),
    ({"trigger": {"type": "delay", "after": "cart.updated", "delay": "P1M"}}, "trigger.delay"),
    ({"trigger": {"type": "delay", "after": "cart.updated", "delay": "PT0S"}}, "trigger.delay"),
    ({"trigger": {"type": "delay", "after": "cart.updated", "delay": "PT"}}, "trigger.delay"),
    (
        {"trigger": {"type": "delay", "after": "cart.updated", "delay": "PT4H", "cancel_on": ["x"]}},
        "trigger.cancel_on.0",
    ),
    ({"trigger": {"type": "event", "event_type": "order.placed", "at": "09:00"}}, "trigger.at"),
    ({"conditions": {"all": [{"field": "shoe_size", "op": "eq", "value": 42}]}}, "conditions.all.0.field"),
    (
        {"conditions": {"all": [{"field": "stats.favourite_colour", "op": "eq", "value": 1}]}},
        "conditions.all.0.field",
    ),
    ({"conditions": {"all": [{"field": "tier", "op": "like", "value": "g%"}]}}, "conditions.all.0.op"),
    ({"conditions": {"all": [{"field": "tier", "op": "in", "value": "gold"}]}}, "conditions.all.0.value"),
    ({"conditions": {"all": [{"field": "tier", "op": "not_in", "value": []}]}}, "conditions.all.0.value"),
    ({"conditions": {"all": [{"field": "tier", "op": "eq", "value": ["gold"]}]}}, "conditions.all.0.value"),
    (
        {"conditions": {"all": [{"field": "stats.orders_count", "op": "gt", "value": True}]}},
        "conditions.all.0.value",
    ),
    ({"conditions": {"all": [{"field": "tags", "op": "contains"}]}}, "conditions.all.0.value"),
    ({"conditions": {"any": [LEAF, {"not": {"field": "x", "op": "eq"}}]}}, "conditions.any.1.not.field"),
    ({"conditions": {"all": []}}, "conditions.all"),
    ({"conditions": {"all": [LEAF], "colour": 1}}, "conditions.colour"),
    ({"conditions": "tier is gold"}, "conditions"),
    ({"actions": []}, "actions"),
    ({"actions": [{"type": "sms"}]}, "actions.0.type"),
    (
        {"actions": [{"type": "email", "template": "Birthday Greeting", "marketing": True}]},
        "actions.0.template",
    ),
    ({"actions": [{"type": "email", "template": "birthday-greeting"}]}, "actions.0.marketing"),
    (
        {"actions": [{"type": "task", "assignee": "manager", "fallback": "s-1", "title": "t", "due": "P3D"}]},
        "actions.0.assignee",
    ),
    ({"actions": [{"type": "task", "fallback": "s-1", "title": "t", "due": "3 days"}]}, "actions.0.due"),
    ({"actions": [{"type": "task", "title": "t", "due": "P3D"}]}, "actions.0.fallback"),
    ({"actions": [LEAF]}, "actions.0.type"),
    ({"actions": [{"type": "points", "points": -5, "reason": "x"}]}, "actions.0.points"),
    ({"actions": [{"type": "points", "points": 5}]}, "actions.0.reason"),
    ({"guards": {"once_per": "hour"}}, "guards.once_per"),
    ({"guards": {"cap": 2}}, "guards.cap"),
    ({"colour": "red"}, "colour"),
]


@pytest.mark.parametrize(("changes", "field"), INVALID, ids=[f for _, f in INVALID])
def test_an_invalid_rule_is_refused_naming_its_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidRule) as refused:
        validate_rule(_with(**changes))
    assert refused.value.field == field, refused.value.message


@pytest.mark.parametrize(
    "trigger",
    [
        {"type": "date", "field": "birthday"},
        {"type": "inactivity", "event_type": "order.placed", "days": 30},
        {"type": "delay", "after": "order.placed", "delay": "P1D"},
    ],
)
def test_event_data_needs_an_event_trigger(trigger: dict[str, Any]) -> None:
    leaf = {"field": "event.data.total", "op": "gte", "value": "100"}
    with pytest.raises(InvalidRule) as refused:
        validate_rule(_with(trigger=trigger, conditions={"all": [LEAF, leaf]}))
    assert refused.value.field == "conditions.all.1.field"


POINTS = {"type": "points", "points": 50, "reason": "a bonus"}


@pytest.mark.parametrize(
    ("trigger", "field"),
    [
        ({"type": "event", "event_type": "points.tier_changed"}, "trigger.event_type"),
        ({"type": "event", "event_type": "points.expiring"}, "trigger.event_type"),
        ({"type": "delay", "after": "points.tier_changed", "delay": "P1D"}, "trigger.after"),
    ],
)
def test_a_rule_that_could_trigger_itself_is_refused(trigger: dict[str, Any], field: str) -> None:
    email = {"type": "email", "template": "tier-changed", "marketing": False}
    with pytest.raises(InvalidRule) as refused:
        validate_rule(_with(trigger=trigger, conditions=None, actions=[email, POINTS]))
    assert refused.value.field == field
    assert "actions.1 (points)" in refused.value.message


def test_actions_that_cause_nothing_the_trigger_waits_for_are_accepted() -> None:
    tier = {"type": "event", "event_type": "points.tier_changed"}
    email = {"type": "email", "template": "tier-changed", "marketing": False}
    validate_rule(_with(trigger=tier, conditions=None, actions=[email, {"type": "event"}]))
    validate_rule(_with(trigger={"type": "event", "event_type": "order.placed"}, actions=[POINTS]))
    # An inactivity rule waits for time, not for the event: points cannot re-trigger it.
    idle = {"type": "inactivity", "event_type": "points.expiring", "days": 30}
    validate_rule(_with(trigger=idle, conditions=None, actions=[POINTS]))
    assert set(ACTION_CAUSES) == {"email", "task", "points", "event"}


def test_durations_are_kept_as_written_and_read_as_timedeltas() -> None:
    rule = validate_rule(
        _with(trigger={"type": "delay", "after": "cart.updated", "delay": "PT240M"}, conditions=None)
    )
    assert rule.document()["trigger"]["delay"] == "PT240M"
    assert duration("PT240M") == timedelta(hours=4)
    assert duration("P1W2DT3H4M5S") == timedelta(days=9, hours=3, minutes=4, seconds=5)
    with pytest.raises(ValueError, match="ISO 8601"):
        duration("P1Y")


def test_a_rule_set_names_the_rule_of_a_problem() -> None:
    with pytest.raises(InvalidRule) as refused:
        validate_rule_set({"rules": {"ok": SHAPE, "bad": _with(actions=[])}})
    assert refused.value.field == "rules.bad.actions"
    broken: Any
    for broken in ({"rules": []}, {"rules": {}, "more": 1}, ["rules"]):
        with pytest.raises(InvalidRule):
            validate_rule_set(broken)
    with pytest.raises(InvalidRule) as refused:
        validate_rule_set({"rules": {"Bad Id": SHAPE}})
    assert refused.value.field == "rules.Bad Id"


def test_versions_count_up_and_a_repeat_or_a_second_disable_makes_none() -> None:
    rule = validate_rule(SHAPE)
    first = ruleset.revise(None, "vip", rule, "2026-03-10T12:00:00.000Z")
    assert first is not None and first.version == 1
    assert ruleset.revise(first, "vip", validate_rule(json.loads(json.dumps(SHAPE))), "later") is None
    changed = ruleset.revise(first, "vip", validate_rule(_with(name="VIP")), "later")
    assert changed is not None and changed.version == 2
    off = ruleset.disabled(changed, "later still")
    assert off is not None and (off.version, off.enabled) == (3, False)
    assert ruleset.disabled(off, "again") is None
    assert ruleset.parse(ruleset.canonical(rule)) == rule
    assert [s.rule_id for s in ruleset.seeded({"b": rule, "a": rule}, "now")] == ["a", "b"]


def test_the_config_file_is_where_the_definitions_say() -> None:
    expected = Path(__file__).resolve().parents[3] / "config" / "care_rules.yaml"
    assert expected == CARE_RULES_FILE


def test_without_the_parameter_the_defaults_are_refused_not_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    from care_rules import defaults

    monkeypatch.delenv(defaults.PARAMETER_VARIABLE, raising=False)
    with pytest.raises(RuntimeError, match="CARE_RULES_PARAMETER"):
        defaults.default_rules()
