"""Faults AWS produces and moto does not (TransactionConflict, the three throttling
errors, timeouts before and after a write is applied), injected into the DynamoDB
calls of every points and ingest handler: nothing is lost or applied twice, a
conflict or a throttle is never a 500, and a record that keeps failing is reported
as a batch item failure."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from infra.definitions import FUNCTIONS
from tests.conftest import API_KEY, Env, HttpResult, order_event, registration
from tests.faults import KINDS, Faults

pytestmark = pytest.mark.integration

ADMIN_KEY = f"admin-{API_KEY}"
FAULTED = {fn.logical_id for fn in FUNCTIONS if fn.handler.split(".")[0] in ("ingest", "points")}


@pytest.fixture
def faults(aws: Env) -> Iterator[Faults]:
    injected = Faults(rate=0.2, seed=20261201, functions=FAULTED).install()
    yield injected
    injected.uninstall()


def _send(aws: Env, method: str, path: str, body: Any = None, key: str = API_KEY) -> HttpResult:
    """A storefront that resends on 503 and 429 (what Retry-After asks for); anything else is final.
    Each request a second after the last, as the storefront's rate limit counts by second."""
    for _ in range(40):
        aws.now += timedelta(seconds=1)
        response = aws.call(method, path, body, key=key)
        assert response.status != 500 and response.status < 502 or response.status == 503, response.body
        if response.status not in (429, 503):
            return response
        assert {k.lower(): v for k, v in response.headers.items()}.get("retry-after") == "1"
    raise AssertionError(f"{method} {path} stayed busy")


def _refund(event_id: str, member: str, order_id: str, amount: str) -> dict[str, Any]:
    data = {"order_id": order_id, "refund_id": event_id, "amount": amount}
    return {
        "event_id": event_id,
        "type": "order.refunded",
        "occurred_at": "2026-03-10T10:00:00Z",
        "member_id": member,
        "channel": "store",
        "data": data,
    }


def _run_job(aws: Env, function_id: str, job: str, at: Any) -> dict[str, Any]:
    """A scheduled run that fails is retried (EventBridge Scheduler and Lambda's async retries)."""
    for _ in range(10):
        try:
            result: dict[str, Any] = aws.run_job(function_id, job, at)
            return result
        except Exception:  # noqa: BLE001, S112 - the scheduler retries a failed run
            continue
    raise AssertionError(f"{job} kept failing")


