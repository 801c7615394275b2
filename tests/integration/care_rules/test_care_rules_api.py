"""The care rules admin API: versioned rules per tenant, seeded with the defaults,
admin keys only; an invalid rule changes nothing; lost races and transaction
conflicts are retried."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from loyalty import credentials, keys
from tests.conftest import API_KEY, OTHER_API_KEY, TENANT, Env
from tests.faults import Faults

pytestmark = pytest.mark.integration
ADMIN = f"admin-{API_KEY}"
RIVAL_ADMIN = f"admin-{OTHER_API_KEY}"
DEFAULT_IDS = [
    "birthday-greeting",
    "cart-abandoned",
    "first-order-thanks",
    "nps-after-order",
    "points-expiring",
    "ticket-csat",
    "tier-changed",
    "win-back-90d",
]
VIP = {
    "name": "Thank VIP orders",
    "trigger": {"type": "event", "event_type": "order.placed"},
    "conditions": {"all": [{"field": "tier", "op": "in", "value": ["gold", "black"]}]},
    "actions": [{"type": "email", "template": "first-order-thanks", "marketing": False}],
    "guards": {"once_per": "year"},
}


def _call(aws: Env, method: str, path: str, body: Any = None, key: str = ADMIN, minutes: int = 0) -> Any:
    return aws.call(method, path, body, key=key, at=aws.now + timedelta(minutes=minutes))


def _items(aws: Env, tenant: str = TENANT) -> list[dict[str, Any]]:
    table = aws.table("LOYALTY_TABLE")
    found: list[dict[str, Any]] = []
    for pk in (keys.care_pk(tenant), f"T#{tenant}#AUDIT"):
        found += table.query(KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": pk})[
            "Items"
        ]
    return found


def _versions(aws: Env, tenant: str = TENANT) -> list[str]:
    return sorted(str(i["sk"]) for i in _items(aws, tenant) if str(i["sk"]).startswith("RULEV#"))


def _audit(aws: Env) -> list[tuple[str, str, Any]]:
    entries = aws.call("GET", "/v1/admin/audit", key=ADMIN).json()["entries"]
    return [(e["action"], e["target"], e["details"]) for e in entries if e["action"].startswith("care_rule")]


def test_the_first_list_seeds_the_default_rules_once(aws: Env) -> None:
    assert _items(aws) == []
    listed = _call(aws, "GET", "/v1/admin/care-rules")
    assert listed.status == 200, listed.json()
    rules = listed.json()["rules"]
    assert [r["rule_id"] for r in rules] == DEFAULT_IDS
    assert all(r["version"] == 1 and r["enabled"] and r["rule"]["enabled"] for r in rules)
    birthday = rules[0]["rule"]
    assert birthday["trigger"] == {
        "type": "date",
        "field": "birthday",
        "offset_days": 0,
        "at": "09:00",
        "leap_day": "feb28",
    }
    assert birthday["guards"] == {"once_per": "year"}
    cart = next(r["rule"] for r in rules if r["rule_id"] == "cart-abandoned")
    assert cart["trigger"]["delay"] == "PT4H"  # as written, not a parsed duration
    assert len(_versions(aws)) == 8
    again = _call(aws, "GET", "/v1/admin/care-rules", minutes=1).json()["rules"]
    assert again == rules and len(_versions(aws)) == 8
    assert _audit(aws) == []  # seeding is no admin action


def test_put_creates_version_1_then_a_change_makes_version_2_and_a_repeat_changes_nothing(aws: Env) -> None:
    created = _call(aws, "PUT", "/v1/admin/care-rules/vip-thanks", VIP)
    assert created.status == 201, created.json()
    assert created.json()["version"] == 1 and created.json()["rule"]["conditions"] == VIP["conditions"]
    assert created.json()["rule"]["enabled"] is True  # defaults filled in as stored
    changed = {**VIP, "guards": {"once_per": "month"}}
    second = _call(aws, "PUT", "/v1/admin/care-rules/vip-thanks", changed, minutes=1)
    assert second.status == 200 and second.json()["version"] == 2
    before = _items(aws)
    repeat = _call(aws, "PUT", "/v1/admin/care-rules/vip-thanks", changed, minutes=2)
    assert repeat.status == 200 and repeat.json() == second.json()
    assert _items(aws) == before  # no version, no audit entry
    detail = _call(aws, "GET", "/v1/admin/care-rules/vip-thanks").json()
    assert (detail["version"], detail["rule"]["guards"]) == (2, {"once_per": "month"})
    assert [(v["version"], v["rule"]["guards"]) for v in detail["earlier_versions"]] == [
        (1, {"once_per": "year"})
    ]
    assert detail["next_cursor"] is None
    listed = {r["rule_id"]: r for r in _call(aws, "GET", "/v1/admin/care-rules").json()["rules"]}
    assert listed["vip-thanks"]["version"] == 2 and len(listed) == 9
    assert _audit(aws) == [
        ("care_rule.saved", "vip-thanks", {"version": 2, "enabled": True}),
        ("care_rule.saved", "vip-thanks", {"version": 1, "enabled": True}),
    ]


def test_replacing_a_default_makes_version_2_of_it(aws: Env) -> None:
    rule = {
        "name": "Birthday greeting, the day before",
        "trigger": {"type": "date", "field": "birthday", "offset_days": -1, "at": "10:30"},
        "actions": [{"type": "email", "template": "birthday-greeting", "marketing": True}],
        "guards": {"once_per": "year"},
    }
    answer = _call(aws, "PUT", "/v1/admin/care-rules/birthday-greeting", rule)  # seeds first
    assert answer.status == 200 and answer.json()["version"] == 2
    detail = _call(aws, "GET", "/v1/admin/care-rules/birthday-greeting").json()
    assert [v["version"] for v in detail["earlier_versions"]] == [1]


def test_delete_disables_with_a_new_version_and_keeps_the_history(aws: Env) -> None:
    _call(aws, "PUT", "/v1/admin/care-rules/vip-thanks", VIP)
    gone = _call(aws, "DELETE", "/v1/admin/care-rules/vip-thanks", minutes=1)
    assert gone.status == 200, gone.json()
    assert (gone.json()["version"], gone.json()["enabled"], gone.json()["rule"]["enabled"]) == (
        2,
        False,
        False,
    )
    before = _items(aws)
    again = _call(aws, "DELETE", "/v1/admin/care-rules/vip-thanks", minutes=2)
    assert again.status == 200 and again.json() == gone.json()
    assert _items(aws) == before
    detail = _call(aws, "GET", "/v1/admin/care-rules/vip-thanks").json()
    assert detail["enabled"] is False and [v["enabled"] for v in detail["earlier_versions"]] == [True]
    missing = _call(aws, "DELETE", "/v1/admin/care-rules/no-such-rule")
    assert missing.status == 404 and missing.json()["error"]["field"] == "rule_id"
    assert _call(aws, "GET", "/v1/admin/care-rules/no-such-rule").status == 404
    assert _audit(aws)[0] == ("care_rule.disabled", "vip-thanks", {"version": 2})
    # Enabled again by a PUT: version 3.
    back = _call(aws, "PUT", "/v1/admin/care-rules/vip-thanks", VIP, minutes=3)
    assert (back.status, back.json()["version"], back.json()["enabled"]) == (200, 3, True)


def test_a_deleted_default_stays_deleted(aws: Env) -> None:
    assert _call(aws, "DELETE", "/v1/admin/care-rules/cart-abandoned").status == 200  # seeds, disables
    listed = {r["rule_id"]: r for r in _call(aws, "GET", "/v1/admin/care-rules").json()["rules"]}
    assert (listed["cart-abandoned"]["version"], listed["cart-abandoned"]["enabled"]) == (2, False)
    assert len(_versions(aws)) == 9


def test_a_tenant_never_sees_another_tenants_rules(aws: Env) -> None:
    _call(aws, "PUT", "/v1/admin/care-rules/vip-thanks", VIP)
    _call(aws, "DELETE", "/v1/admin/care-rules/tier-changed")
    rival = _call(aws, "GET", "/v1/admin/care-rules", key=RIVAL_ADMIN).json()["rules"]
    assert [r["rule_id"] for r in rival] == DEFAULT_IDS and all(r["enabled"] for r in rival)
    assert _call(aws, "GET", "/v1/admin/care-rules/vip-thanks", key=RIVAL_ADMIN).status == 404
    assert _call(aws, "DELETE", "/v1/admin/care-rules/vip-thanks", key=RIVAL_ADMIN).status == 404
    assert _call(aws, "GET", "/v1/admin/care-rules/vip-thanks").json()["version"] == 1


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/admin/care-rules", None),
        ("GET", "/v1/admin/care-rules/birthday-greeting", None),
        ("PUT", "/v1/admin/care-rules/vip-thanks", VIP),
        ("DELETE", "/v1/admin/care-rules/birthday-greeting", None),
    ],
)
def test_a_storefront_key_is_refused(aws: Env, method: str, path: str, body: Any) -> None:
    answer = _call(aws, method, path, body, key=API_KEY)
    assert answer.status == 403 and answer.json()["error"]["code"] == "forbidden"
    assert _items(aws) == []


def _rule(**changes: Any) -> dict[str, Any]:
    return {**VIP, **changes}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_rule(trigger={"type": "event", "event_type": "order.shipped"}), "trigger.event_type"),
        (_rule(trigger={"type": "whenever"}), "trigger.type"),
        (_rule(trigger={"type": "delay", "after": "cart.updated", "delay": "4 hours"}), "trigger.delay"),
        (
            _rule(conditions={"all": [{"field": "shoe_size", "op": "eq", "value": 42}]}),
            "conditions.all.0.field",
        ),
        (
            _rule(conditions={"any": [{"field": "tier", "op": "in", "value": "gold"}]}),
            "conditions.any.0.value",
        ),
        (_rule(actions=[]), "actions"),
        (_rule(actions=[{"type": "sms", "text": "hi"}]), "actions.0.type"),
        (_rule(guards={"once_per": "hour"}), "guards.once_per"),
        (_rule(colour="red"), "colour"),
        (
            _rule(
                trigger={"type": "event", "event_type": "points.tier_changed"},
                actions=[{"type": "points", "points": 50, "reason": "tier bonus"}],
            ),
            "trigger.event_type",
        ),
    ],
)
def test_an_invalid_rule_is_a_400_naming_the_field_and_changes_nothing(
    aws: Env, body: dict[str, Any], field: str
) -> None:
    _call(aws, "GET", "/v1/admin/care-rules")  # seeded
    before = _items(aws)
    answer = _call(aws, "PUT", "/v1/admin/care-rules/vip-thanks", body, minutes=1)
    assert answer.status == 400, answer.json()
    assert answer.json()["error"]["code"] == "validation_error"
    assert answer.json()["error"]["field"] == field, answer.json()
    assert _items(aws) == before


def test_an_invalid_rule_id_is_refused(aws: Env) -> None:
    answer = _call(aws, "PUT", "/v1/admin/care-rules/Not_A_Slug", VIP)
    assert answer.status == 400 and answer.json()["error"]["field"] == "rule_id"
    assert _items(aws) == []


def test_earlier_versions_are_paged_within_the_rule(aws: Env) -> None:
    for n in range(4):
        _call(aws, "PUT", "/v1/admin/care-rules/vip-thanks", _rule(name=f"VIP {n}"), minutes=n)
    _call(aws, "PUT", "/v1/admin/care-rules/other", _rule(name="Other"))
    _call(aws, "PUT", "/v1/admin/care-rules/other", _rule(name="Other 2"), minutes=1)
    first = _call(aws, "GET", "/v1/admin/care-rules/vip-thanks?limit=2").json()
    assert [v["version"] for v in first["earlier_versions"]] == [3, 2] and first["next_cursor"]
    rest = _call(aws, "GET", f"/v1/admin/care-rules/vip-thanks?limit=2&cursor={first['next_cursor']}").json()
    assert [v["version"] for v in rest["earlier_versions"]] == [1]
    foreign = _call(aws, "GET", f"/v1/admin/care-rules/other?cursor={first['next_cursor']}")
    assert foreign.status == 400 and foreign.json()["error"]["code"] == "invalid_cursor"


def _first_transaction() -> Any:
    seen: list[str] = []

    def when(operation: str, params: dict[str, Any]) -> bool:
        if operation != "TransactWriteItems" or seen:
            return False
        seen.append(operation)
        return True

    return when


def test_a_transaction_conflict_on_a_put_is_retried(aws: Env) -> None:
    _call(aws, "GET", "/v1/admin/care-rules")  # seeded: the PUT's transaction is the first
    faults = Faults(
        1.0, seed=3, functions={"CareRulesApi"}, kinds=("conflict",), when=_first_transaction()
    ).install()
    try:
        answer = _call(aws, "PUT", "/v1/admin/care-rules/vip-thanks", VIP, minutes=1)
    finally:
        faults.uninstall()
    assert faults.injected["conflict"] == 1
    assert answer.status == 201 and answer.json()["version"] == 1
    assert [sk for sk in _versions(aws) if "vip-thanks" in sk] == ["RULEV#vip-thanks#000001"]


def test_a_transaction_conflict_on_seeding_is_retried_and_seeds_once(aws: Env) -> None:
    faults = Faults(
        1.0, seed=5, functions={"CareRulesApi"}, kinds=("conflict",), when=_first_transaction()
    ).install()
    try:
        listed = _call(aws, "GET", "/v1/admin/care-rules")
    finally:
        faults.uninstall()
    assert faults.injected["conflict"] == 1
    assert [r["rule_id"] for r in listed.json()["rules"]] == DEFAULT_IDS
    assert len(_versions(aws)) == 8


def test_two_first_requests_at_once_seed_once(aws: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both requests find the rule set unseeded (the second reads before the first
    writes): the second's seeding transaction fails its condition and it reads the
    first's rules."""
    from care_rules import repository

    seeds: list[bool] = []
    seed = repository.seed

    def counted(*args: Any) -> bool:
        seeds.append(seed(*args))
        return seeds[-1]

    monkeypatch.setattr(repository, "is_seeded", lambda table, tenant: False)
    monkeypatch.setattr(repository, "seed", counted)
    first = _call(aws, "GET", "/v1/admin/care-rules").json()["rules"]
    _call(aws, "DELETE", "/v1/admin/care-rules/ticket-csat", minutes=1)
    late = _call(aws, "GET", "/v1/admin/care-rules/no-such-rule", minutes=2)  # a miss looks at the head
    assert late.status == 404
    assert seeds == [True, False]
    second = _call(aws, "GET", "/v1/admin/care-rules/ticket-csat", minutes=3)
    assert second.status == 200 and second.json()["version"] == 2  # the disable stands
    assert [r["rule_id"] for r in first] == DEFAULT_IDS
    assert len(_versions(aws)) == 9
    heads = [i for i in _items(aws) if i["sk"] == keys.CARE_RULES_HEAD_SK]
    assert len(heads) == 1 and heads[0]["seeded_at"] == "2026-03-10T12:00:00.000Z"


def test_an_admin_key_id_is_recorded_as_the_saver(aws: Env) -> None:
    _call(aws, "PUT", "/v1/admin/care-rules/vip-thanks", VIP)
    (item,) = [i for i in _items(aws) if i["sk"] == "RULE#vip-thanks"]
    assert item["saved_by"] == credentials.hash_key(ADMIN)[:12]
    assert item["version"] == 1 and item["enabled"] is True
