"""Inactivity, delay and cancel triggers, and the actions besides email: care tasks for
the member's owner (or the fallback), points through the ledger exactly once, and
events on the care bus."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import API_KEY, Env, order_event
from tests.integration.care_rules.care_helpers import deliver, outcomes, post, put_rule, sent, utc

pytestmark = pytest.mark.integration

ADMIN = f"admin-{API_KEY}"
DAY0 = utc(2026, 3, 10, 12, 0)


def _staff(aws: Env, staff_id: str, email: str, active: bool = True) -> None:
    person = {
        "name": staff_id.title(),
        "email": email,
        "role": "rep",
        "queues": [],
        "time_zone": "Asia/Shanghai",
        "active": active,
    }
    assert aws.call("PUT", f"/v1/admin/staff/{staff_id}", person, key=ADMIN, at=DAY0).status in (200, 201)


def _member(aws: Env, member: str, owner: str | None = None, at: Any = DAY0) -> None:
    from tests.integration.care_rules.care_helpers import member as registration

    profile = {"owner": owner} if owner else {}
    post(aws, registration(aws, member, **profile), at=at)


def _order(n: int, who: str, at: Any) -> dict[str, Any]:
    return order_event(f"o-{who}-{n}", who, "100.00", at=at.strftime("%Y-%m-%dT%H:%M:%SZ"))


def _cart(n: int, who: str, at: Any) -> dict[str, Any]:
    return {
        "event_id": f"c-{who}-{n}",
        "type": "cart.updated",
        "occurred_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "member_id": who,
        "channel": "web",
        "data": {
            "cart_id": f"cart-{who}",
            "currency": "CNY",
            "items": [{"sku": "s", "quantity": 1, "unit_price": "9.90"}],
        },
    }


def _tasks(aws: Env, **query: str) -> list[dict[str, Any]]:
    params = "&".join(f"{k}={v}" for k, v in query.items())
    response = aws.call("GET", f"/v1/care-tasks?{params}", at=aws.now)
    assert response.status == 200, response.body
    tasks: list[dict[str, Any]] = response.json()["tasks"]
    return tasks


def test_win_back_creates_one_task_for_the_owner_after_90_days(aws: Env) -> None:
    _staff(aws, "rep-1", "rep1@shop.example")
    _staff(aws, "care-desk", "desk@shop.example")
    _member(aws, "ann", owner="rep-1")
    post(aws, _order(1, "ann", DAY0), at=DAY0)
    deliver(aws, DAY0 + timedelta(days=89, hours=23))
    assert outcomes(aws, "ann", "win-back-90d") == []
    due = DAY0 + timedelta(days=90, minutes=5)
    deliver(aws, due)
    deliver(aws, due + timedelta(minutes=5))
    aws.pump().drain()
    deliver(aws, due + timedelta(minutes=10))
    assert outcomes(aws, "ann", "win-back-90d") == [("task", None)]
    tasks = _tasks(aws, assignee="rep-1")
    assert [(t["member_id"], t["rule_id"], t["status"]) for t in tasks] == [("ann", "win-back-90d", "open")]
    assert tasks[0]["summary"]["lifetime_spend"] == "100.00"
    assert sent(aws, "win-back-90d") == ["rep1@shop.example"]  # the assignee, once
    # A new order starts a new episode; 90 days on, a second task.
    later = due + timedelta(days=1)
    post(aws, _order(2, "ann", later), at=later)
    deliver(aws, later + timedelta(days=90, minutes=5))
    assert outcomes(aws, "ann", "win-back-90d") == [("task", None), ("task", None)]


def test_a_task_whose_owner_is_inactive_goes_to_the_fallback(aws: Env) -> None:
    _staff(aws, "rep-2", "rep2@shop.example", active=False)
    _staff(aws, "care-desk", "desk@shop.example")
    _member(aws, "bob", owner="rep-2")
    post(aws, _order(1, "bob", DAY0), at=DAY0)
    deliver(aws, DAY0 + timedelta(days=90, minutes=5))
    assert [t["assignee"] for t in _tasks(aws, member_id="bob")] == ["care-desk"]
    assert sent(aws, "win-back-90d") == ["desk@shop.example"]


def test_an_order_arriving_late_does_not_move_the_inactivity_clock_back(aws: Env) -> None:
    _staff(aws, "care-desk", "desk@shop.example")
    _member(aws, "cid")
    post(aws, _order(2, "cid", DAY0 + timedelta(days=30)), at=DAY0 + timedelta(days=30))
    post(aws, _order(1, "cid", DAY0), at=DAY0 + timedelta(days=31))  # an older order, sent late
    deliver(aws, DAY0 + timedelta(days=91))
    assert outcomes(aws, "cid", "win-back-90d") == []  # 90 days after the newest, not the oldest
    deliver(aws, DAY0 + timedelta(days=120, minutes=5))
    assert outcomes(aws, "cid", "win-back-90d") == [("task", None)]


def test_cart_reminder_after_four_hours_unless_an_order_comes_first(aws: Env) -> None:
    _member(aws, "dee")
    _member(aws, "eve")
    post(aws, _cart(1, "dee", DAY0), _cart(1, "eve", DAY0), at=DAY0)
    post(aws, _cart(2, "dee", DAY0 + timedelta(hours=1)), at=DAY0 + timedelta(hours=1))  # restarts the clock
    post(aws, _order(1, "eve", DAY0 + timedelta(hours=2)), at=DAY0 + timedelta(hours=2))
    deliver(aws, DAY0 + timedelta(hours=4, minutes=5))
    assert sent(aws, "cart-abandoned") == []
    deliver(aws, DAY0 + timedelta(hours=5, minutes=5))
    assert sent(aws, "cart-abandoned") == ["dee@example.com"]
    assert outcomes(aws, "eve", "cart-abandoned") == []  # cancelled by the order


def test_points_are_granted_through_the_ledger_exactly_once(aws: Env) -> None:
    rule = {
        "name": "Bonus for a first order",
        "trigger": {"type": "event", "event_type": "order.placed"},
        "conditions": {"all": [{"field": "stats.orders_count", "op": "eq", "value": 1}]},
        "actions": [{"type": "points", "points": 100, "reason": "welcome"}],
        "guards": {"once_per": "ever"},
    }
    put_rule(aws, "welcome-bonus", rule, at=DAY0)
    _member(aws, "fay")
    post(aws, _order(1, "fay", DAY0), at=DAY0)
    before = aws.call("GET", "/v1/members/fay", at=DAY0).json()["points"]
    for minutes in (5, 10):
        deliver(aws, DAY0 + timedelta(minutes=minutes))
    aws.pump().drain()
    after = aws.call("GET", "/v1/members/fay", at=DAY0 + timedelta(minutes=15)).json()["points"]
    assert after["available"] - before["available"] == 100
    assert outcomes(aws, "fay", "welcome-bonus") == [("points", None)]
    ledger = aws.call("GET", "/v1/members/fay/ledger", at=DAY0 + timedelta(minutes=15)).json()["entries"]
    assert sum(1 for e in ledger if "welcome" in str(e.get("reason"))) == 1


def test_event_actions_reach_the_care_bus_once(aws: Env) -> None:
    rule = {
        "name": "Tell the CRM about big orders",
        "trigger": {"type": "event", "event_type": "order.placed"},
        "conditions": {"all": [{"field": "event.data.total", "op": "gte", "value": 100}]},
        "actions": [{"type": "event", "detail_type": "care.big-order"}],
    }
    put_rule(aws, "big-order", rule, at=DAY0)
    _member(aws, "gus")
    post(aws, _order(1, "gus", DAY0), at=DAY0)
    deliver(aws, DAY0 + timedelta(minutes=5))
    deliver(aws, DAY0 + timedelta(minutes=10))
    sqs = aws.session.client("sqs")
    url = sqs.get_queue_url(QueueName="local-care-events")["QueueUrl"]
    bodies = [
        json.loads(m["Body"])
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    ]
    assert [(b["detail-type"], b["detail"]["member_id"], b["detail"]["rule_id"]) for b in bodies] == [
        ("care.big-order", "gus", "big-order")
    ]
    assert bodies[0]["detail"]["consent"] == {"email": True, "sms": False}
    assert outcomes(aws, "gus", "big-order") == [("event", None)]


def _system(aws: Env, member: str, event_id: str, event_type: str, data: dict[str, Any]) -> None:
    from loyalty.events.stored import event_item
    from loyalty.system_events import system_event

    stored = system_event("demo", member, event_id, event_type, DAY0, "2026-03-10", data)
    aws.table("EVENTS_TABLE").put_item(Item=event_item(stored))
    aws.pump().drain()


def test_points_notices_fire_their_rules_with_their_figures(aws: Env) -> None:
    from email import message_from_string, policy

    _member(aws, "hal")
    lots = [{"points": 120, "expires_on": "2026-04-01"}, {"points": 30, "expires_on": "2026-04-09"}]
    _system(aws, "hal", "sys:points:hal:1", "points.expiring", {"points": 150, "lots": lots})
    _system(
        aws, "hal", "sys:tier:hal:1", "points.tier_changed", {"from": "member", "to": "silver", "reason": "x"}
    )
    deliver(aws, DAY0 + timedelta(minutes=5))
    assert outcomes(aws, "hal", "points-expiring") == [("sent", None)]
    assert outcomes(aws, "hal", "tier-changed") == [("sent", None)]
    raw = [m.raw_data for m in aws.sent_emails() if "X-Loyalty-Rule: points-expiring" in m.raw_data]
    message = message_from_string(raw[0], policy=policy.default)
    text = message.get_body(preferencelist=("plain",))
    assert text is not None
    body = text.get_content()
    assert "150" in body and ("2026" in body or "4月1日" in body or "4 月 1 日" in body), body


def test_a_resolved_ticket_sends_the_csat_survey_with_the_ticket(aws: Env) -> None:
    from email import message_from_string, policy

    _member(aws, "ivy")
    data = {"ticket_id": "tk-77", "subject": "Broken zipper"}
    _system(aws, "ivy", "sys:ticket:tk-77:resolved", "ticket.resolved", data)
    deliver(aws, DAY0 + timedelta(minutes=5))
    assert outcomes(aws, "ivy", "ticket-csat") == [("sent", None)]
    raw = [m.raw_data for m in aws.sent_emails() if "X-Loyalty-Rule: ticket-csat" in m.raw_data]
    text = message_from_string(raw[0], policy=policy.default).get_body(preferencelist=("plain",))
    assert text is not None and "tk-77" in text.get_content() + str(message_from_string(raw[0])["Subject"])
