"""The care engine's pure decisions: conditions, once-per periods, quiet hours (DST
included), the frequency cap, date triggers (29 February) and what an event does."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from care_rules import engine, layout, triggers
from care_rules.rules import validate_rule
from care_rules.ruleset import StoredRule

pytestmark = pytest.mark.unit

BERLIN = ZoneInfo("Europe/Berlin")
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _facts(**parts: Any) -> engine.Facts:
    return engine.Facts(member_id="m-1", default_tier="member", **parts)


def _rule(conditions: Any = None, trigger: Any = None, once_per: Any = None) -> StoredRule:
    document = {
        "name": "r",
        "trigger": trigger or {"type": "event", "event_type": "order.placed"},
        "actions": [{"type": "email", "template": "first-order-thanks", "marketing": False}],
        "guards": {"once_per": once_per},
    }
    if conditions is not None:
        document["conditions"] = conditions
    return StoredRule("r-1", 3, validate_rule(document), "2026-01-01T00:00:00.000Z")


FACTS = _facts(
    profile={"locale": "en", "time_zone": "Europe/Berlin"},
    stats={
        "orders_count": 3,
        "total_spend": Decimal("250.50"),
        "last_order_at": "2026-03-01T10:00:00.000Z",
        "lifecycle_stage": "active",
        "tags": ["vip", "shoes"],
        "rfm": {"segment": "champions"},
        "orders_last_30_days": 2,
    },
    balance={"tier": "gold", "available": 1200, "pending": 50},
)


@pytest.mark.parametrize(
    ("field", "op", "value", "expected"),
    [
        ("tier", "in", ["gold", "black"], True),
        ("tier", "not_in", ["gold"], False),
        ("tier", "eq", "silver", False),
        ("lifecycle_stage", "ne", "lapsed", True),
        ("tags", "contains", "vip", True),
        ("tags", "contains", "bags", False),
        ("tags", "in", ["bags", "shoes"], True),
        ("tags", "not_in", ["bags"], True),
        ("rfm.segment", "eq", "champions", True),
        ("profile.locale", "eq", "en", True),
        ("stats.orders_count", "gte", 3, True),
        ("stats.orders_count", "gt", 3, False),
        ("stats.total_spend", "gt", "250.49", True),
        ("stats.total_spend", "lte", 250.5, True),
        ("stats.average_order_value", "eq", "83.50", True),
        ("stats.last_order_at", "lt", "2026-03-02T00:00:00Z", True),
        ("stats.first_order_at", "lt", "2030-01-01", False),  # missing: no ordering
        ("stats.first_order_at", "ne", "x", True),  # missing: ne holds
        ("points.available", "gte", 1000, True),
        ("points.held", "eq", 0, True),
        ("stats.orders_last_30_days", "lt", 2, False),
    ],
)
def test_a_leaf_compares_a_field_of_the_360_view(field: str, op: str, value: Any, expected: bool) -> None:
    rule = _rule({"all": [{"field": field, "op": op, "value": value}]})
    assert engine.evaluate(rule.rule.conditions, FACTS) is expected


def test_all_any_not_and_event_data() -> None:
    rule = _rule(
        {
            "any": [
                {"not": {"field": "tier", "op": "eq", "value": "gold"}},
                {
                    "all": [
                        {"field": "event.data.total", "op": "gte", "value": 500},
                        {"field": "tags", "op": "contains", "value": "vip"},
                    ]
                },
            ]
        }
    )
    assert engine.evaluate(rule.rule.conditions, FACTS, {"total": Decimal("600")})
    assert not engine.evaluate(rule.rule.conditions, FACTS, {"total": "499.99"})
    assert not engine.evaluate(rule.rule.conditions, FACTS, None)
    assert engine.evaluate(None, FACTS)


def test_a_member_without_a_balance_has_the_first_tier() -> None:
    assert _facts().tier == "member"
    assert _facts().value("points.available") == 0


def test_booleans_are_not_numbers() -> None:
    assert engine.compare("eq", True, True)
    assert not engine.compare("eq", 1, True)
    assert not engine.compare("gt", "abc", 1)


@pytest.mark.parametrize(
    ("once_per", "expected"),
    [
        (None, None),
        ("day", "day:2026-12-31"),
        ("week", "week:2026-W53"),
        ("month", "month:2026-12"),
        ("year", "year:2026"),
        ("ever", "ever"),
        ("match", "match"),
    ],
)
def test_once_per_periods_are_member_local(once_per: str | None, expected: str | None) -> None:
    # 22:30 UTC on 31 December is 23:30 in Berlin and already 1 January in Shanghai.
    moment = datetime(2026, 12, 31, 22, 30, tzinfo=UTC)
    assert engine.period(once_per, moment.astimezone(BERLIN), "e:1") == expected
    if once_per == "year":
        assert engine.period(once_per, moment.astimezone(SHANGHAI), "e:1") == "year:2027"


def test_match_of_a_re_armed_trigger_is_its_episode() -> None:
    local = datetime(2026, 3, 1, tzinfo=BERLIN)
    assert engine.period("match", local, "inactive:ev-9") == "match:inactive:ev-9"
    assert engine.period("match", local, "delay:ev-2") == "match:delay:ev-2"
    assert engine.period("match", local, "date:birthday:2026-03-01") == "match"


QUIET = (time(21), time(9))


@pytest.mark.parametrize(
    ("local", "until"),
    [
        (datetime(2026, 3, 10, 20, 59, tzinfo=SHANGHAI), None),
        (datetime(2026, 3, 10, 21, 0, tzinfo=SHANGHAI), datetime(2026, 3, 11, 1, 0, tzinfo=UTC)),
        (datetime(2026, 3, 11, 3, 0, tzinfo=SHANGHAI), datetime(2026, 3, 11, 1, 0, tzinfo=UTC)),
        (datetime(2026, 3, 11, 9, 0, tzinfo=SHANGHAI), None),
    ],
)
def test_quiet_hours_defer_to_the_end_of_the_window(local: datetime, until: datetime | None) -> None:
    assert engine.quiet_until(local, *QUIET) == until


def test_quiet_hours_across_a_dst_change_in_berlin() -> None:
    # 24 October 2026 22:30 CEST; summer time ends that night: 09:00 on 25 October is CET (UTC+1).
    evening = datetime(2026, 10, 24, 20, 30, tzinfo=UTC).astimezone(BERLIN)
    assert engine.quiet_until(evening, *QUIET) == datetime(2026, 10, 25, 8, 0, tzinfo=UTC)
    # 28 March 2026 23:00 CET; summer time starts: 09:00 on 29 March is CEST (UTC+2).
    spring = datetime(2026, 3, 28, 22, 0, tzinfo=UTC).astimezone(BERLIN)
    assert engine.quiet_until(spring, *QUIET) == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)


def test_a_window_within_one_day() -> None:
    local = datetime(2026, 3, 10, 13, 0, tzinfo=SHANGHAI)
    assert engine.quiet_until(local, time(12), time(14)) == datetime(2026, 3, 10, 6, 0, tzinfo=UTC)
    assert engine.quiet_until(local, time(14), time(16)) is None


def test_the_frequency_cap_counts_member_local_calendar_days() -> None:
    day = date(2026, 3, 10)
    sent = {"a": "2026-03-04", "b": "2026-03-09"}
    assert engine.over_cap(sent, "c", day, 2, 7)  # 4 March is within 4–10 March
    assert not engine.over_cap(sent, "c", date(2026, 3, 11), 2, 7)  # 4 March has left the window
    assert not engine.over_cap(sent, "a", day, 2, 7)  # its own reservation
    kept = engine.reserve(sent, "c", date(2026, 3, 11), 7)
    assert kept == {"b": "2026-03-09", "c": "2026-03-11"}


@pytest.mark.parametrize(
    ("day", "offset", "leap_day", "expected"),
    [
        (date(2026, 2, 28), 0, "feb28", ["02-28", "02-29"]),
        (date(2026, 3, 1), 0, "feb28", ["03-01"]),
        (date(2026, 3, 1), 0, "mar1", ["03-01", "02-29"]),
        (date(2028, 2, 28), 0, "feb28", ["02-28"]),  # a leap year has its own 29 February
        (date(2028, 2, 29), 0, "feb28", ["02-29"]),
        (date(2026, 3, 7), -3, "feb28", ["03-10"]),  # three days before the date
        (date(2026, 1, 2), 2, "feb28", ["12-31"]),
    ],
)
def test_date_keys(day: date, offset: int, leap_day: str, expected: list[str]) -> None:
    assert engine.date_keys(day, offset, leap_day) == expected


def test_a_date_trigger_is_at_the_local_time_in_the_member_zone() -> None:
    assert engine.local_at(date(2026, 3, 29), "09:00", BERLIN) == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    assert engine.local_at(date(2026, 3, 28), "09:00", BERLIN) == datetime(2026, 3, 28, 8, 0, tzinfo=UTC)


def test_the_member_zone_falls_back_to_the_tenant() -> None:
    assert _facts(profile={"time_zone": "Mars/Olympus"}).zone(SHANGHAI) == SHANGHAI
    assert _facts(profile={"time_zone": "Europe/Berlin"}).zone(SHANGHAI) == BERLIN


def test_what_an_event_does_to_the_rules() -> None:
    at = datetime(2026, 3, 10, 12, tzinfo=UTC)
    rules = [
        _rule(trigger={"type": "event", "event_type": "order.placed"}),
        StoredRule(
            "cart",
            1,
            validate_rule(
                {
                    "name": "cart",
                    "trigger": {
                        "type": "delay",
                        "after": "cart.updated",
                        "delay": "PT4H",
                        "cancel_on": ["order.placed"],
                    },
                    "actions": [{"type": "email", "template": "cart-abandoned", "marketing": True}],
                }
            ),
            "x",
        ),
        StoredRule(
            "win",
            2,
            validate_rule(
                {
                    "name": "win",
                    "trigger": {"type": "inactivity", "event_type": "order.placed", "days": 90},
                    "actions": [{"type": "task", "fallback": "desk", "title": "Call", "due": "P3D"}],
                }
            ),
            "x",
        ),
    ]
    found = triggers.plans(rules, "order.placed", "ev-1", at)
    assert [(p.kind, p.rule_id, p.source) for p in found] == [
        ("fire", "r-1", "e:ev-1"),
        ("cancel", "cart", layout.DELAY_SOURCE),
        ("arm", "win", layout.INACTIVE_SOURCE),
    ]
    assert found[2].due_at == datetime(2026, 6, 8, 12, tzinfo=UTC)
    cart = triggers.plans(rules, "cart.updated", "ev-2", at)
    assert [(p.kind, p.rule_id, p.due_at) for p in cart] == [
        ("arm", "cart", datetime(2026, 3, 10, 16, tzinfo=UTC))
    ]
    assert triggers.plans(rules, "page.viewed", "ev-3", at) == []
    disabled = [StoredRule("r-1", 4, rules[0].rule.model_copy(update={"enabled": False}), "x")]
    assert triggers.plans(disabled, "order.placed", "ev-1", at) == []


def test_instances_of_re_armed_firings_name_their_event() -> None:
    assert triggers.instance(layout.DELAY_SOURCE, "ev-2") == "delay:ev-2"
    assert triggers.instance("e:ev-1", "ev-1") == "e:ev-1"
    assert triggers.anchor_key("2026-03-10T12:00:00.000Z", "b") > triggers.anchor_key(
        "2026-03-10T12:00:00.000Z", "a"
    )
