"""Property-based proof of the points ledger (hypothesis): random sequences of
orders, refunds, cancellations, redemptions, holds, adjustments, duplicates,
out-of-order arrivals and clock jumps. After every step the stored buckets
equal the sums of the entries, and the stored account equals its ledger replayed
through ``apply`` from an empty account (``tests/unit/points/replay.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyalty.program import NegativeBalance, Points
from points import logic
from points.ledger import InsufficientPoints, InvalidTransition, OrderLine, add_months
from tests.unit.points.ledger_memory import MemoryStore
from tests.unit.points.replay import replay, replayed_state

pytestmark = pytest.mark.unit

TZ = ZoneInfo("Europe/Berlin")
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
T, M = "demo", "m-1"

ORDER_IDS = [f"o{i}" for i in range(4)]
REDEMPTION_IDS = [f"r{i}" for i in range(3)]

amounts = st.decimals(min_value=0, max_value=Decimal("3000"), places=2, allow_nan=False, allow_infinity=False)
command = st.one_of(
    st.tuples(
        st.just("place"), st.sampled_from(ORDER_IDS), amounts, st.sampled_from([None, "shoes", "food"])
    ),
    st.tuples(st.just("refund"), st.sampled_from(ORDER_IDS), st.sampled_from(["a", "b"]), amounts),
    st.tuples(st.just("cancel"), st.sampled_from(ORDER_IDS)),
    st.tuples(
        st.just("redeem"),
        st.sampled_from(REDEMPTION_IDS),
        st.integers(1, 400),
        st.booleans(),
        st.sampled_from([None, *ORDER_IDS]),
    ),
    st.tuples(st.just("confirm"), st.sampled_from(REDEMPTION_IDS)),
    st.tuples(st.just("release"), st.sampled_from(REDEMPTION_IDS)),
    st.tuples(st.just("adjust"), st.sampled_from(["a1", "a2", "a3"]), st.integers(-600, 2000)),
    st.tuples(st.just("bonus"), st.sampled_from(["signup", "review:1", "review:2"])),
    st.tuples(st.just("advance"), st.sampled_from([0.02, 1, 3, 13, 15, 40, 200, 370])),
    st.tuples(st.just("sweep")),
    st.tuples(st.just("again")),  # repeat the previous command: a redelivery or a retried request
)
policies = st.sampled_from([NegativeBalance(), NegativeBalance(policy="allow", cap=500)])


@dataclass
class Run:
    store: MemoryStore
    rules: Points
    now: datetime
    log: list[tuple[datetime, tuple[Any, ...], bool]]

    def ctx(self) -> logic.Context:
        return logic.Context(self.store, self.rules, TZ, self.now, sleep=lambda seconds: None)


def apply(run: Run, cmd: tuple[Any, ...], repeat: bool = False) -> None:
    ctx = run.ctx()
    kind = cmd[0]
    run.log.append((run.now, cmd, repeat))
    try:
        if kind == "place":
            _, order_id, total, category = cmd
            lines = [OrderLine(category, total)] if category else []
            logic.order_placed(ctx, T, M, order_id, total, lines, run.now.isoformat())
        elif kind == "refund":
            logic.order_refunded(ctx, T, M, cmd[1], cmd[2], cmd[3])
        elif kind == "cancel":
            logic.order_cancelled(ctx, T, M, cmd[1])
        elif kind == "redeem":
            _, rid, points, hold, order_id = cmd
            logic.redeem(ctx, T, M, rid, points, hold=hold, order_id=order_id)
        elif kind == "confirm":
            logic.confirm(ctx, T, M, cmd[1])
        elif kind == "release":
            logic.cancel(ctx, T, M, cmd[1])
        elif kind == "adjust":
            logic.adjust(ctx, T, M, cmd[1], cmd[2], "correction", "admin")
        elif kind == "bonus":
            logic.bonus(ctx, T, M, "misc", cmd[1], 50, "bonus")
        elif kind == "advance":
            run.now += timedelta(days=cmd[1])
        elif kind == "sweep":
            logic.sweep(ctx, T, M)
    except (InsufficientPoints, InvalidTransition, logic.UnknownRedemption, logic.RequestConflict):
        pass  # refused requests: checked below to have changed nothing


def check_invariants(run: Run) -> None:
    book = run.store.book(T, M)
    account = book.account
    totals = replay(book.entries)
    assert totals.available == account.available
    assert totals.pending == account.pending_points
    assert totals.held == account.held
    assert totals.debt == account.debt
    assert totals.lifetime == account.lifetime_earned
    assert totals.lots == account.lots  # every lot rebuilt exactly, none consumed beyond its size
    # The stored account is its log replayed (months before the last 12 are pruned, not logged).
    kept_from = add_months(run.now.astimezone(TZ).date().replace(day=1), -12).strftime("%Y-%m")
    assert replayed_state(totals.account, kept_from) == replayed_state(account, kept_from)
    assert all(points > 0 for points in account.lots.values())
    assert account.debt == 0 or not account.lots
    assert account.shortfall == sum(e.unrecovered for e in book.entries) >= 0  # recovered only once
    floor = -run.rules.negative_balance.cap if run.rules.negative_balance.policy == "allow" else 0
    assert account.available >= floor
    assert all(p.points > 0 for p in account.pending.values())
    assert [e.seq for e in book.entries] == list(range(1, len(book.entries) + 1))
    assert len({e.key for e in book.entries}) == len(book.entries)  # no business key applied twice


def play(commands: list[tuple[Any, ...]], rules: Points) -> Run:
    run = Run(MemoryStore(), rules, START, [])
    previous: tuple[Any, ...] | None = None
    for cmd in commands:
        if cmd[0] == "again":
            if previous is None:
                continue
            before = run.store.book(T, M)
            entries_before = len(before.entries)
            if previous[0] not in ("advance", "sweep"):
                apply(run, previous, repeat=True)
                # A redelivery moves nothing new except what became due by now.
                new = run.store.book(T, M).entries[entries_before:]
                assert all(e.entry_type in ("release", "expire", "release-hold") for e in new), new
            continue
        apply(run, cmd)
        check_invariants(run)
        previous = cmd
    return run


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commands=st.lists(command, min_size=5, max_size=40), policy=policies)
def test_buckets_always_equal_the_ledger_and_replay_is_identical(
    commands: list[tuple[Any, ...]], policy: NegativeBalance
) -> None:
    rules = Points(negative_balance=policy, daily_cap=None)
    run = play(commands, rules)
    # Rebuild from scratch: replaying the same log (duplicates included) gives identical results.
    again = Run(MemoryStore(), rules, START, [])
    for at, cmd, repeat in run.log:
        again.now = at
        apply(again, cmd, repeat)
    assert again.store.book(T, M).account == run.store.book(T, M).account
    assert again.store.book(T, M).entries == run.store.book(T, M).entries
    # ... and without the redeliveries, too: they changed nothing.
    deduplicated = Run(MemoryStore(), rules, START, [])
    for at, cmd, repeat in run.log:
        deduplicated.now = at
        if not repeat:
            apply(deduplicated, cmd)
    logic.sweep(deduplicated.ctx(), T, M)
    logic.sweep(run.ctx(), T, M)
    first, second = run.store.book(T, M), deduplicated.store.book(T, M)
    assert (
        first.account.available,
        first.account.pending_points,
        first.account.held,
        first.account.lots,
    ) == (
        second.account.available,
        second.account.pending_points,
        second.account.held,
        second.account.lots,
    )


@settings(max_examples=100, deadline=None)
@given(commands=st.lists(command, max_size=30), cap=st.integers(1, 400))
def test_daily_cap_is_never_exceeded(commands: list[tuple[Any, ...]], cap: int) -> None:
    run = play(commands, Points(daily_cap=cap))
    book = run.store.book(T, M)
    per_day: dict[str, int] = {}
    for entry in book.entries:
        if entry.entry_type == "earn" and entry.qualifying:
            day = datetime.fromisoformat(entry.at.replace("Z", "+00:00")).astimezone(TZ).date().isoformat()
            per_day[day] = per_day.get(day, 0) + entry.qualifying
    assert all(points <= cap for points in per_day.values()), per_day
