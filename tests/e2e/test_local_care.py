"""A manager's care rule over HTTP against the local stack: written with the admin key,
backtested, fired by a storefront's event when the clock moves, its event on the care
bus (``/_local/care-events``) and its entry in the member's send ledger."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import order_event, registration
from tests.e2e.conftest import LocalClient, running_stack

pytestmark = pytest.mark.e2e

ADMIN = "local-admin-key"
RULE = {
    "name": "Tell the CRM about orders of 300 or more",
    "trigger": {"type": "event", "event_type": "order.placed"},
    "conditions": {"all": [{"field": "event.data.total", "op": "gte", "value": 300}]},
    "actions": [{"type": "event", "detail_type": "care.big-order"}],
}


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalClient]:
    """A stack of its own: this test moves the clock, which the shared stack's tests read."""
    with running_stack(tmp_path_factory.mktemp("care-outbox")) as client:
        yield client


def test_a_rule_written_backtested_and_fired_over_http(local: LocalClient) -> None:
    status, saved = local.request("PUT", "/v1/admin/care-rules/e2e-big-order", RULE, key=ADMIN)
    assert status in (200, 201), saved
    now = local.request("GET", "/_local/clock", key=None)[1]["now"]
    status, backtest = local.request(
        "POST",
        "/v1/admin/care-rules/e2e-big-order/backtest",
        {"from": "2026-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"},
        key=ADMIN,
    )
    assert status == 200 and backtest["version"] == saved["version"], backtest
    assert local.request("POST", "/v1/events", registration("e2e-care-r1", "e2e-care-ann", at=now))[0] == 202
    order = order_event("e2e-care-o1", "e2e-care-ann", "320.00", at=now)
    assert local.request("POST", "/v1/events", order)[0] == 202
    status, clock = local.request("POST", "/_local/clock", {"advance": "PT10M"}, key=None)
    assert status == 200 and all(run["ok"] for run in clock["ran"]), clock
    events = local.request("GET", "/_local/care-events", key=None)[1]["events"]
    mine = [e for e in events if e["detail"]["member_id"] == "e2e-care-ann"]
    assert [(e["source"], e["detail-type"], e["detail"]["rule_id"]) for e in mine] == [
        ("loyalty.care", "care.big-order", "e2e-big-order")
    ]
    ledger = local.request("GET", "/v1/members/e2e-care-ann/care")[1]["entries"]
    assert {(e["rule_id"], e["outcome"]) for e in ledger} >= {("e2e-big-order", "event")}
