"""Points expiring soon: computed by the points function at every write of the
balance (ledger operations and the sweep), stored with it, and shown by the
member view as stored (moto)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from loyalty import keys
from tests.conftest import TENANT, Env, order_event

pytestmark = pytest.mark.integration

# An order of 2026-03-10 (Berlin) earns into the lot expiring on 2027-03-10; with a
# 30-day notice window, that lot enters the window on 2027-02-08 (Berlin), which
# begins at 2027-02-07T23:00Z.
LOT = "2027-03-10"
ENTERS_WINDOW = datetime(2027, 2, 7, 23, 0, tzinfo=UTC)


def _balance(aws: Env, member: str = "m-1") -> dict[str, Any]:
    item = aws.table("LOYALTY_TABLE").get_item(
        Key={"pk": keys.member_pk(TENANT, member), "sk": keys.BALANCE_SK}, ConsistentRead=True
    )["Item"]
    return dict(item)


def _expiring(aws: Env, at: datetime) -> Any:
    return aws.call("GET", "/v1/members/m-1", at=at).json()["points"]["expiring"]


def test_a_lot_entering_the_notice_window_is_listed_after_the_sweep_and_gone_once_expired(
    aws: Env,
) -> None:
    aws.call("POST", "/v1/events", order_event("o1", "m-1", "300.00"))
    aws.pump().drain()
    assert _balance(aws)["expiring"] == {}  # the first-order bonus's lot is a year away
    aws.run_job("PointsSweep", "points_sweep", aws.now + timedelta(days=15))  # 300 released
    assert _balance(aws)["expiring"] == {}
    # The due index wakes the sweep the instant the lot enters the window.
    assert _balance(aws)["gsi1sk"].startswith("2027-02-07T23:00:00")
    swept = aws.run_job("PointsSweep", "points_sweep", ENTERS_WINDOW)
    assert (swept["members"], swept["commits"]) == (1, 1)
    assert _balance(aws)["expiring"] == {LOT: 500}
    assert _expiring(aws, ENTERS_WINDOW + timedelta(minutes=1)) == [{"points": 500, "expires_on": LOT}]
    expired_at = datetime(2027, 3, 9, 23, 0, tzinfo=UTC)  # 2027-03-10 begins in Berlin
    aws.run_job("PointsSweep", "points_sweep", expired_at)
    assert _balance(aws)["expiring"] == {}
    member = aws.call("GET", "/v1/members/m-1", at=expired_at).json()
    assert (member["points"]["available"], member["points"]["expiring"]) == (0, [])


def test_every_ledger_write_stores_the_lots_in_the_window_as_of_that_write(aws: Env) -> None:
    aws.call("POST", "/v1/events", order_event("o1", "m-1", "300.00"))
    aws.pump().drain()
    aws.run_job("PointsSweep", "points_sweep", ENTERS_WINDOW)  # release, then the notice
    redeem = {"redemption_id": "r-1", "points": 120}
    inside = ENTERS_WINDOW + timedelta(days=1)
    assert aws.call("POST", "/v1/members/m-1/redemptions", redeem, at=inside).status == 201
    assert _balance(aws)["expiring"] == {LOT: 380}
    assert _expiring(aws, inside) == [{"points": 380, "expires_on": LOT}]


def test_the_member_view_shows_what_the_points_function_stored(aws: Env) -> None:
    aws.call("POST", "/v1/events", order_event("o1", "m-1", "300.00"))
    aws.pump().drain()
    table = aws.table("LOYALTY_TABLE")
    key = {"pk": keys.member_pk(TENANT, "m-1"), "sk": keys.BALANCE_SK}
    table.update_item(
        Key=key,
        UpdateExpression="SET expiring = :e",
        ExpressionAttributeValues={":e": {"2026-03-20": 7, "2026-03-15": 3}},
    )
    # Not derived from the lots by the view: listed as stored, soonest first.
    assert _expiring(aws, aws.now) == [
        {"points": 3, "expires_on": "2026-03-15"},
        {"points": 7, "expires_on": "2026-03-20"},
    ]
    table.update_item(Key=key, UpdateExpression="REMOVE expiring")
    assert _expiring(aws, aws.now + timedelta(days=340)) == []  # written before it was stored
