"""Items that grow with configuration, not volume: one member placing 1,000 orders a
day for 20 days (a point-of-sale guest id, a B2B buyer). Every operation succeeds
and no item of that member exceeds 64 KB, measured the way DynamoDB counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from boto3.dynamodb.types import TypeSerializer

from bench.meter import item_size
from ingest.members import projection
from ingest.members.repository import _stats_item, order_facts_item
from loyalty.program import ProgramConfig
from loyalty.timeutil import iso
from points import logic
from points.repository import balance_item, order_item, redemption_item
from tests.unit.points.ledger_memory import MemoryStore

pytestmark = pytest.mark.unit

TZ = ZoneInfo("Asia/Shanghai")
T, M = "demo", "pos-guest"
LIMIT = 64 * 1024
ORDERS_PER_DAY = 1_000
DAYS = 20
_SERIALIZER = TypeSerializer()


def _size(item: dict[str, Any]) -> int:
    return item_size({k: _SERIALIZER.serialize(v) for k, v in item.items() if v is not None})


def test_a_member_with_a_thousand_orders_a_day_stays_within_64_kb() -> None:
    program = ProgramConfig()
    store = MemoryStore()
    start = datetime(2026, 3, 1, 0, 30, tzinfo=UTC)
    stats = projection.MemberStats()
    largest: dict[str, int] = {}

    def measure(name: str, item: dict[str, Any]) -> None:
        largest[name] = max(largest.get(name, 0), _size(item))

    for day in range(DAYS):
        for n in range(ORDERS_PER_DAY):
            now = start + timedelta(days=day, seconds=60 * n)
            ctx = logic.Context(store, program.points, TZ, now, sleep=lambda s: None, program=program)
            order_id = f"o-{day:02d}-{n:04d}"
            assert logic.order_placed(ctx, T, M, order_id, Decimal("12.50"), [], iso(now)).applied
            stats = projection.apply_order(stats, iso(now), Decimal("12.50"), program.order_window_days)
            if n % 100 == 0:  # a refund, a redemption and a hold now and then
                assert logic.order_refunded(ctx, T, M, order_id, "rf", Decimal("5")).applied
                facts = projection.OrderFacts(order_id, True, iso(now), "CNY", Decimal("12.50"))
                refunded = projection.order_event(
                    facts, "order.refunded", {"refund_id": "rf", "amount": "5"}, iso(now), "CNY"
                )
                assert refunded is not None
                before = projection.contribution(facts, "CNY", program.convert)
                after = projection.contribution(refunded, "CNY", program.convert)
                stats = projection.apply_order_change(
                    stats, before, after, iso(now), program.order_window_days
                )
                measure("OS#order", order_facts_item("pk", "OS#o", refunded))
                account = store.book(T, M).account
                if account.available >= 20:
                    assert logic.redeem(ctx, T, M, f"r-{order_id}", 10, hold=False).applied
                    assert logic.redeem(ctx, T, M, f"h-{order_id}", 10, hold=True).applied
        book = store.book(T, M)
        measure("#BALANCE", balance_item(T, M, book.account, book.next_due, iso(now)))
        stats_item = _stats_item(T, M, stats, iso(start), None, now, program)
        measure("#STATS", stats_item)
    book = store.book(T, M)
    for order in list(book.orders.values())[-50:]:
        measure("O#order", order_item(T, M, order))
    for redemption in list(book.redemptions.values())[-50:]:
        measure("R#redemption", redemption_item(T, M, redemption))
    assert stats.orders_count == ORDERS_PER_DAY * DAYS
    assert len(book.account.pending) <= program.points.pending_days + 1
    print("largest items (bytes):", largest)
    assert all(size <= LIMIT for size in largest.values()), largest
    # The bound does not move with volume: the last days measure like the first ones.
    assert largest["#BALANCE"] < 8 * 1024, largest
    assert largest["#STATS"] < 32 * 1024, largest
