"""The care rule backtest through the API: events seeded through ``POST /v1/events`` and
the stream, then a backtest of a saved, a default or an unsaved rule over a window. It
writes nothing, sends nothing, and agrees with what the engine then does."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest

from tests.conftest import API_KEY, Env, order_event, registration
from tests.integration.care_rules.care_helpers import (
    ADMIN_KEY_PREFIX,
    deliver,
    member,
    outcomes,
    post,
    put_rule,
    sent,
    utc,
)

pytestmark = pytest.mark.integration

ADMIN = f"{ADMIN_KEY_PREFIX}{API_KEY}"
NOON = utc(2026, 3, 10, 12, 0)  # 13:00 in Berlin
PROMO = {
    "name": "Promote every order",
    "trigger": {"type": "event", "event_type": "order.placed"},
    "actions": [{"type": "email", "template": "cart-abandoned", "marketing": True}],
    "guards": {"once_per": None},
}
WRITES = ("Put", "Update", "Delete", "TransactWrite", "BatchWrite", "SendRawEmail", "SendEmail", "PutEvents")


def _order(n: int, who: str, at: datetime) -> dict[str, Any]:
    return order_event(f"o-{who}-{n}", who, "100.00", at=at.strftime("%Y-%m-%dT%H:%M:%SZ"))


def _window(first: datetime, last: datetime) -> dict[str, str]:
    return {"from": first.strftime("%Y-%m-%dT%H:%M:%SZ"), "to": last.strftime("%Y-%m-%dT%H:%M:%SZ")}


def _backtest(aws: Env, rule_id: str, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    response = aws.call("POST", f"/v1/admin/care-rules/{rule_id}/backtest", body, key=ADMIN)
    assert response.status == status, response.body
    answer: dict[str, Any] = response.json()
    return answer


def _draft(aws: Env, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    response = aws.call("POST", "/v1/admin/care-rules/backtest", body, key=ADMIN)
    assert response.status == status, response.body
    answer: dict[str, Any] = response.json()
    return answer


def _three_first_orders(aws: Env) -> None:
    post(aws, member(aws, "ann"), member(aws, "bob", consent=False), member(aws, "cid"), at=NOON)
    post(aws, _order(1, "ann", NOON), _order(1, "bob", NOON), _order(1, "cid", NOON), at=NOON)


def _count_items(aws: Env) -> dict[str, int]:
    counts = {}
    for name in ("LOYALTY_TABLE", "EVENTS_TABLE"):
        client = aws.session.client("dynamodb")
        pages = client.get_paginator("scan").paginate(TableName=aws.env[name], Select="COUNT")
        counts[name] = sum(page["Count"] for page in pages)
    return counts


def test_a_default_rule_over_a_window_with_one_member_without_consent(aws: Env) -> None:
    _three_first_orders(aws)
    answer = _backtest(
        aws, "first-order-thanks", _window(NOON - timedelta(days=1), NOON + timedelta(hours=1))
    )
    assert answer["would_fire"] == 2
    assert answer["skipped"] == {
        "erased": 0,
        "condition": 0,
        "no_address": 0,
        "consent": 1,
        "once": 0,
        "frequency_cap": 0,
    }
    assert answer["members"] == ["ann", "cid"]
    assert answer["deferred"] == 0
    assert answer["version"] == 1
    assert answer["window"] == {"from": "2026-03-09T12:00:00.000Z", "to": "2026-03-10T13:00:00.000Z"}
    # 8 shards for March, then one Query of each of the three members' items.
    assert answer["reads"]["queries"] == 8 + 3
    assert answer["reads"]["items"] >= 6  # three registrations and three orders in the index
    # A window before the orders finds none.
    earlier = _backtest(
        aws, "first-order-thanks", _window(NOON - timedelta(days=3), NOON - timedelta(days=2))
    )
    assert (earlier["would_fire"], earlier["members"]) == (0, [])


def test_an_unsaved_rule_is_validated_like_a_put_and_backtested(aws: Env) -> None:
    _three_first_orders(aws)
    window = _window(NOON - timedelta(hours=1), NOON + timedelta(hours=1))
    answer = _draft(aws, {"rule": PROMO, **window})
    assert (answer["would_fire"], answer["skipped"]["consent"], answer["version"]) == (2, 1, None)
    # At 22:00 in Berlin the emails would be deferred to 09:00: still would_fire.
    evening = utc(2026, 3, 10, 21, 0)
    post(aws, _order(2, "ann", evening), at=evening)
    late = _draft(aws, {"rule": PROMO, **_window(evening, evening + timedelta(hours=1))})
    assert (late["would_fire"], late["deferred"]) == (1, 1)
    bad = {**PROMO, "conditions": {"all": [{"field": "shoe_size", "op": "eq", "value": 1}]}}
    error = _draft(aws, {"rule": bad, **window}, 400)["error"]
    assert error["field"] == "rule.conditions.all.0.field"
    shape = {**PROMO, "trigger": {"type": "event", "event_type": "nope.nope"}}
    assert _draft(aws, {"rule": shape, **window}, 400)["error"]["field"] == "rule.trigger.event_type"
    loop = {**PROMO, "trigger": {"type": "event", "event_type": "points.tier_changed"}}
    loop["actions"] = [{"type": "points", "points": 10, "reason": "again"}]
    assert _draft(aws, {"rule": loop, **window}, 400)["error"]["field"] == "rule.trigger.event_type"


def test_birthdays_over_a_window(aws: Env) -> None:
    post(
        aws,
        registration("r-1", "ann", birthday="1990-03-12"),
        registration("r-2", "bob", birthday="--03-20"),
        registration("r-3", "cid", birthday="1985-04-30"),  # outside the window
        registration("r-4", "dan", birthday="1985-03-14", consent=False),
        at=NOON,
    )
    answer = _backtest(aws, "birthday-greeting", _window(utc(2026, 3, 11), utc(2026, 3, 31)))
    assert (answer["would_fire"], answer["members"], answer["skipped"]["consent"]) == (2, ["ann", "bob"], 1)
    # 09:00 in Berlin on 12 March is 08:00 UTC: a window ending before it misses ann.
    short = _backtest(aws, "birthday-greeting", _window(utc(2026, 3, 11), utc(2026, 3, 12, 7, 59)))
    assert short["would_fire"] == 0


def test_win_back_over_a_window(aws: Env) -> None:
    day0 = utc(2026, 1, 5, 10, 0)
    post(aws, member(aws, "ann", at="2026-01-01T09:00:00Z"), member(aws, "bob", at="2026-01-01T09:00:00Z"))
    post(aws, _order(1, "ann", day0), _order(1, "bob", day0), at=day0)
    post(aws, _order(2, "bob", day0 + timedelta(days=30)), at=day0 + timedelta(days=30))  # bob ordered again
    window = _window(day0 + timedelta(days=80), day0 + timedelta(days=100))
    answer = _backtest(aws, "win-back-90d", window)
    assert (answer["would_fire"], answer["members"]) == (1, ["ann"])  # bob is due on day 120
    later = _backtest(aws, "win-back-90d", _window(day0 + timedelta(days=100), day0 + timedelta(days=130)))
    assert later["members"] == ["bob"]


def test_unsupported_triggers_and_bad_windows(aws: Env) -> None:
    window = _window(NOON - timedelta(days=1), NOON)
    error = _backtest(aws, "cart-abandoned", window, 400)["error"]
    assert (error["code"], error["field"]) == ("backtest_unsupported", "trigger.after")
    csat = _backtest(aws, "ticket-csat", window, 400)["error"]
    assert (csat["code"], csat["field"]) == ("backtest_unsupported", "trigger.event_type")
    viewed = {**PROMO, "trigger": {"type": "event", "event_type": "page.viewed"}}
    draft = _draft(aws, {"rule": viewed, **window}, 400)["error"]
    assert (draft["code"], draft["field"]) == ("backtest_unsupported", "rule.trigger.event_type")
    anniversary = {**PROMO, "trigger": {"type": "date", "field": "registered_at"}}
    assert _draft(aws, {"rule": anniversary, **window}, 400)["error"]["field"] == "rule.trigger.field"
    long = _window(NOON - timedelta(days=91), NOON)
    assert _backtest(aws, "first-order-thanks", long, 400)["error"]["field"] == "to"
    backwards = _window(NOON, NOON - timedelta(days=1))
    assert _backtest(aws, "first-order-thanks", backwards, 400)["error"]["field"] == "to"
    no_from = {"to": "2026-03-10T12:00:00Z"}
    assert _backtest(aws, "first-order-thanks", no_from, 400)["error"]["field"] == "from"
    naive = {"from": "2026-03-09T12:00:00", "to": "2026-03-10T12:00:00Z"}
    assert _backtest(aws, "first-order-thanks", naive, 400)["error"]["field"] == "from"
    assert _backtest(aws, "no-such-rule", window, 404)["error"]["field"] == "rule_id"


def test_storefront_keys_may_not_backtest(aws: Env) -> None:
    window = _window(NOON - timedelta(days=1), NOON)
    assert aws.call("POST", "/v1/admin/care-rules/first-order-thanks/backtest", window).status == 403
    assert aws.call("POST", "/v1/admin/care-rules/backtest", {"rule": PROMO, **window}).status == 403


def test_a_backtest_writes_nothing_and_sends_nothing(aws: Env) -> None:
    _three_first_orders(aws)
    put_rule(aws, "promo", PROMO, at=NOON)
    before = _count_items(aws)
    calls: list[str] = []

    def spy(model: Any, **kwargs: Any) -> None:
        calls.append(model.name)

    session = boto3._get_default_session()
    session.events.register("before-call", spy)
    from loyalty import aws as loyalty_aws

    loyalty_aws.reset()
    try:
        window = _window(NOON - timedelta(days=1), NOON + timedelta(hours=1))
        assert _backtest(aws, "promo", window)["would_fire"] == 2
        assert _backtest(aws, "first-order-thanks", window)["would_fire"] == 2
        assert _draft(aws, {"rule": PROMO, **window})["would_fire"] == 2
        assert _backtest(aws, "birthday-greeting", window)["would_fire"] == 0
        assert _backtest(aws, "win-back-90d", window)["would_fire"] == 0
    finally:
        session.events.unregister("before-call", spy)
        loyalty_aws.reset()
    assert "Query" in calls
    assert [c for c in calls if c.startswith(WRITES)] == []
    assert _count_items(aws) == before
    assert aws.sent_emails() == []


def test_a_backtest_of_an_unseeded_tenant_reads_the_defaults_without_seeding(aws: Env) -> None:
    before = _count_items(aws)
    answer = _backtest(aws, "first-order-thanks", _window(NOON - timedelta(days=1), NOON))
    assert (answer["would_fire"], answer["version"]) == (0, 1)
    assert _count_items(aws) == before


def test_the_backtest_agrees_with_the_engine_over_the_window(aws: Env) -> None:
    """A marketing rule over two days with the cap, quiet hours and a member without
    consent: what the backtest answers is what the engine then does."""
    put_rule(aws, "promo", PROMO, at=NOON - timedelta(hours=1))
    post(aws, member(aws, "ann"), member(aws, "bob", consent=False), member(aws, "cid"), at=NOON)
    late = utc(2026, 3, 10, 21, 30)  # 22:30 in Berlin: quiet
    orders = [
        (NOON, ("ann", "bob")),
        (NOON + timedelta(hours=2), ("ann",)),
        (late, ("ann", "bob", "cid")),
        (utc(2026, 3, 11, 10, 0), ("ann",)),
    ]
    for n, (at, who) in enumerate(orders):
        post(aws, *(_order(n, w, at) for w in who), at=at)
    start, end = NOON - timedelta(minutes=1), utc(2026, 3, 11, 12, 0)
    answer = _backtest(aws, "promo", _window(start, end))
    moment = start
    while moment <= end:
        moment += timedelta(minutes=30)
        deliver(aws, moment)
    entries = {who: outcomes(aws, who, "promo") for who in ("ann", "bob", "cid")}
    skipped = [reason for rows in entries.values() for outcome, reason in rows if outcome == "skipped"]
    assert answer["skipped"] == {reason: skipped.count(reason) for reason in answer["skipped"]}
    assert answer["would_fire"] == len(sent(aws, "promo"))
    assert answer["deferred"] == sum(rows.count(("deferred", "quiet_hours")) for rows in entries.values())
    assert answer["members"] == sorted({address.split("@")[0] for address in sent(aws, "promo")})
    # ann: two sent, then over the cap twice; bob: no consent twice; cid: deferred, then sent.
    assert (answer["would_fire"], answer["deferred"]) == (3, 1)
    assert (answer["skipped"]["frequency_cap"], answer["skipped"]["consent"]) == (2, 2)


def test_a_window_past_the_read_budget_is_a_422(aws: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    from care_rules import backtest

    _three_first_orders(aws)
    window = _window(NOON - timedelta(days=1), NOON + timedelta(hours=1))
    monkeypatch.setattr(backtest, "ITEM_BUDGET", 5)  # six events in the index
    error = _backtest(aws, "first-order-thanks", window, 422)["error"]
    assert (error["code"], error["field"]) == ("backtest_too_large", "to")
    monkeypatch.setattr(backtest, "ITEM_BUDGET", 50)
    assert _backtest(aws, "first-order-thanks", window)["would_fire"] == 2
