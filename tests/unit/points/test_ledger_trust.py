"""Regression tests for ways a storefront could mint points, keep an unearned tier,
or wedge a member (pure: in-memory store, no AWS)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from loyalty.program import Bonuses, NegativeBalance, Points, ProgramConfig
from points import logic
from points.ledger import Account, OrderLine, TooManyHolds
from tests.unit.points.ledger_memory import MemoryStore

pytestmark = pytest.mark.unit

TZ = ZoneInfo("Asia/Shanghai")
T, M = "demo", "m-1"
NO_BONUS = Bonuses(sign_up=0, first_order=0, birthday_month=0, review=0, referral=0)


class Member:
    def __init__(self, rules: Points | None = None, program: ProgramConfig | None = None) -> None:
        self.store = MemoryStore()
        self.program = program or ProgramConfig()
        self.rules = rules or Points(bonuses=NO_BONUS)
        self.now = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)

    def ctx(self) -> logic.Context:
        return logic.Context(
            self.store, self.rules, TZ, self.now, sleep=lambda seconds: None, program=self.program
        )

    def order(self, order_id: str, total: str, currency: str | None = None) -> logic.Applied:
        return logic.order_placed(
            self.ctx(), T, M, order_id, Decimal(total), [], self.now.isoformat(), currency
        )

    def refund(self, order_id: str, refund_id: str, amount: str) -> logic.Applied:
        return logic.order_refunded(self.ctx(), T, M, order_id, refund_id, Decimal(amount))

    def seed(self, points: int) -> None:
        logic.adjust(self.ctx(), T, M, f"seed-{points}", points, "opening balance", "admin")

    @property
    def account(self) -> Account:
        return logic.current(self.ctx(), T, M)

    def balance(self) -> tuple[int, int, int]:
        account = self.account
        return account.available, account.pending_points, account.held


# --- 1. holds never count as points spent on an order -------------------------------


def test_a_cancelled_hold_against_an_order_returns_nothing_on_refund() -> None:
    member = Member()
    member.seed(1000)
    member.order("o1", "10.00")
    logic.redeem(member.ctx(), T, M, "h1", 800, hold=True, order_id="o1")
    logic.cancel(member.ctx(), T, M, "h1")
    member.refund("o1", "rf1", "10.00")
    assert member.balance() == (1000, 0, 0)
    assert not [e for e in member.store.book(T, M).entries if e.key.endswith("#return")]


def test_a_lapsed_hold_against_an_order_returns_nothing_on_refund() -> None:
    member = Member()
    member.seed(1000)
    member.order("o1", "10.00")
    logic.redeem(member.ctx(), T, M, "h1", 800, hold=True, order_id="o1")
    member.now += timedelta(hours=1)
    member.refund("o1", "rf1", "10.00")
    assert member.balance() == (1000, 0, 0)


def test_a_confirmed_hold_against_an_order_is_returned_on_refund() -> None:
    member = Member()
    member.seed(1000)
    member.order("o1", "10.00")
    logic.redeem(member.ctx(), T, M, "h1", 800, hold=True, order_id="o1")
    logic.confirm(member.ctx(), T, M, "h1")
    assert member.balance() == (200, 10, 0)
    member.refund("o1", "rf1", "5.00")
    assert member.balance() == (600, 5, 0)  # half of the 800 spent comes back; half the order clawed


# --- 2. bonuses go with their order ----------------------------------------------


def test_first_order_bonus_is_taken_back_on_cancellation_and_earned_by_the_next_order() -> None:
    member = Member(Points(bonuses=Bonuses(first_order=200, birthday_month=0, sign_up=0)))
    member.order("o1", "50")
    assert member.balance() == (200, 50, 0)
    logic.order_cancelled(member.ctx(), T, M, "o1")
    assert member.balance() == (0, 0, 0)
    member.order("o2", "30")
    assert member.balance() == (200, 30, 0)
    member.order("o3", "30")
    assert member.balance() == (200, 60, 0)


def test_birthday_bonus_is_taken_back_on_a_full_refund_in_two_parts() -> None:
    member = Member(Points(bonuses=Bonuses(first_order=0, birthday_month=250, sign_up=0), pending_days=0))
    member.store.birthdays[(T, M)] = "1990-03-21"
    member.order("o1", "100")
    assert member.balance() == (350, 0, 0)
    member.refund("o1", "rf1", "40")
    assert member.balance() == (310, 0, 0)  # a partial refund keeps the bonus
    member.refund("o1", "rf2", "60")
    assert member.balance() == (0, 0, 0)
    member.order("o2", "10")  # still March: the birthday bonus can be earned again
    assert member.balance() == (260, 0, 0)


def test_a_bonus_clawback_follows_the_negative_balance_policy() -> None:
    member = Member(Points(bonuses=Bonuses(first_order=200, birthday_month=0, sign_up=0), pending_days=0))
    member.order("o1", "50")
    logic.redeem(member.ctx(), T, M, "r1", 250, hold=False)
    logic.order_cancelled(member.ctx(), T, M, "o1")
    assert member.balance() == (0, 0, 0)
    entries = member.store.book(T, M).entries
    assert sum(e.unrecovered for e in entries) == 250


def test_an_order_cancelled_before_it_arrives_earns_no_bonus() -> None:
    member = Member(Points(bonuses=Bonuses(first_order=200, birthday_month=0, sign_up=0)))
    logic.order_cancelled(member.ctx(), T, M, "o1")
    member.order("o1", "50")
    assert member.balance() == (0, 0, 0)
    member.order("o2", "50")
    assert member.balance() == (200, 50, 0)


# --- 3. no tier left behind by a refunded order --------------------------------------


def test_pending_points_do_not_lift_the_tier_and_a_refund_leaves_none_behind() -> None:
    member = Member()
    member.order("o1", "20000")
    assert member.account.tier == "member"  # pending points do not qualify
    member.refund("o1", "rf1", "20000")
    member.now += timedelta(days=20)
    assert member.account.tier == "member"
    member.order("o2", "100")
    assert member.store.book(T, M).entries[-1].pending == 100  # earned at x1.0, not x2.0


def test_released_points_lift_the_tier_and_a_later_full_refund_undoes_the_upgrade() -> None:
    member = Member()
    member.order("o0", "1500")
    member.now += timedelta(days=16)
    logic.sweep(member.ctx(), T, M)
    assert member.account.tier == "silver"
    member.order("o1", "20000")
    member.now += timedelta(days=16)
    logic.sweep(member.ctx(), T, M)
    assert member.account.tier == "black"
    member.refund("o1", "rf1", "20000")
    assert member.account.tier == "silver"  # what the remaining 1,500 qualifying points reach
    changes = [n.data for n in member.store.book(T, M).notices if n.type == "points.tier_changed"]
    assert [(c["from"], c["to"]) for c in changes] == [
        ("member", "silver"),
        ("silver", "black"),
        ("black", "silver"),
    ]


def test_a_refund_of_an_order_counted_after_the_upgrade_keeps_the_tier() -> None:
    member = Member(Points(bonuses=NO_BONUS, pending_days=0))
    member.order("o1", "5000")
    assert member.account.tier == "gold"
    member.now += timedelta(days=2)
    member.order("o2", "300")
    member.refund("o2", "rf1", "300")
    assert member.account.tier == "gold"


def test_a_partial_refund_that_keeps_the_threshold_keeps_the_tier() -> None:
    member = Member(Points(bonuses=NO_BONUS, pending_days=0))
    member.order("o1", "6000")
    member.refund("o1", "rf1", "1000")
    assert member.account.tier == "gold"
    member.refund("o1", "rf2", "10")
    assert member.account.tier == "silver"


# --- 4. no member wedged by a backlog ------------------------------------------------


def test_fifty_five_lapsed_holds_never_wedge_the_member() -> None:
    member = Member(Points(bonuses=NO_BONUS, pending_days=0))
    member.seed(100)
    for n in range(55):
        logic.redeem(member.ctx(), T, M, f"h{n}", 1, hold=True)
    member.now += timedelta(hours=1)
    logic.redeem(member.ctx(), T, M, "r1", 5, hold=False)
    assert member.balance() == (95, 0, 0)
    assert member.store.largest_commit <= 100


def test_holds_are_capped_per_member() -> None:
    member = Member(Points(bonuses=NO_BONUS, pending_days=0, max_active_holds=3))
    member.seed(100)
    for n in range(3):
        logic.redeem(member.ctx(), T, M, f"h{n}", 1, hold=True)
    with pytest.raises(TooManyHolds):
        logic.redeem(member.ctx(), T, M, "h3", 1, hold=True)
    logic.redeem(member.ctx(), T, M, "r1", 1, hold=False)  # spending outright is not capped
    assert member.balance() == (96, 0, 3)


# --- 8. currency ------------------------------------------------------------------


def test_an_order_in_another_currency_earns_at_its_rate_and_without_one_earns_nothing() -> None:
    program = ProgramConfig(currency="CNY", exchange_rates={"USD": Decimal("7.2")})
    member = Member(Points(bonuses=NO_BONUS, pending_days=0), program)
    member.order("o1", "100", "CNY")
    member.order("o2", "100", "USD")
    assert member.balance() == (820, 0, 0)
    done = member.order("o3", "10000", "JPY")
    assert done.result == {"points": 0, "reason": "no_exchange_rate"}
    assert member.balance() == (820, 0, 0)
    note = member.store.book(T, M).entries[-1]
    assert note.entry_type == "note" and "JPY" in note.reason and note.available == 0
    member.refund("o2", "rf1", "50")  # refunds are in the order's currency
    assert member.balance() == (460, 0, 0)


def test_a_refund_in_another_currency_is_converted_to_the_orders() -> None:
    program = ProgramConfig(currency="CNY", exchange_rates={"USD": Decimal("8")})
    member = Member(Points(bonuses=NO_BONUS, pending_days=0), program)
    member.order("o1", "800", "CNY")
    logic.order_refunded(member.ctx(), T, M, "o1", "rf1", Decimal("50"), "USD")  # 400 CNY
    assert member.balance() == (400, 0, 0)
    logic.order_refunded(member.ctx(), T, M, "o1", "rf2", Decimal("50"), "EUR")  # no rate
    assert member.balance() == (400, 0, 0)
    assert "EUR" in member.store.book(T, M).entries[-1].reason


def test_estimate_converts_the_currency() -> None:
    program = ProgramConfig(currency="CNY", exchange_rates={"USD": Decimal("7")})
    member = Member(Points(bonuses=NO_BONUS), program)
    lines = [OrderLine(None, Decimal("10"))]
    assert logic.estimate(member.ctx(), T, M, Decimal("10"), lines, member.now.isoformat(), "USD").total == 70
    assert logic.estimate(member.ctx(), T, M, Decimal("10"), lines, member.now.isoformat(), "GBP").total == 0


def test_negative_balance_allow_policy_applies_to_bonus_reversal() -> None:
    rules = Points(
        bonuses=Bonuses(first_order=200, birthday_month=0, sign_up=0),
        pending_days=0,
        negative_balance=NegativeBalance(policy="allow", cap=100),
    )
    member = Member(rules)
    member.order("o1", "50")
    logic.redeem(member.ctx(), T, M, "r1", 250, hold=False)
    logic.order_cancelled(member.ctx(), T, M, "o1")
    assert member.balance() == (-100, 0, 0)
