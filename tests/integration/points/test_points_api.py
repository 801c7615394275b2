"""The points API and sweep through real API Gateway events, streams and
EventBridge Scheduler payloads (moto)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import API_KEY, OTHER_API_KEY, Env, order_event

pytestmark = pytest.mark.integration

ADMIN_KEY = f"admin-{API_KEY}"


def _refund(event_id: str, member: str, order_id: str, amount: str) -> dict:
    return {
        "event_id": event_id,
        "type": "order.refunded",
        "occurred_at": "2026-03-10T11:00:00Z",
        "member_id": member,
        "channel": "store",
        "data": {"order_id": order_id, "refund_id": event_id, "amount": amount},
    }


def _earn(aws: Env, member: str = "m-1", total: str = "300.00") -> None:
    aws.call("POST", "/v1/events", order_event(f"{member}-o1", member, total))
    aws.pump().drain()


def test_pending_points_release_through_the_sweep_after_the_return_window(aws: Env) -> None:
    _earn(aws)
    assert aws.call("GET", "/v1/members/m-1").json()["points"]["pending"] == 300
    aws.run_job("PointsSweep", "points_sweep", aws.now + timedelta(days=13))
    assert aws.call("GET", "/v1/members/m-1").json()["points"]["pending"] == 300
    result = aws.run_job("PointsSweep", "points_sweep", aws.now + timedelta(days=15))
    assert result == {
        "members": 1,
        "commits": 1,
        "failed": 0,
        "parked": 0,
        "tenants_failed": 0,
        "deferred": False,
    }
    points = aws.call("GET", "/v1/members/m-1").json()["points"]
    assert (points["available"], points["pending"]) == (500, 0)
    again = aws.run_job("PointsSweep", "points_sweep", aws.now + timedelta(days=15))
    assert again == {
        "members": 0,
        "commits": 0,
        "failed": 0,
        "parked": 0,
        "tenants_failed": 0,
        "deferred": False,
    }  # nothing due: the index moved on


def test_redemption_replay_conflict_and_insufficient_points(aws: Env) -> None:
    _earn(aws)  # 200 first-order bonus available at once
    body = {"redemption_id": "rd-1", "points": 150, "reward": "voucher"}
    first = aws.call("POST", "/v1/members/m-1/redemptions", body)
    assert first.status == 201
    assert first.json()["balance"] == {"available": 50, "pending": 300, "held": 0}
    replay = aws.call("POST", "/v1/members/m-1/redemptions", body)
    assert (replay.status, replay.json()) == (201, first.json())
    changed = aws.call("POST", "/v1/members/m-1/redemptions", {**body, "points": 10})
    assert (changed.status, changed.json()["error"]["code"]) == (409, "conflict")
    short = aws.call("POST", "/v1/members/m-1/redemptions", {"redemption_id": "rd-2", "points": 51})
    assert (short.status, short.json()["error"]["code"]) == (409, "insufficient_points")
    assert aws.call("GET", "/v1/members/m-1").json()["points"]["available"] == 50
    # other tenants see nothing of it
    theirs = aws.call(
        "POST", "/v1/members/m-1/redemptions", {"redemption_id": "rd-3", "points": 1}, key=OTHER_API_KEY
    )
    assert theirs.json()["error"]["code"] == "insufficient_points"


def test_hold_confirm_cancel_and_lapse(aws: Env) -> None:
    _earn(aws)
    held = aws.call(
        "POST", "/v1/members/m-1/redemptions", {"redemption_id": "h-1", "points": 100, "hold": True}
    )
    assert held.json()["status"] == "held" and held.json()["balance"]["held"] == 100
    confirmed = aws.call("POST", "/v1/members/m-1/redemptions/h-1/confirm")
    assert confirmed.status == 200 and confirmed.json()["status"] == "redeemed"
    assert confirmed.json()["balance"] == {"available": 100, "pending": 300, "held": 0}
    aws.call("POST", "/v1/members/m-1/redemptions", {"redemption_id": "h-2", "points": 50, "hold": True})
    cancelled = aws.call("POST", "/v1/members/m-1/redemptions/h-2/cancel")
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["balance"]["available"] == 100
    not_held = aws.call("POST", "/v1/members/m-1/redemptions/h-2/confirm")
    assert (not_held.status, not_held.json()["error"]["code"]) == (409, "redemption_not_held")
    assert aws.call("POST", "/v1/members/m-1/redemptions/nope/confirm").status == 404
    aws.call("POST", "/v1/members/m-1/redemptions", {"redemption_id": "h-3", "points": 60, "hold": True})
    aws.run_job("PointsSweep", "points_sweep", aws.now + timedelta(minutes=31))
    assert aws.call("GET", "/v1/members/m-1").json()["points"]["held"] == 0
    lapsed = aws.call("POST", "/v1/members/m-1/redemptions/h-3/confirm", at=aws.now + timedelta(minutes=32))
    assert lapsed.json()["error"]["code"] == "redemption_not_held"


def test_refund_claws_back_and_the_ledger_explains_every_entry(aws: Env) -> None:
    _earn(aws)
    aws.call("POST", "/v1/events", _refund("rf-1", "m-1", "o-m-1-o1", "100.00"))
    aws.pump().drain()
    points = aws.call("GET", "/v1/members/m-1").json()["points"]
    assert (points["available"], points["pending"]) == (200, 200)
    page = aws.call("GET", "/v1/members/m-1/ledger?limit=2").json()
    assert [e["type"] for e in page["entries"]] == ["clawback", "earn"]
    assert page["entries"][0]["pending"] == -100 and page["entries"][0]["refs"] == {"order_id": "o-m-1-o1"}
    rest = aws.call("GET", f"/v1/members/m-1/ledger?cursor={page['next_cursor']}").json()
    assert [e["type"] for e in rest["entries"]] == ["earn"] and rest["next_cursor"] is None
    assert aws.call("GET", "/v1/members/m-1/ledger?cursor=garbage").status == 400


def test_adjustments_need_the_admin_key_and_a_reason(aws: Env) -> None:
    body = {"adjustment_id": "adj-1", "points": 75, "reason": "goodwill for a late parcel"}
    assert aws.call("POST", "/v1/members/m-9/adjustments", body).status == 403  # storefront key
    done = aws.call("POST", "/v1/members/m-9/adjustments", body, key=ADMIN_KEY)
    assert done.status == 201 and done.json()["balance"]["available"] == 75
    assert aws.call("POST", "/v1/members/m-9/adjustments", body, key=ADMIN_KEY).json() == done.json()
    no_reason = aws.call("POST", "/v1/members/m-9/adjustments", {**body, "reason": ""}, key=ADMIN_KEY)
    assert no_reason.status == 400
    entry = aws.call("GET", "/v1/members/m-9/ledger").json()["entries"][0]
    assert entry["type"] == "adjust" and entry["reason"] == "goodwill for a late parcel"


def test_estimate_writes_nothing(aws: Env) -> None:
    order = {
        "currency": "CNY",
        "total": "99.90",
        "items": [{"sku": "s", "quantity": 1, "unit_price": "99.90"}],
    }
    found = aws.call("POST", "/v1/points/estimate", {"member_id": "m-5", "order": order})
    assert found.status == 200
    assert found.json()["order_points"] == 99 and found.json()["points"] == 299  # + first-order bonus
    assert aws.call("GET", "/v1/members/m-5").status == 404
    assert (
        aws.call("POST", "/v1/points/estimate", {"member_id": "m-5", "order": {**order, "total": 5}}).status
        == 400
    )


class _Running:
    """A Lambda context whose invocation has ``left_ms`` milliseconds left."""

    def __init__(self, left_ms: int) -> None:
        self.left_ms = left_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.left_ms


def test_the_sweep_stops_before_its_time_runs_out_and_the_next_run_catches_up(aws: Env) -> None:
    from loyalty.jobs import ScheduledInvocation
    from loyalty.timeutil import iso
    from points.schedule import RESERVE_MS, run_sweep

    for member in ("m-1", "m-2", "m-3"):
        _earn(aws, member)
    invocation = ScheduledInvocation(job="points_sweep", scheduled_time=iso(aws.now + timedelta(days=15)))
    short = run_sweep(invocation, _Running(RESERVE_MS - 1))
    assert (short.members, short.deferred) == (0, True)
    assert aws.call("GET", "/v1/members/m-1").json()["points"]["pending"] == 300
    full = run_sweep(invocation, _Running(RESERVE_MS + 60_000))
    assert (full.members, full.commits, full.deferred) == (3, 3, False)
    for member in ("m-1", "m-2", "m-3"):
        assert aws.call("GET", f"/v1/members/{member}").json()["points"]["pending"] == 0


def test_fifty_five_lapsed_holds_never_wedge_the_member(aws: Env) -> None:
    seed = {"adjustment_id": "seed", "points": 100, "reason": "opening balance"}
    assert aws.call("POST", "/v1/members/m-1/adjustments", seed, key=ADMIN_KEY).status == 201
    for n in range(55):
        hold = {"redemption_id": f"h-{n}", "points": 1, "hold": True}
        assert aws.call("POST", "/v1/members/m-1/redemptions", hold).status == 201
    later = aws.now + timedelta(hours=1)
    spend = {"redemption_id": "r-1", "points": 5}
    done = aws.call("POST", "/v1/members/m-1/redemptions", spend, at=later)
    assert done.status == 201, done.body  # 55 lapses and the redemption, in two transactions
    assert done.json()["balance"] == {"available": 95, "pending": 0, "held": 0}
    assert aws.run_job("PointsSweep", "points_sweep", later)["failed"] == 0
