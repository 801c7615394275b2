"""The service configuration: the shipped file validates into the default calendars and
policies, the first matching policy wins, and each invalid setting is refused naming its field."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from infra.definitions import SERVICE_CONFIG_FILE, service_config_json
from tickets.service_config import ServiceConfig, match_policy

pytestmark = pytest.mark.unit

SHIPPED: dict[str, Any] = yaml.safe_load(Path(SERVICE_CONFIG_FILE).read_text())
CONFIG = ServiceConfig.model_validate(SHIPPED)


def test_the_shipped_file_validates_with_the_default_table() -> None:
    table = {
        p.name: (p.when.model_dump(exclude_none=True), p.first_response, p.next_reply, p.resolution)
        for p in CONFIG.policies
    }
    assert table == {
        "vip": ({"tier": ["gold", "black"]}, 30, 120, 480),
        "urgent": ({"priority": ["urgent"]}, 60, 120, 480),
        "high": ({"priority": ["high"]}, 120, 240, 960),
        "default": ({}, 240, 480, 1440),
    }
    assert list(table) == ["vip", "urgent", "high", "default"]
    assert {p.calendar for p in CONFIG.policies} == {"cn-business"}
    assert ServiceConfig.model_validate_json(service_config_json()) == CONFIG
    assert json.loads(service_config_json())["calendars"]["cn-business"]["time_zone"] == "Asia/Shanghai"


def test_the_shipped_calendars() -> None:
    cn = CONFIG.calendar("cn-business")
    friday_evening = datetime(2026, 3, 6, 9, 30, tzinfo=UTC)  # 17:30 in Shanghai
    assert cn.add_business_minutes(friday_evening, 60) == datetime(2026, 3, 9, 1, 30, tzinfo=UTC)
    assert cn.is_open(datetime(2026, 10, 10, 2, 0, tzinfo=UTC))  # the working Saturday, 10:00
    assert not cn.is_open(datetime(2026, 10, 10, 4, 30, tzinfo=UTC))  # its lunch break
    always = CONFIG.calendar("24x7")
    assert always.add_business_minutes(friday_evening, 60) == datetime(2026, 3, 6, 10, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("priority", "tier", "channel", "category", "policy"),
    [
        ("urgent", "gold", "web", "complaint", "vip"),  # vip is listed before urgent
        ("low", "black", "app", "other", "vip"),
        ("urgent", "silver", "web", "return", "urgent"),
        ("urgent", None, "phone", "billing", "urgent"),
        ("high", None, "store", "delivery", "high"),
        ("normal", "silver", "web", "technical", "default"),
        ("low", None, "web", "other", "default"),
    ],
)
def test_first_match_wins(priority: str, tier: str | None, channel: str, category: str, policy: str) -> None:
    assert match_policy(CONFIG, priority, tier, channel, category).name == policy


def test_all_conditions_must_hold_in_listed_order() -> None:
    raw = copy.deepcopy(SHIPPED)
    raw["policies"].insert(
        0, {**raw["policies"][3], "name": "web-returns", "when": {"channel": ["web"], "category": ["return"]}}
    )
    config = ServiceConfig.model_validate(raw)
    assert match_policy(config, "urgent", "gold", "web", "return").name == "web-returns"
    assert match_policy(config, "urgent", "gold", "app", "return").name == "vip"
    assert match_policy(config, "urgent", "gold", "web", "complaint").name == "vip"


def _broken(edit: Any) -> str:
    raw = copy.deepcopy(SHIPPED)
    edit(raw)
    with pytest.raises(ValidationError) as error:
        ServiceConfig.model_validate(raw)
    return str(error.value)


@pytest.mark.parametrize(
    ("edit", "names"),
    [
        (lambda r: r["policies"][1].update(calendar="nowhere"), "policies.1.calendar"),
        (lambda r: r["policies"].pop(), "policies.2.when"),  # no catch-all last
        (lambda r: r["policies"].append(dict(r["policies"][0])), "policies.4.name"),  # listed twice
        (lambda r: r["calendars"]["cn-business"].update(time_zone="Asia/Nowhere"), "cn-business.time_zone"),
        (
            lambda r: r["calendars"]["cn-business"]["hours"].update(mon=["09:00-12:00", "11:00-18:00"]),
            "cn-business.hours",
        ),
        (
            lambda r: r["calendars"]["cn-business"]["hours"].update(tue=["13:00-18:00", "09:00-12:00"]),
            "cn-business.hours",
        ),
        (lambda r: r["calendars"]["cn-business"]["hours"].update(wed=["18:00-09:00"]), "cn-business.hours"),
        (lambda r: r["calendars"]["cn-business"]["hours"].update(thu=["9-12"]), "cn-business.hours"),
        (lambda r: r["calendars"]["24x7"].update(hours={"mon": ["09:00-12:00"]}), "24x7"),
        (
            lambda r: r["calendars"]["cn-business"].update(
                open_dates=["2026-10-01"], closed_dates=["2026-10-01"]
            ),
            "closed_dates",
        ),
        (lambda r: r["policies"][0].update(first_response=0), "policies.0.first_response"),
        (lambda r: r["policies"][0]["when"].update(priority=["critical"]), "policies.0.when.priority"),
        (lambda r: r["policies"][0].update(escalate=True), "policies.0.escalate"),
        (lambda r: r["calendars"]["cn-business"]["holidays"].update(country="China"), "holidays.country"),
    ],
)
def test_each_error_names_its_field(edit: Any, names: str) -> None:
    assert names in _broken(edit)
