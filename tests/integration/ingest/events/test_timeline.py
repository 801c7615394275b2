"""GET /v1/members/{id}/events: the member's timeline, newest first, paginated."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest

from tests.conftest import OTHER_API_KEY, Env, order_event, registration

pytestmark = pytest.mark.integration


def _seed(aws: Env) -> None:
    events = [registration("r-1", "ann", at="2026-03-01T09:00:00Z")]
    events += [order_event(f"o-{i}", "ann", "5.00", at=f"2026-03-0{2 + i}T09:00:00Z") for i in range(5)]
    events.append(order_event("other", "bob", "1.00"))
    assert aws.call("POST", "/v1/events", {"events": events}).status == 200


def test_pages_walk_the_whole_timeline_newest_first(aws: Env) -> None:
    _seed(aws)
    seen: list[str] = []
    path = "/v1/members/ann/events?limit=2"
    while True:
        page = aws.call("GET", path).json()
        seen += [e["event_id"] for e in page["events"]]
        if not page["next_cursor"]:
            break
        path = f"/v1/members/ann/events?limit=2&cursor={page['next_cursor']}"
    assert seen == ["o-4", "o-3", "o-2", "o-1", "o-0", "r-1"]
    first = aws.call("GET", "/v1/members/ann/events").json()["events"][0]
    assert first == {
        "event_id": "o-4",
        "type": "order.placed",
        "occurred_at": "2026-03-06T09:00:00.000Z",
        "channel": "web",
        "storefront_id": "demo-web",
        "data": first["data"],
    }


def test_a_cursor_from_another_member_or_tenant_is_rejected(aws: Env) -> None:
    _seed(aws)
    cursor = aws.call("GET", "/v1/members/ann/events?limit=1").json()["next_cursor"]
    assert aws.call("GET", f"/v1/members/bob/events?cursor={cursor}").status == 400
    rival = aws.call("GET", f"/v1/members/ann/events?cursor={cursor}", key=OTHER_API_KEY)
    assert rival.status == 400 and rival.json()["error"]["code"] == "invalid_cursor"
    assert aws.call("GET", "/v1/members/ann/events", key=OTHER_API_KEY).json()["events"] == []


@pytest.mark.parametrize(
    "cursor",
    [
        "not-base64!",
        base64.urlsafe_b64encode(b"[1,2]").decode(),
        base64.urlsafe_b64encode(json.dumps({"gsi1pk": "x"}).encode()).decode(),
    ],
)
def test_garbage_cursors_and_limits_are_400(aws: Env, cursor: str) -> None:
    assert aws.call("GET", f"/v1/members/ann/events?cursor={cursor}").status == 400
    assert aws.call("GET", "/v1/members/ann/events?limit=0").status == 400
    assert aws.call("GET", "/v1/members/ann/events?limit=101").status == 400


def test_numbers_in_event_data_come_back_as_json_numbers(aws: Env) -> None:
    big = order_event("big", "cat", "1200.00")
    big["data"]["items"][0]["quantity"] = 2
    big["data"]["items"][0]["unit_price"] = "600.00"
    assert aws.call("POST", "/v1/events", big).status == 202
    aws.pump().drain()
    # The sweep releases the points after the return window and records the tier change
    aws.run_job("PointsSweep", "points_sweep", aws.now + timedelta(days=16))
    events = {e["type"]: e for e in aws.call("GET", "/v1/members/cat/events").json()["events"]}
    assert events["order.placed"]["data"]["items"][0]["quantity"] == 2
    assert events["order.placed"]["data"]["total"] == "1200.00"  # money stays a decimal string
    changed = events["points.tier_changed"]["data"]
    assert isinstance(changed["qualifying_points"], int) and changed["qualifying_points"] >= 1000
