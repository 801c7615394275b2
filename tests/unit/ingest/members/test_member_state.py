"""The member's derived state and when it next changes (pure: no AWS)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from infra.definitions import FUNCTIONS
from ingest.events import logic
from ingest.events.models import EventIn
from ingest.members import segments
from ingest.members.projection import MemberStats, apply_order
from ingest.members.state import MemberState, StageChange, derive, next_change_at, refresh
from ingest.members.view import build_view
from loyalty import keys
from loyalty.program import ProgramConfig
from loyalty.timeutil import iso

pytestmark = pytest.mark.unit

CONFIG = ProgramConfig.model_validate(
    yaml.safe_load((Path(__file__).resolve().parents[4] / "config" / "program.yaml").read_text())
)
# Another window and overlapping thresholds, so the property check covers more than the shipped file.
WIDER = CONFIG.model_copy(
    update={
        "tags": [
            *CONFIG.tags,
            CONFIG.tags[0].model_copy(update={"name": "regular", "min_orders": 3, "within_days": 60}),
        ],
        "lifecycle": CONFIG.lifecycle.model_copy(update={"new_days": 100}),
    }
)
T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
MS = timedelta(milliseconds=1)
DAY = timedelta(days=1)
BERLIN = ZoneInfo("Europe/Berlin")


def _stats(*orders: datetime, total: str = "50.00", config: ProgramConfig = CONFIG) -> MemberStats:
    stats = MemberStats()
    for moment in orders:
        stats = apply_order(stats, iso(moment), Decimal(total), config.order_window_days)
    return stats


def _chain(
    stats: MemberStats, registered_at: str | None, now: datetime, config: ProgramConfig = CONFIG
) -> list[tuple[datetime, MemberState]]:
    """Every change from ``now`` on, by following next_change_at."""
    found = [(now, derive(stats, registered_at, now, config))]
    at = now
    while (following := next_change_at(stats, registered_at, at, config)) is not None:
        at = following
        found.append((at, derive(stats, registered_at, at, config)))
    return found


# Derivation -----------------------------------------------------------------


def test_derive_agrees_with_the_member_view() -> None:
    stats = _stats(T0, T0 + 8 * DAY, total="600.00")
    now = T0 + 9 * DAY
    items: dict[str, dict[str, Any]] = {
        keys.PROFILE_SK: {"registered_at": iso(T0 - DAY)},
        keys.STATS_SK: {
            "orders_count": stats.orders_count,
            "total_spend": stats.total_spend,
            "first_order_at": stats.first_order_at,
            "last_order_at": stats.last_order_at,
            "order_days": [{"first": d.first, "last": d.last, "n": d.count} for d in stats.recent_orders],
        },
    }
    view = build_view("m-1", items, now, CONFIG)
    assert view is not None
    state = derive(stats, iso(T0 - DAY), now, CONFIG)
    assert state.lifecycle_stage == view.lifecycle_stage == "active"
    assert list(state.tags) == view.tags == ["vip", "big-spender"]
    assert state.orders_last_30_days == view.stats.orders_last_30_days == 2
    assert state.rfm is not None and view.rfm is not None
    assert (state.rfm.recency, state.rfm.frequency, state.rfm.monetary, state.rfm.segment) == (
        view.rfm.recency,
        view.rfm.frequency,
        view.rfm.monetary,
        view.rfm.segment,
    )


# Next change: boundaries -------------------------------------------------------


def test_one_order_changes_just_after_each_threshold() -> None:
    stats = _stats(T0)
    chain = _chain(stats, None, T0 + timedelta(hours=1))
    assert [(at - T0, state.lifecycle_stage) for at, state in chain] == [
        (timedelta(hours=1), "new"),
        (30 * DAY + MS, "active"),  # new_days; also leaves the 30-day count and recency 5 -> 4
        (60 * DAY + MS, "active"),  # recency 4 -> 3
        (90 * DAY + MS, "at-risk"),  # active_days
        (120 * DAY + MS, "at-risk"),  # recency 3 -> 2
        (180 * DAY + MS, "lapsed"),  # lapsed_days
        (240 * DAY + MS, "lapsed"),  # recency 2 -> 1
    ]
    assert chain[1][1].orders_last_30_days == 0 and chain[0][1].orders_last_30_days == 1
    # The 365-day frequency window changes nothing for one order (score 1 either way): no step there.
    assert next_change_at(stats, None, T0 + 240 * DAY + MS, CONFIG) is None


@pytest.mark.parametrize("days", [30, 90, 180])
def test_the_due_instant_rederives_to_the_new_state_and_a_moment_before_does_not(days: int) -> None:
    stats = _stats(T0)
    before = T0 + days * DAY - MS
    due = next_change_at(stats, None, before, CONFIG)
    assert due == T0 + days * DAY + MS
    # segments compare with <=: exactly `days` later is still the old state.
    assert derive(stats, None, T0 + days * DAY, CONFIG) == derive(stats, None, before, CONFIG)
    assert derive(stats, None, due, CONFIG) != derive(stats, None, before, CONFIG)


def test_registered_without_orders_is_new_then_lapsed_then_never_changes() -> None:
    registered = iso(T0)
    assert derive(MemberStats(), registered, T0, CONFIG).lifecycle_stage == "new"
    due = next_change_at(MemberStats(), registered, T0, CONFIG)
    assert due == T0 + 30 * DAY + MS
    assert derive(MemberStats(), registered, due, CONFIG).lifecycle_stage == "lapsed"
    assert next_change_at(MemberStats(), registered, due, CONFIG) is None
    assert next_change_at(MemberStats(), None, T0, CONFIG) is None  # nothing to count from


def test_vip_is_dropped_when_the_second_most_recent_order_leaves_the_window() -> None:
    stats = _stats(T0, T0 + 10 * DAY, T0 + 12 * DAY)
    now = T0 + 13 * DAY
    assert derive(stats, None, now, CONFIG).tags == ("vip",)
    changes = [(at, state.tags) for at, state in _chain(stats, None, now)]
    dropped = next(at for at, tags in changes if "vip" not in tags)
    assert dropped == T0 + 10 * DAY + 30 * DAY + MS  # the second-most-recent order leaves
    first_step = changes[1][0]
    assert first_step == T0 + 30 * DAY + MS  # the oldest order leaving lowers the 30-day count only
    assert changes[1][1] == ("vip",)


def test_a_comeback_is_reactivated_until_the_member_drifts_away() -> None:
    stats = _stats(T0 - 300 * DAY, T0)
    chain = _chain(stats, None, T0 + DAY)
    assert [state.lifecycle_stage for _, state in chain][:2] == ["reactivated", "reactivated"]
    assert [s.lifecycle_stage for _, s in chain if s.lifecycle_stage != "reactivated"][0] == "at-risk"


def test_an_order_stamped_after_now_counts_from_its_own_time() -> None:
    stats = _stats(T0 + timedelta(minutes=4))
    now = T0 + timedelta(minutes=1)
    assert derive(stats, None, now, CONFIG).orders_last_30_days == 0
    assert next_change_at(stats, None, now, CONFIG) == T0 + timedelta(minutes=4)
    assert derive(stats, None, T0 + timedelta(minutes=4), CONFIG).orders_last_30_days == 1


def test_orders_are_kept_by_day_and_a_day_counts_from_its_first_order() -> None:
    stats = _stats(T0, T0 + timedelta(minutes=4), T0 + timedelta(hours=5))
    assert len(stats.recent_orders) == 1 and stats.recent_orders[0].count == 3
    assert derive(stats, None, T0 + timedelta(minutes=1), CONFIG).orders_last_30_days == 3
    # The day leaves the 30-day window when its last order does.
    assert derive(stats, None, T0 + 30 * DAY + timedelta(hours=5), CONFIG).orders_last_30_days == 3
    assert derive(stats, None, T0 + 30 * DAY + timedelta(hours=5) + MS, CONFIG).orders_last_30_days == 0


def test_thresholds_past_the_end_of_the_calendar_are_ignored() -> None:
    stats = _stats(datetime(9998, 12, 1, tzinfo=UTC))
    far = CONFIG.model_copy(update={"lifecycle": CONFIG.lifecycle.model_copy(update={"lapsed_days": 900})})
    assert next_change_at(stats, None, datetime(9998, 12, 2, tzinfo=UTC), far) is not None
    assert next_change_at(stats, None, datetime(9999, 12, 30, tzinfo=UTC), far) is None


# Catch-up ---------------------------------------------------------------------


def test_refresh_walks_every_step_due_and_records_stage_changes_at_their_instants() -> None:
    stats = _stats(T0)
    now = T0 + timedelta(hours=1)
    due = next_change_at(stats, None, now, CONFIG)
    assert due is not None
    refreshed = refresh(stats, None, "new", due, T0 + 200 * DAY, CONFIG)
    assert [(c.at - T0, c.before, c.after) for c in refreshed.stage_changes] == [
        (30 * DAY + MS, "new", "active"),
        (90 * DAY + MS, "active", "at-risk"),
        (180 * DAY + MS, "at-risk", "lapsed"),
    ]
    assert refreshed.state == derive(stats, None, T0 + 200 * DAY, CONFIG)
    assert refreshed.next_change_at == T0 + 240 * DAY + MS
    # One step at a time finds the same changes at the same instants.
    stepwise: list[StageChange] = []
    stage = "new"
    at: datetime | None = due
    for until in (T0 + 31 * DAY, T0 + 100 * DAY, T0 + 200 * DAY):
        assert at is not None
        part = refresh(stats, None, stage, at, until, CONFIG)
        stepwise.extend(part.stage_changes)
        stage, at = part.state.lifecycle_stage, part.next_change_at
    assert tuple(stepwise) == refreshed.stage_changes


def test_refresh_before_the_due_time_changes_nothing() -> None:
    stats = _stats(T0)
    due = T0 + 30 * DAY + MS
    refreshed = refresh(stats, None, "new", due, due - MS, CONFIG)
    assert refreshed.stage_changes == () and refreshed.next_change_at == due


# Property: the state is constant until next_change_at and changes there -----------------

_MINUTE = 60_000


@st.composite
def _histories(draw: st.DrawFn) -> tuple[MemberStats, str | None, datetime, ProgramConfig]:
    config = draw(st.sampled_from([CONFIG, WIDER]))
    now = T0 + timedelta(milliseconds=draw(st.integers(0, 400 * 24 * 60 * _MINUTE)))
    offsets = draw(
        st.lists(
            # Orders up to two years back, occasionally a few minutes ahead (intake tolerance).
            st.one_of(st.integers(-730 * 24 * 60 * _MINUTE, 0), st.integers(1, 5 * _MINUTE)),
            max_size=14,
        )
    )
    stats = _stats(*(now + timedelta(milliseconds=o) for o in offsets), config=config)
    registered = draw(st.one_of(st.none(), st.integers(-800 * 24 * 60 * _MINUTE, 0)))
    registered_at = None if registered is None else iso(now + timedelta(milliseconds=registered))
    return stats, registered_at, now, config


def _edges(stats: MemberStats, registered_at: str | None, config: ProgramConfig) -> set[datetime]:
    """Each rule threshold, a millisecond either side."""
    days = segments.idle_limits(config) | segments.order_windows(config)
    order_times = [t for d in stats.recent_orders for t in (d.first, d.last)]
    anchors = [a for a in (stats.last_order_at, registered_at, *order_times) if a]
    found = set()
    for anchor in anchors:
        start = datetime.fromisoformat(anchor)
        for d in days:
            found.update({start + timedelta(days=d) - MS, start + timedelta(days=d), start + d * DAY + MS})
        found.update({start - MS, start})
    return found


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=_histories(), samples=st.lists(st.integers(0, 800 * 24 * 60 * _MINUTE), max_size=25))
@example(history=(_stats(T0, T0 + 10 * DAY), None, T0 + 11 * DAY, CONFIG), samples=[])
@example(history=(MemberStats(), iso(T0), T0, CONFIG), samples=[])
def test_state_is_constant_until_the_next_change_and_changes_there(
    history: tuple[MemberStats, str | None, datetime, ProgramConfig], samples: list[int]
) -> None:
    stats, registered_at, now, config = history
    current = derive(stats, registered_at, now, config)
    upcoming = next_change_at(stats, registered_at, now, config)
    end = upcoming if upcoming is not None else now + timedelta(days=3 * 365)
    assert upcoming is None or upcoming > now
    probes = {now + timedelta(milliseconds=s) for s in samples} | _edges(stats, registered_at, config)
    for probe in sorted(p for p in probes if now <= p < end):
        assert derive(stats, registered_at, probe, config) == current, probe
    if upcoming is None:
        return
    arrivals = {datetime.fromisoformat(d.first) for d in stats.recent_orders}
    changed = derive(stats, registered_at, upcoming, config) != current
    later = next_change_at(stats, registered_at, upcoming, config)
    assert changed or upcoming in arrivals
    assert later is None or later > upcoming


# Timeline events, keys, subscriptions -----------------------------------------------


def test_stage_change_event_is_deterministic() -> None:
    at = T0 + 90 * DAY + MS
    first = logic.stage_changed("demo", "m-1", at, "active", "at-risk", T0 + 91 * DAY, BERLIN)
    again = logic.stage_changed("demo", "m-1", at, "active", "at-risk", T0 + 95 * DAY, BERLIN)
    assert first.event_id == again.event_id == "sys:stage:m-1:2026-05-30T10:00:00.001Z"
    assert first.payload_hash == again.payload_hash
    assert (first.type, first.channel, first.data) == (
        "member.stage_changed",
        "system",
        {"from": "active", "to": "at-risk"},
    )
    assert first.day == "2026-05-30"


def test_storefronts_cannot_send_system_events() -> None:
    body = {
        "event_id": "x-1",
        "type": "member.stage_changed",
        "occurred_at": "2026-03-10T09:00:00Z",
        "member_id": "m-1",
        "channel": "web",
        "data": {"from": "active", "to": "lapsed"},
    }
    with pytest.raises(ValidationError):
        TypeAdapter(EventIn).validate_python(body)
    order = {
        "event_id": "sys:stage:m-1:2026-05-30T10:00:00.001Z",
        "type": "order.placed",
        "occurred_at": "2026-03-10T09:00:00Z",
        "member_id": "m-1",
        "channel": "web",
        "data": {"order_id": "o-1", "currency": "CNY", "total": "10.00"},
    }

    class Store:
        def is_erased(self, tenant_id: str, member_id: str) -> bool:
            return False

        def put_new(self, event: logic.StoredEvent) -> str | None:
            raise AssertionError("a reserved id must not be stored")

    results = logic.ingest_batch(
        [body, order], "demo", datetime(2026, 3, 10, 10, tzinfo=UTC), BERLIN, Store()
    )
    assert [r.status for r in results] == ["rejected", "rejected"]
    assert results[1].errors[0].code == "reserved_event_id"


def test_no_stream_subscription_receives_system_events() -> None:
    """The consumers that apply events to accounts admit none of the system's own. The care
    triggers see every event by design: rules pick the types, and a rule whose actions
    could trigger it again is refused (care_rules.rules.ACTION_CAUSES)."""
    for fn in FUNCTIONS:
        if fn.stream is not None and fn.stream.table == "EventsTable" and fn.logical_id != "CareTriggers":
            assert fn.stream.event_types, f"{fn.logical_id} would receive every event"
            assert not logic.SYSTEM_EVENT_TYPES & set(fn.stream.event_types)


def test_member_due_index_spreads_members_over_every_shard() -> None:
    partitions = {
        keys.member_due_index("demo", f"m-{n}", "2026-03-10T00:00:00.000Z")["gsi1pk"] for n in range(200)
    }
    assert partitions == set(keys.member_due_pks("demo"))
    entry = keys.member_due_index("demo", "m-1", "2026-03-10T00:00:00.000Z")
    assert (
        entry["gsi1pk"].startswith("T#demo#DUE#member#") and entry["gsi1sk"] == "2026-03-10T00:00:00.000Z#m-1"
    )
