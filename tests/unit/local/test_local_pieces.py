"""Local stack pieces that need no AWS: scheduling thinning, routing, stream filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from infra.definitions import INGEST_PROJECTOR, POINTS_EARN
from infra.local.gateway import _compile
from infra.local.pump import matches
from infra.local.scheduler import Clock, thin

pytestmark = pytest.mark.unit


def test_thin_keeps_the_last_occurrence_and_caps_runs() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    times = [start + timedelta(minutes=15 * i) for i in range(96)]
    picked = thin(times, 24)
    assert len(picked) == 24 and picked[-1] == times[-1] and picked == sorted(picked)
    assert thin(times[:5], 24) == times[:5]


def test_clock_only_moves_forward() -> None:
    clock = Clock(datetime(2026, 1, 1, tzinfo=UTC))
    clock.set(datetime(2026, 1, 2, tzinfo=UTC))
    with pytest.raises(ValueError):
        clock.set(datetime(2026, 1, 1, tzinfo=UTC))


def test_route_templates() -> None:
    pattern, names = _compile("/v1/tickets/{ticket_id}/replies")
    found = pattern.match("/v1/tickets/tk_1/replies")
    assert names == ("ticket_id",) and found is not None and found.group("ticket_id") == "tk_1"
    assert pattern.match("/v1/tickets/a/b/replies") is None


def _record(event_type: str) -> dict:
    return {
        "eventName": "INSERT",
        "dynamodb": {"NewImage": {"type": {"S": event_type}, "kind": {"S": "event"}}},
    }


def test_stream_filters_follow_the_definitions() -> None:
    assert POINTS_EARN.stream is not None and INGEST_PROJECTOR.stream is not None
    assert matches(POINTS_EARN.stream, _record("order.placed"))
    assert matches(POINTS_EARN.stream, _record("member.registered"))  # the sign-up bonus
    assert not matches(POINTS_EARN.stream, _record("page.viewed"))
    assert not matches(POINTS_EARN.stream, _record("points.tier_changed"))
    assert matches(INGEST_PROJECTOR.stream, _record("member.registered"))
    assert not matches(POINTS_EARN.stream, {"dynamodb": {}})
    assert not matches(POINTS_EARN.stream, {**_record("order.placed"), "eventName": "MODIFY"})