def test_faults_never_lose_or_double_apply_and_are_never_a_500(aws: Env, faults: Faults) -> None:
    cancelled = {
        "event_id": "c-2",
        "type": "order.cancelled",
        "occurred_at": "2026-03-10T10:00:00Z",
        "member_id": "m-2",
        "channel": "store",
        "data": {"order_id": "o-c"},
    }
    a = order_event("a", "m-1", "300.00")
    events = [
        registration("reg-1", "m-1"),
        registration("reg-2", "m-2"),
        a,
        {**order_event("a-resent", "m-1", "300.00"), "data": a["data"]},  # the same order again
        order_event("b", "m-1", "200.00"),
        {**order_event("c", "m-2", "500.00"), "data": {**order_event("c", "m-2", "500.00")["data"]}},
        _refund("rf-a", "m-1", "o-a", "100.00"),
    ]
    events[5]["data"]["order_id"] = "o-c"
    for n in range(20):  # a busy member: every order reported twice, every other one refunded in full
        order = order_event(f"m3-{n}", "m-3", "50.00")
        events += [order, {**order_event(f"m3-{n}-again", "m-3", "50.00"), "data": order["data"]}]
    events += [_refund(f"m3-rf-{n}", "m-3", f"o-m3-{n}", "50.00") for n in range(0, 20, 2)]
    for event in events:
        assert _send(aws, "POST", "/v1/events", event).status in (200, 202)
    pump = aws.pump()
    pump.drain()
    assert _send(aws, "POST", "/v1/events", cancelled).status in (200, 202)  # 200: a lost reply, resent
    pump.drain()
    ops = [
        ("/v1/members/m-1/redemptions", {"redemption_id": "r1", "points": 50}),
        ("/v1/members/m-1/redemptions", {"redemption_id": "h1", "points": 100, "hold": True}),
        ("/v1/members/m-1/redemptions/h1/confirm", None),
        ("/v1/members/m-2/redemptions", {"redemption_id": "h2", "points": 50, "hold": True}),
        ("/v1/members/m-2/redemptions/h2/cancel", None),
    ]
    for path, body in ops:
        assert _send(aws, "POST", path, body).status in (200, 201)
    adjustment = {"adjustment_id": "adj-1", "points": 25, "reason": "goodwill"}
    assert _send(aws, "POST", "/v1/members/m-2/adjustments", adjustment, key=ADMIN_KEY).status in (200, 201)
    assert _send(aws, "PUT", "/v1/members/m-1", {"name": "Ann Li"}).status == 200
    storefront = {"storefront_id": "pos-1", "name": "Store", "channel": "store"}
    created = _send(aws, "POST", "/v1/admin/storefronts", storefront, key=ADMIN_KEY)
    assert created.status in (201, 409)  # 409: created, the reply lost, and sent again
    pump.drain()
    _run_job(aws, "PointsSweep", "points_sweep", aws.now + timedelta(days=16))
    _run_job(aws, "MemberRefresh", "refresh_members", aws.now + timedelta(days=16))
    aws.now += timedelta(days=16)

    one = _send(aws, "GET", "/v1/members/m-1").json()
    two = _send(aws, "GET", "/v1/members/m-2").json()
    # m-1: sign-up 100 + first order 200; orders 300 (100 refunded) and 200 released; 50 + 100 spent
    assert (one["points"]["available"], one["points"]["pending"], one["points"]["held"]) == (550, 0, 0)
    assert (one["stats"]["orders_count"], one["stats"]["total_spend"]) == (2, "400.00")
    assert one["profile"]["name"] == "Ann Li"
    # m-2: sign-up 100; its only order cancelled (bonus taken back); a hold cancelled; +25
    assert (two["points"]["available"], two["points"]["pending"], two["points"]["held"]) == (125, 0, 0)
    assert (two["stats"]["orders_count"], two["stats"]["total_spend"]) == (0, "0.00")
    three = _send(aws, "GET", "/v1/members/m-3").json()
    # m-3: ten orders of 50 kept; the first-order bonus went with the refunded first order
    assert (three["points"]["available"], three["points"]["pending"], three["points"]["held"]) == (500, 0, 0)
    assert (three["stats"]["orders_count"], three["stats"]["total_spend"]) == (10, "500.00")
    for member, view in (("m-1", one), ("m-2", two), ("m-3", three)):
        entries = aws.table("LOYALTY_TABLE").query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :l)",
            ExpressionAttributeValues={":pk": f"T#demo#M#{member}", ":l": "L#"},
        )["Items"]
        keys = Counter(str(e["key"]) for e in entries)
        assert not [k for k, n in keys.items() if n > 1], keys  # no operation applied twice
        points = view["points"]
        assert (
            sum(int(e["points"]) for e in entries) == points["available"] + points["pending"] + points["held"]
        )
    assert sum(s["dead_lettered"] for s in pump.stats()) == 0
    print(f"faults injected: {dict(faults.injected)} in {faults.calls} DynamoDB calls")
    assert set(faults.injected) == set(KINDS), faults.injected
    assert sum(faults.injected.values()) >= 60, faults.injected


def test_a_record_that_keeps_failing_is_a_batch_item_failure(aws: Env) -> None:
    aws.call(
        "POST", "/v1/events", {"events": [order_event("g", "m-good", "10"), order_event("b", "m-bad", "10")]}
    )
    pump = aws.pump()
    sub = next(sub for sub in pump.subscriptions if sub.function.logical_id == "PointsEarn")
    pump._fetch(sub)
    batch = {"Records": list(sub.buffer)}
    bad = next(r["dynamodb"]["SequenceNumber"] for r in batch["Records"] if "m-bad" in json.dumps(r))

    def only_bad(operation: str, params: dict[str, Any]) -> bool:
        return "m-bad" in json.dumps(params)

    faults = Faults(
        rate=1.0, seed=1, functions={"PointsEarn"}, kinds=("throttling",), when=only_bad
    ).install()
    try:
        from infra.local.runtime import invoke

        fn = next(f for f in FUNCTIONS if f.logical_id == "PointsEarn")
        response = invoke(fn, aws.handlers["PointsEarn"], batch)
    finally:
        faults.uninstall()
    assert response == {"batchItemFailures": [{"itemIdentifier": bad}]}
    assert faults.injected["throttling"] >= 10  # the whole retry budget, then reported
    good = aws.call("GET", "/v1/members/m-good")
    assert good.json()["points"]["pending"] == 10, good
    assert aws.call("GET", "/v1/members/m-bad").status == 404  # nothing written: it is redelivered whole
