"""Member figures a busy or careless storefront cannot inflate: each order id counts
once, cancellations and refunds come off, other currencies convert or stay out."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Env, order_event

pytestmark = pytest.mark.integration


def _event(event_id: str, kind: str, member: str, data: dict[str, Any], at: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": kind,
        "occurred_at": at,
        "member_id": member,
        "channel": "store",
        "data": data,
    }


def _member(aws: Env, member: str = "m-1") -> dict[str, Any]:
    aws.pump().drain()
    found: dict[str, Any] = aws.call("GET", f"/v1/members/{member}").json()
    return found


def test_one_order_reported_twice_counts_once(aws: Env) -> None:
    first = order_event("web-1", "m-1", "300.00")
    resend = {**order_event("pos-77", "m-1", "300.00"), "data": first["data"]}  # same order, new event id
    aws.call("POST", "/v1/events", {"events": [first, resend]})
    member = _member(aws)
    assert member["stats"]["orders_count"] == 1
    assert member["stats"]["total_spend"] == "300.00"
    assert member["points"]["pending"] == 300


def test_a_cancelled_order_leaves_the_figures_and_the_tags(aws: Env) -> None:
    aws.call("POST", "/v1/events", order_event("o-1", "m-1", "1500.00"))
    assert "big-spender" in _member(aws)["tags"]
    aws.call(
        "POST",
        "/v1/events",
        _event("c-1", "order.cancelled", "m-1", {"order_id": "o-o-1"}, "2026-03-10T10:00:00Z"),
    )
    member = _member(aws)
    assert member["stats"]["orders_count"] == 0
    assert member["stats"]["total_spend"] == "0.00"
    assert member["stats"]["last_order_at"] is None
    assert member["tags"] == []
    assert member["rfm"] is None


def test_refunds_come_off_the_spend_and_a_full_refund_takes_the_order_out(aws: Env) -> None:
    aws.call("POST", "/v1/events", order_event("o-1", "m-1", "200.00", at="2026-03-01T09:00:00Z"))
    aws.call("POST", "/v1/events", order_event("o-2", "m-1", "100.00", at="2026-03-05T09:00:00Z"))
    refund = {"order_id": "o-o-2", "refund_id": "rf-1", "amount": "40.00"}
    aws.call("POST", "/v1/events", _event("rf-1", "order.refunded", "m-1", refund, "2026-03-06T09:00:00Z"))
    stats = _member(aws)["stats"]
    assert (stats["orders_count"], stats["total_spend"], stats["average_order_value"]) == (
        2,
        "260.00",
        "130.00",
    )
    # The same refund reported again under a new event id changes nothing.
    aws.call("POST", "/v1/events", _event("rf-1b", "order.refunded", "m-1", refund, "2026-03-06T09:00:00Z"))
    assert _member(aws)["stats"]["total_spend"] == "260.00"
    rest = {"order_id": "o-o-2", "refund_id": "rf-2", "amount": "60.00"}
    aws.call("POST", "/v1/events", _event("rf-2", "order.refunded", "m-1", rest, "2026-03-07T09:00:00Z"))
    stats = _member(aws)["stats"]
    assert (stats["orders_count"], stats["total_spend"]) == (1, "200.00")
    assert stats["last_order_at"] == "2026-03-01T09:00:00.000Z"


def test_a_cancellation_before_its_order_keeps_the_order_out(aws: Env) -> None:
    aws.call(
        "POST",
        "/v1/events",
        _event("c-1", "order.cancelled", "m-1", {"order_id": "o-o-1"}, "2026-03-10T10:00:00Z"),
    )
    aws.call("POST", "/v1/events", order_event("o-1", "m-1", "80.00"))
    member = _member(aws)
    assert member["stats"]["orders_count"] == 0
    assert member["points"]["pending"] == 0


def test_an_order_in_a_currency_without_a_rate_earns_nothing_and_stays_out_of_spend(aws: Env) -> None:
    order = order_event("o-1", "m-1", "10000")
    order["data"]["currency"] = "JPY"
    order["data"]["items"][0]["unit_price"] = "10000"
    result = aws.call("POST", "/v1/events", order).json()["results"][0]
    assert result["status"] == "accepted"
    assert [w["code"] for w in result["warnings"]] == ["currency_not_convertible"]
    member = _member(aws)
    assert member["points"]["pending"] == 0
    assert member["stats"]["orders_count"] == 1  # still an order: recency and counts
    assert member["stats"]["total_spend"] == "0.00"
    ledger = aws.call("GET", "/v1/members/m-1/ledger").json()["entries"]
    assert any(e["type"] == "note" and "JPY" in e["reason"] for e in ledger)
