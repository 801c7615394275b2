"""The points service against an independent reference model (tests/unit/points/ledger_model.py):
a hypothesis state machine of orders, refunds, cancellations, redemptions and holds,
adjustments, clock moves, redelivered and reordered events. After every step the
service and the model agree on the balance, the lots and the tier, both conserve
points, and no member holds more than the earning rules grant; then the same machine
on fixed sequences (pure: in-memory store)."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from loyalty.program import Bonuses, NegativeBalance, Points, ProgramConfig, Tier
from points import logic
from points.ledger import Account, Entry, InsufficientPoints, InvalidTransition, TooManyHolds
from tests.unit.points.ledger_memory import MemoryStore
from tests.unit.points.ledger_model import (
    APPLIED,
    CONFLICT,
    INSUFFICIENT,
    INVALID,
    TOO_MANY_HOLDS,
    UNKNOWN,
    ModelConfig,
    PointsModel,
    TierRule,
    Verdict,
)

pytestmark = pytest.mark.unit

TZ = ZoneInfo("Europe/Berlin")
START = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
T = "demo"
BIRTHDAY = "1991-03-28"
TIERS = (
    TierRule("member", 0, Decimal("1")),
    TierRule("silver", 300, Decimal("1.5")),
    TierRule("gold", 1000, Decimal("2")),
)
MODEL = ModelConfig(
    tz=TZ,
    tiers=TIERS,
    points_per_unit=Decimal(1),
    first_order_bonus=200,
    birthday_bonus=150,
    birthday_month=int(BIRTHDAY[5:7]),
    pending_days=3,
    expiry_months=4,
    hold_minutes=60,
    max_active_holds=2,
    return_spent_points_on_refund=True,
)
RULES = Points(
    points_per_unit=MODEL.points_per_unit,
    bonuses=Bonuses(
        sign_up=0,
        first_order=MODEL.first_order_bonus,
        birthday_month=MODEL.birthday_bonus,
        review=0,
        referral=0,
    ),
    daily_cap=None,
    pending_days=MODEL.pending_days,
    expiry_months=MODEL.expiry_months,
    hold_minutes=MODEL.hold_minutes,
    max_active_holds=MODEL.max_active_holds,
    negative_balance=NegativeBalance(policy="deny"),
    return_spent_points_on_refund=MODEL.return_spent_points_on_refund,
    tiers=[Tier(name=t.name, threshold=t.threshold, multiplier=t.multiplier) for t in TIERS],
)
PROGRAM = ProgramConfig(points=RULES)

ORDER_IDS = [f"o{n}" for n in range(1, 8)]
REFUND_IDS = ["a", "b", "c"]
REDEMPTION_IDS = [f"r{n}" for n in range(1, 7)]
ADJUSTMENT_IDS = [f"j{n}" for n in range(1, 5)]
SCHEDULED_STEPS = [
    timedelta(minutes=10),
    timedelta(minutes=31),
    timedelta(hours=7),
    timedelta(days=1),
    timedelta(days=3),
    timedelta(days=10),
    timedelta(days=31),
    timedelta(days=62),
    timedelta(days=123),
    timedelta(days=300),
    timedelta(days=365),
]
DAY_STEPS = [timedelta(days=n) for n in (1, 2, 4, 5, 8)]
LATE_BY = [timedelta(hours=3), timedelta(days=1), timedelta(days=3), timedelta(days=5)]
UNSWEPT_STEPS = [timedelta(minutes=5), timedelta(minutes=20), timedelta(minutes=45), timedelta(hours=5)]
REFUSALS: dict[type[Exception], str] = {
    InsufficientPoints: INSUFFICIENT,
    TooManyHolds: TOO_MANY_HOLDS,
    logic.RequestConflict: CONFLICT,
    logic.UnknownRedemption: UNKNOWN,
    InvalidTransition: INVALID,
}

CENT = Decimal("0.01")
totals = st.one_of(
    st.decimals(min_value=CENT, max_value=Decimal("700"), places=2),
    st.decimals(min_value=Decimal("250"), max_value=Decimal("700"), places=2),
    st.sampled_from([Decimal("0.50"), Decimal("100"), Decimal("200.00"), Decimal("333.33")]),
)
refund_amounts = st.decimals(min_value=CENT, max_value=Decimal("500"), places=2)
refund_shares = st.sampled_from(
    [Decimal("0.1"), Decimal("0.25"), Decimal("0.5"), Decimal("1"), Decimal("1.5")]
)
redeem_points = st.one_of(st.integers(1, 60), st.sampled_from(["all", "half", "more"]))
order_picks = st.one_of(st.sampled_from(ORDER_IDS), st.integers(0, 9))
redemption_picks = st.one_of(st.sampled_from(REDEMPTION_IDS), st.integers(0, 9))
adjust_points = st.one_of(st.integers(-600, 600).filter(bool), st.sampled_from([-1, 1]))


class Driver(Protocol):
    """The store under test, and how to look into it."""

    @property
    def store(self) -> logic.LedgerStore: ...

    def start(self, member: str) -> None: ...

    def state(self, member: str) -> Any:
        """Everything stored for the member, to compare before and after a call."""

    def stored(self, member: str) -> tuple[Account, list[Entry]]: ...


class MemoryDriver:
    def __init__(self) -> None:
        self.store = MemoryStore()

    def start(self, member: str) -> None:
        self.store.birthdays[(T, member)] = BIRTHDAY

    def state(self, member: str) -> Any:
        return copy.deepcopy(self.store.book(T, member))

    def stored(self, member: str) -> tuple[Account, list[Entry]]:
        book = self.store.book(T, member)
        return book.account, list(book.entries)


Call = tuple[Any, ...]


def ledger_totals(entries: list[Entry]) -> dict[str, int]:
    """Conservation terms from the ledger lines alone, by entry type and key."""
    totals = dict.fromkeys(("granted", "redeemed", "expired", "clawed", "returned", "adjusted"), 0)
    for e in entries:
        moved = e.available + e.pending + e.held
        if e.entry_type == "earn":
            totals["granted"] += moved
        elif e.entry_type == "redeem":
            totals["redeemed"] -= moved
        elif e.entry_type == "expire":
            totals["expired"] -= moved
        elif e.entry_type == "clawback":
            totals["clawed"] -= moved
        elif e.entry_type == "adjust":
            totals["returned" if e.key.endswith("#return") else "adjusted"] += moved
        elif e.entry_type in ("release", "hold", "release-hold", "note"):
            assert moved == 0, f"a {e.entry_type} entry changed the member's points: {e}"
        else:
            raise AssertionError(f"unknown entry type {e.entry_type}: {e}")
    return totals


def returned_by_order(entries: list[Entry]) -> dict[str, int]:
    returned: dict[str, int] = {}
    for e in entries:
        if e.entry_type == "adjust" and e.key.endswith("#return"):
            order_id = e.refs["order_id"]
            returned[order_id] = returned.get(order_id, 0) + e.available
    return returned


class LedgerMachine(RuleBasedStateMachine):
    make_driver: Callable[[], Driver] = MemoryDriver
    members = itertools.count(1)

    def __init__(self) -> None:
        super().__init__()
        self.driver = type(self).make_driver()
        self.member = f"m-{next(self.members)}"
        self.driver.start(self.member)
        self.now = START
        self.model = PointsModel(MODEL, START)
        self.done: list[Call] = []  # calls that changed something, for redelivery

    def ctx(self, at: datetime | None = None) -> logic.Context:
        return logic.Context(
            self.driver.store, RULES, TZ, at or self.now, sleep=lambda seconds: None, program=PROGRAM
        )

    # --- one call to both --------------------------------------------------------

    def _model(self, call: Call) -> Verdict:
        kind, *args = call
        m = self.model
        if kind == "order":
            return m.order_placed(args[0], args[1], args[2])
        if kind == "refund":
            return m.order_refunded(args[0], args[1], args[2])
        if kind == "cancel_order":
            return m.order_cancelled(args[0])
        if kind == "redeem":
            return m.redeem(args[0], args[1], args[2], args[3])
        if kind == "confirm":
            return m.confirm(args[0])
        if kind == "cancel":
            return m.cancel(args[0])
        if kind == "adjust":
            return m.adjust(args[0], args[1])
        raise AssertionError(kind)

    def _service(self, call: Call) -> str:
        kind, *args = call
        ctx, member = self.ctx(), self.member
        try:
            if kind == "order":
                logic.order_placed(ctx, T, member, args[0], args[1], [], args[2].isoformat())
            elif kind == "refund":
                logic.order_refunded(ctx, T, member, args[0], args[1], args[2])
            elif kind == "cancel_order":
                logic.order_cancelled(ctx, T, member, args[0])
            elif kind == "redeem":
                logic.redeem(ctx, T, member, args[0], args[1], hold=args[2], order_id=args[3])
            elif kind == "confirm":
                logic.confirm(ctx, T, member, args[0])
            elif kind == "cancel":
                logic.cancel(ctx, T, member, args[0])
            elif kind == "adjust":
                logic.adjust(ctx, T, member, args[0], args[1], "correction", "admin")
        except tuple(REFUSALS) as refusal:
            return REFUSALS[type(refusal)]
        return APPLIED

    def _observable(self) -> Any:
        account, entries = self.driver.stored(self.member)
        moving = [
            (e.entry_type, e.key, e.available, e.pending, e.held)
            for e in entries
            if e.available or e.pending or e.held
        ]
        holds = {rid: h.points for rid, h in account.holds.items()}
        return (
            account.available,
            account.pending_points,
            account.held,
            account.tier,
            account.lots,
            holds,
            moving,
        )

    def _send(self, call: Call) -> Verdict:
        verdict = self._model(call)
        if not verdict.changes:
            logic.sweep(self.ctx(), T, self.member)  # as the scheduler would have: nothing is due
            before, seen = self.driver.state(self.member), self._observable()
        answer = self._service(call)
        assert answer in verdict.allowed, (
            f"{call}: the service answered {answer or 'applied'!r}, expected {set(verdict.allowed)}"
        )
        if not verdict.changes:
            if answer != APPLIED or verdict.allowed == {APPLIED}:
                assert self.driver.state(self.member) == before, f"{call} changed what is stored"
            else:
                assert self._observable() == seen, f"{call} moved points"
        else:
            self.done.append(call)
        return verdict

    # --- rules ----------------------------------------------------------------------

    def _order_id(self, pick: str | int) -> str:
        """An id as drawn, or (a number) one of the orders that arrived, if any."""
        if isinstance(pick, str):
            return pick
        known = sorted(o.order_id for o in self.model.orders.values() if o.known)
        return known[pick % len(known)] if known else ORDER_IDS[pick % len(ORDER_IDS)]

    def _redemption_id(self, pick: str | int) -> str:
        """An id as drawn, or (a number) one of the holds, else one of the redemptions."""
        if isinstance(pick, str):
            return pick
        known = sorted(self.model.holds) or sorted(self.model.redemptions) or REDEMPTION_IDS
        return known[pick % len(known)]

    @rule(order_id=st.sampled_from(ORDER_IDS), total=totals)
    def place_order(self, order_id: str, total: Decimal) -> None:
        self._send(("order", order_id, total, self.now))

    @rule(order_id=st.sampled_from(ORDER_IDS), total=totals, late=st.sampled_from(LATE_BY))
    def place_late_order(self, order_id: str, total: Decimal, late: timedelta) -> None:
        """An order event that arrives after its order was placed."""
        self._send(("order", order_id, total, self.now - late))

    @rule(
        order_id=order_picks,
        refund_id=st.sampled_from(REFUND_IDS),
        share=refund_shares,
        amount=refund_amounts,
    )
    def refund(self, order_id: str | int, refund_id: str, share: Decimal, amount: Decimal) -> None:
        """A share of the order; before its order arrives, any amount."""
        order_id = self._order_id(order_id)
        order = self.model.orders.get(order_id)
        if order is not None and order.known:
            amount = max(CENT, (order.total * share).quantize(CENT, rounding=ROUND_HALF_UP))
        self._send(("refund", order_id, refund_id, amount))

    @rule(order_id=order_picks)
    def cancel_order(self, order_id: str | int) -> None:
        self._send(("cancel_order", self._order_id(order_id)))

    @rule(
        rid=st.sampled_from(REDEMPTION_IDS), points=redeem_points, order_id=st.one_of(st.none(), order_picks)
    )
    def redeem(self, rid: str, points: int | str, order_id: str | int | None) -> None:
        self._redeem(rid, points, False, order_id)

    @rule(
        rid=st.sampled_from(REDEMPTION_IDS), points=redeem_points, order_id=st.one_of(st.none(), order_picks)
    )
    def hold(self, rid: str, points: int | str, order_id: str | int | None) -> None:
        self._redeem(rid, points, True, order_id)

    def _redeem(self, rid: str, points: int | str, hold: bool, order_id: str | int | None) -> None:
        available = self.model.available
        amount = {"all": max(1, available), "half": max(1, available // 2), "more": available + 1}
        spend = amount[points] if isinstance(points, str) else points
        self._send(("redeem", rid, spend, hold, None if order_id is None else self._order_id(order_id)))

    @rule(rid=redemption_picks)
    def confirm(self, rid: str | int) -> None:
        self._send(("confirm", self._redemption_id(rid)))

    @rule(rid=redemption_picks)
    def cancel_hold(self, rid: str | int) -> None:
        self._send(("cancel", self._redemption_id(rid)))

    @rule(adjustment_id=st.sampled_from(ADJUSTMENT_IDS), points=adjust_points)
    def adjust(self, adjustment_id: str, points: int) -> None:
        self._send(("adjust", adjustment_id, points))

    @rule(step=st.sampled_from(SCHEDULED_STEPS))
    def advance(self, step: timedelta) -> None:
        self._pass_time(step)

    def _pass_time(self, step: timedelta) -> None:
        """The clock moves; the scheduled sweep runs whenever something falls due."""
        target = self.now + step
        while (due := self.model.advance_one(target)) is not None:
            self.now = due
            logic.sweep(self.ctx(), T, self.member)
            self.agrees_with_the_model()
        self.now = target

    @rule(step=st.sampled_from(DAY_STEPS))
    def advance_days(self, step: timedelta) -> None:
        self._pass_time(step)

    @rule(step=st.sampled_from(UNSWEPT_STEPS))
    def advance_unswept(self, step: timedelta) -> None:
        """The clock moves and no sweep runs: the next call brings the account up to date."""
        self.now += step
        self.model.advance(self.now)

    @rule()
    def sweep(self) -> None:
        logic.sweep(self.ctx(), T, self.member)

    @precondition(lambda self: bool(self.done))
    @rule(data=st.data())
    def redeliver(self, data: st.DataObject) -> None:
        call = data.draw(st.sampled_from(self.done), label="again")
        verdict = self._send(call)
        assert not verdict.changes, f"the model applied {call} twice"

    # --- invariants -------------------------------------------------------------------

    @invariant()
    def agrees_with_the_model(self) -> None:
        account = logic.current(self.ctx(), T, self.member)
        m = self.model
        got = (account.available, account.pending_points, account.held)
        assert got == (m.available, m.pending, m.held), (
            f"(available, pending, held) {got}, model {(m.available, m.pending, m.held)}"
        )
        assert account.tier == m.tier_name, f"tier {account.tier}, model {m.tier_name}"
        lots = {date.fromisoformat(day): points for day, points in account.lots.items()}
        assert lots == m.lots, f"lots {lots}, model {m.lots}"

    @invariant()
    def points_are_conserved(self) -> None:
        account, entries = self.driver.stored(self.member)
        t = ledger_totals(entries)
        assert account.debt == 0
        assert sum(e.available for e in entries) == account.available
        assert sum(e.pending for e in entries) == account.pending_points
        assert sum(e.held for e in entries) == account.held
        balance = account.available + account.pending_points + account.held
        expected = t["granted"] - t["redeemed"] - t["expired"] - t["clawed"] + t["returned"] + t["adjusted"]
        assert balance == expected, f"balance {balance} but the ledger says {expected}: {t}"
        assert self.model.conserved(), f"the model lost points: {self.model.totals}"
        assert sum(e.unrecovered for e in entries) == account.shortfall  # the ledger explains it
        # As of now (what came due applied, as every operation does first), against the model.
        outstanding = logic.current(self.ctx(), T, self.member).shortfall
        assert outstanding == self.model.totals.unrecovered, (
            f"unrecovered {outstanding}, model {self.model.totals.unrecovered}"
        )

    @invariant()
    def never_more_than_earned(self) -> None:
        _, entries = self.driver.stored(self.member)
        returned = returned_by_order(entries)
        for order_id, points in returned.items():
            spent = self.model.orders[order_id].spent if order_id in self.model.orders else 0
            assert points <= spent, f"{points} points returned on {order_id}, {spent} actually spent on it"
        now = logic.current(self.ctx(), T, self.member)
        # Held points owe the shortfall of earlier clawbacks: a release pays it first.
        balance = now.available + now.pending_points + now.held - now.shortfall
        entitled = self.model.entitlement(returned)
        assert balance <= entitled, f"the member holds {balance} points, the earning rules grant {entitled}"

    @invariant()
    def tier_never_above_what_points_justified(self) -> None:
        tier = logic.current(self.ctx(), T, self.member).tier
        index = next(i for i, t in enumerate(TIERS) if t.name == tier)
        justified = self.model.justified_tier()
        assert index <= justified, f"tier {tier}, released points justify {TIERS[justified].name} at most"


TestLedgerAgainstModel = LedgerMachine.TestCase
TestLedgerAgainstModel.settings = settings(
    max_examples=200,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


# --- the machine on fixed sequences -----------------------------------------------------

SEQUENCES: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "points spent on an order and given back on its cancellation do not cover its clawback": [
        ("place_order", {"order_id": "o1", "total": Decimal("0.50")}),  # 0 points, 350 in bonuses
        ("redeem", {"rid": "r1", "points": "all", "order_id": "o1"}),
        ("cancel_order", {"order_id": "o1"}),  # the bonuses go; the 350 spent on o1 come back
    ],
    "points on hold when their order is cancelled do not escape the clawback": [
        ("place_order", {"order_id": "o1", "total": Decimal("0.50")}),
        ("hold", {"rid": "h1", "points": "all", "order_id": None}),
        ("cancel_order", {"order_id": "o1"}),
        ("cancel_hold", {"rid": "h1"}),
    ],
    "a late refund of points an upgrade stood on undoes it, however old the order": [
        ("place_order", {"order_id": "o1", "total": Decimal("250")}),
        ("advance", {"step": timedelta(days=123)}),
        ("place_order", {"order_id": "o2", "total": Decimal("100")}),  # released: 350, silver
        ("advance", {"step": timedelta(days=300)}),
        ("refund", {"order_id": "o1", "refund_id": "a", "share": Decimal("0.25"), "amount": CENT}),
    ],
    "holds, refunds before their order, a tier and its anniversary": [
        ("refund", {"order_id": "o1", "refund_id": "a", "share": Decimal("1"), "amount": Decimal("100")}),
        ("place_order", {"order_id": "o1", "total": Decimal("800")}),  # refunded in part: bonuses kept
        ("expect", {"balance": (350, 700, 0), "tier": "member"}),
        ("hold", {"rid": "h1", "points": 100, "order_id": "o1"}),
        ("advance", {"step": timedelta(minutes=61)}),  # lapsed: spent nothing
        ("hold", {"rid": "h2", "points": 50, "order_id": "o1"}),
        ("confirm", {"rid": "h2"}),
        ("refund", {"order_id": "o1", "refund_id": "b", "share": Decimal("0.5"), "amount": CENT}),
        ("expect", {"balance": (331, 300, 0), "tier": "member"}),  # 31 of the 50 spent come back
        ("advance", {"step": timedelta(days=4)}),
        ("expect", {"balance": (631, 0, 0), "tier": "silver"}),
        ("place_late_order", {"order_id": "o2", "total": Decimal("50"), "late": timedelta(days=5)}),
        ("expect", {"balance": (706, 0, 0), "tier": "silver"}),  # x1.5, its return window over
        ("redeliver_latest", {}),
        ("advance", {"step": timedelta(days=365)}),
        ("expect", {"balance": (0, 0, 0), "tier": "member"}),  # expired; the anniversary review
    ],
}


class Replayed(LedgerMachine):
    """The machine driven by hand."""

    def redeliver_latest(self) -> None:
        verdict = self._send(self.done[-1])
        assert not verdict.changes

    def check_all(self) -> None:
        self.agrees_with_the_model()
        self.points_are_conserved()
        self.never_more_than_earned()
        self.tier_never_above_what_points_justified()

    def expect(self, balance: tuple[int, int, int], tier: str) -> None:
        """The model is where the sequence says it is (so the sequence tests what it says)."""
        assert (self.model.available, self.model.pending, self.model.held) == balance
        assert self.model.tier_name == tier


@pytest.mark.parametrize("steps", list(SEQUENCES.values()), ids=list(SEQUENCES))
def test_sequence(steps: list[tuple[str, dict[str, Any]]]) -> None:
    machine = Replayed()
    for name, args in steps:
        getattr(machine, name)(**args)
        machine.check_all()
    machine.teardown()
