"""The counters of loyalty-table changes (reports.record_counts), on hand-computed items,
and the order and registration state of the rollups (reports.orders)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from reports import orders, record_counts
from reports.orders import OrderState

pytestmark = pytest.mark.unit

TZ = ZoneInfo("Asia/Shanghai")


def _entry(entry_type: str, points: int, at: str = "2026-03-10T17:00:00Z") -> dict[str, object]:
    return {"kind": "ledger", "entry_type": entry_type, "points": Decimal(points), "at": at}


def test_ledger_entries_count_their_flow_and_the_net_on_the_local_day() -> None:
    # 17:00 UTC is 01:00 on 11 March in Shanghai
    assert record_counts.ledger_counts(None, _entry("earn", 120), TZ) == {
        ("D2026-03-11", "points_issued"): 120,
        ("M2026-03", "points_issued"): 120,
        ("D2026-03-11", "points_net"): 120,
        ("T", "points_net"): 120,
    }
    redeemed = record_counts.ledger_counts(None, _entry("redeem", -50), TZ)
    assert redeemed[("D2026-03-11", "points_redeemed")] == 50 and redeemed[("T", "points_net")] == -50
    assert (
        record_counts.ledger_counts(None, _entry("adjust", -20), TZ)[("D2026-03-11", "points_adjusted")]
        == -20
    )
    assert record_counts.ledger_counts(None, _entry("hold", 0), TZ) == {}  # available -> held: no net change
    assert record_counts.ledger_counts(_entry("earn", 5), _entry("earn", 5), TZ) == {}  # never rewritten


def test_flows_add_up_to_the_net_change() -> None:
    entries = [
        _entry(t, p)
        for t, p in (("earn", 300), ("redeem", -50), ("expire", -30), ("clawback", -40), ("adjust", 15))
    ]
    total = orders.merge(*(record_counts.ledger_counts(None, e, TZ) for e in entries))
    day = "D2026-03-11"
    net = (
        total[(day, "points_issued")]
        - total[(day, "points_redeemed")]
        - total[(day, "points_expired")]
        - total[(day, "points_clawed_back")]
        + total[(day, "points_adjusted")]
    )
    assert net == total[(day, "points_net")] == 195


def test_stage_and_tier_changes_move_the_stocks_and_count_the_direction() -> None:
    old = {"kind": "stats", "lifecycle_stage": "new", "state_at": "2026-03-10T01:00:00Z"}
    new = {**old, "lifecycle_stage": "active", "state_at": "2026-03-12T01:00:00Z"}
    assert record_counts.stage_counts(old, new, TZ) == {
        ("D2026-03-12", "stage_active"): 1,
        ("T", "stage_active"): 1,
        ("D2026-03-12", "stage_new"): -1,
        ("T", "stage_new"): -1,
    }
    assert record_counts.stage_counts(None, old, TZ) == {
        ("D2026-03-10", "stage_new"): 1,
        ("T", "stage_new"): 1,
    }
    assert record_counts.stage_counts(new, {**new, "orders_count": 3}, TZ) == {}
    tiers = ["member", "silver", "gold"]
    up = record_counts.tier_counts(
        {"tier": "member", "updated_at": "2026-03-10T01:00:00Z"},
        {"tier": "gold", "updated_at": "2026-03-10T02:00:00Z"},
        TZ,
        tiers,
    )
    assert (
        up[("D2026-03-10", "tier_upgrades")] == 1
        and up[("T", "tier_gold")] == 1
        and up[("T", "tier_member")] == -1
    )
    down = record_counts.tier_counts(
        {"tier": "gold", "updated_at": "2026-03-10T01:00:00Z"},
        {"tier": "silver", "updated_at": "2027-03-10T02:00:00Z"},
        TZ,
        tiers,
    )
    assert down[("D2027-03-10", "tier_downgrades")] == 1
    first = record_counts.tier_counts(
        None, {"tier": "member", "updated_at": "2026-03-10T01:00:00Z"}, TZ, tiers
    )
    assert first == {("D2026-03-10", "tier_member"): 1, ("T", "tier_member"): 1}


def _task(**fields: object) -> dict[str, object]:
    return {
        "kind": "care_task",
        "status": "open",
        "created_at": "2026-03-01T02:00:00Z",
        "due_at": "2026-03-04T02:00:00Z",
        **fields,
    }


def test_tasks_count_created_completed_and_overdue_by_their_due_day() -> None:
    created = record_counts.task_counts(None, _task(), TZ)
    assert created == {("D2026-03-01", "tasks_created"): 1, ("D2026-03-04", "tasks_due"): 1}
    on_time = record_counts.task_counts(_task(), _task(status="done", closed_at="2026-03-03T02:00:00Z"), TZ)
    assert on_time == {("D2026-03-03", "tasks_completed"): 1, ("D2026-03-04", "tasks_on_time"): 1}
    late = record_counts.task_counts(_task(), _task(status="done", closed_at="2026-03-05T02:00:00Z"), TZ)
    assert late == {("D2026-03-05", "tasks_completed"): 1}  # done, but overdue: due 1, on time 0
    dismissed = record_counts.task_counts(
        _task(), _task(status="dismissed", closed_at="2026-03-02T02:00:00Z"), TZ
    )
    assert dismissed == {("D2026-03-04", "tasks_due"): -1}  # a dismissed task is not due


def test_care_ledger_lines_count_sends_and_skips_by_reason() -> None:
    line = {"kind": "care_ledger", "at": "2026-03-10T02:00:00Z"}
    assert record_counts.care_ledger_counts(None, {**line, "outcome": "sent"}, TZ) == {
        ("D2026-03-10", "care_sent"): 1
    }
    skipped = record_counts.care_ledger_counts(
        None, {**line, "outcome": "skipped", "reason": "quiet_hours"}, TZ
    )
    assert skipped == {("D2026-03-10", "care_skipped_quiet_hours"): 1}
    assert record_counts.care_ledger_counts(None, {**line, "outcome": "task"}, TZ) == {}


DAY = date(2026, 3, 10)


def test_an_order_counts_once_by_its_earliest_event_and_never_when_cancelled() -> None:
    state = OrderState("o-1")
    later = orders.apply_order_event(state, "order.placed", "2026-03-10T09:00Z#b", DAY, {}, Decimal("10"))
    assert later is not None
    assert (
        orders.apply_order_event(later, "order.placed", "2026-03-10T09:00Z#b", DAY, {}, Decimal("10")) is None
    )
    earlier = orders.apply_order_event(
        later, "order.placed", "2026-03-10T08:00Z#a", date(2026, 3, 9), {}, Decimal("12")
    )
    assert earlier is not None and earlier.day == date(2026, 3, 9)
    assert orders.order_counts(earlier)[("D2026-03-09", "gross")] == Decimal("12")
    refunded = orders.apply_order_event(earlier, "order.refunded", "k", DAY, {"refund_id": "r"}, Decimal("2"))
    assert refunded is not None and orders.order_counts(refunded)[("D2026-03-10", "refund_amount")] == 2
    cancelled = orders.apply_order_event(refunded, "order.cancelled", "k2", DAY, {}, None)
    assert cancelled is not None and orders.order_counts(cancelled) == {}  # its refund is out too
    assert orders.apply_order_event(cancelled, "order.cancelled", "k3", DAY, {}, None) is None
    tombstone = orders.apply_order_event(OrderState("o-2"), "order.cancelled", "k", DAY, {}, None)
    assert tombstone is not None
    placed = orders.apply_order_event(tombstone, "order.placed", "k0", DAY, {}, Decimal("5"))
    assert placed is not None and orders.order_counts(placed) == {}  # cancelled first: never counts


def test_an_order_without_a_rate_counts_but_adds_no_amount() -> None:
    placed = orders.apply_order_event(OrderState("o"), "order.placed", "k", DAY, {}, None)
    assert placed is not None
    counts = orders.order_counts(placed)
    assert counts[("D2026-03-10", "orders")] == 1 and counts[("D2026-03-10", "unconverted")] == 1
    assert ("D2026-03-10", "gross") not in counts


def test_the_member_days_follow_the_counted_orders() -> None:
    before = OrderState("o")
    after = orders.apply_order_event(before, "order.placed", "k", DAY, {}, Decimal(1))
    assert after is not None
    days = orders.day_change({DAY: 1}, before, after)
    assert days == {DAY: 2}
    cancelled = orders.apply_order_event(after, "order.cancelled", "c", DAY, {}, None)
    assert cancelled is not None
    assert orders.day_change(days, after, cancelled) == {DAY: 1}
    assert orders.day_change({DAY: 1}, after, cancelled) == {}
