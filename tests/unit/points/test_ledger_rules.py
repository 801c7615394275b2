"""The points rules, case by case (pure: in-memory store, no AWS)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from loyalty.program import Bonuses, Campaign, NegativeBalance, Points
from points import logic
from points.ledger import InsufficientPoints, InvalidTransition, OrderLine, add_months, next_due
from tests.unit.points.ledger_memory import MemberBook, MemoryStore

pytestmark = pytest.mark.unit

TZ = ZoneInfo("Europe/Berlin")
T, M = "demo", "m-1"
NO_BONUS = Bonuses(sign_up=0, first_order=0, birthday_month=0, review=0, referral=0)


class Clock:
    def __init__(self, rules: Points | None = None) -> None:
        self.store = MemoryStore()
        self.rules = rules or Points(bonuses=NO_BONUS)
        self.now = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)

    def ctx(self) -> logic.Context:
        return logic.Context(self.store, self.rules, TZ, self.now, sleep=lambda seconds: None)

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def order(self, order_id: str, total: str, lines: list[OrderLine] | None = None) -> logic.Applied:
        return logic.order_placed(
            self.ctx(), T, M, order_id, Decimal(total), lines or [], self.now.isoformat()
        )

    @property
    def book(self) -> MemberBook:
        return self.store.book(T, M)

    def balance(self) -> tuple[int, int, int]:
        account = logic.current(self.ctx(), T, M)
        return account.available, account.pending_points, account.held


def test_order_points_stay_pending_through_the_return_window_then_release() -> None:
    clock = Clock()
    clock.order("o1", "120.99")  # 2026-03-10, 10:00 in Berlin
    clock.advance(hours=2)
    clock.order("o2", "10")  # same day: the same pending lot
    assert clock.balance() == (0, 130, 0)
    assert len(clock.book.account.pending) == 1
    clock.now = datetime(2026, 3, 24, 22, 59, tzinfo=UTC)  # 2026-03-24 23:59 in Berlin
    assert clock.balance() == (0, 130, 0)
    clock.now = datetime(2026, 3, 24, 23, 0, tzinfo=UTC)  # the day's 14-day window is over
    logic.sweep(clock.ctx(), T, M)
    assert clock.balance() == (130, 0, 0)
    assert [e.entry_type for e in clock.book.entries] == ["earn", "earn", "release"]


def test_lots_expire_after_twelve_months_and_spending_takes_the_soonest_first() -> None:
    clock = Clock(Points(bonuses=NO_BONUS, pending_days=0))
    clock.order("o1", "100")
    clock.advance(days=40)
    clock.order("o2", "100")
    logic.redeem(clock.ctx(), T, M, "r1", 150, hold=False)
    redeem = clock.book.entries[-1]
    assert redeem.lots == {"2027-03-10": -100, "2027-04-19": -50}
    clock.now = datetime(2027, 4, 18, 22, 30, tzinfo=UTC)  # 2027-04-19 00:30 in Berlin
    logic.sweep(clock.ctx(), T, M)
    assert clock.balance() == (0, 0, 0)
    assert clock.book.entries[-1].entry_type == "expire"
    assert clock.book.entries[-1].lots == {"2027-04-19": -50}


def test_expiring_points_are_announced_once_thirty_days_ahead() -> None:
    clock = Clock(Points(bonuses=NO_BONUS, pending_days=0))
    clock.order("o1", "80")
    assert clock.book.next_due == "2027-02-07T23:00:00.000Z"  # 2027-02-08 in Berlin: 30 days ahead
    clock.now = datetime(2027, 2, 8, 8, 0, tzinfo=UTC)
    logic.sweep(clock.ctx(), T, M)
    logic.sweep(clock.ctx(), T, M)
    notices = [n for n in clock.book.notices if n.type == "points.expiring"]
    assert [n.data for n in notices] == [{"points": 80, "lots": [{"points": 80, "expires_on": "2027-03-10"}]}]


def test_earning_multipliers_category_campaign_and_tier() -> None:
    rules = Points(
        bonuses=NO_BONUS,
        category_multipliers={"shoes": Decimal("2")},
        campaigns=[
            Campaign(
                name="spring",
                starts_on=date(2026, 3, 1),
                ends_on=date(2026, 3, 31),
                multiplier=Decimal("1.5"),
            )
        ],
    )
    clock = Clock(rules)
    lines = [OrderLine("shoes", Decimal("60")), OrderLine("socks", Decimal("40"))]
    # 90 paid for 100 of goods: shares 54 and 36; (54 x 2 + 36) x 1.5 = 216
    quote = logic.estimate(clock.ctx(), T, M, Decimal("90"), lines, clock.now.isoformat())
    assert quote.order_points == 216
    assert any("campaign spring" in rule for rule in quote.rules)
    assert clock.store.commits == 0  # an estimate writes nothing


def test_bonuses_first_order_and_birthday_month_once() -> None:
    clock = Clock(Points(bonuses=Bonuses(first_order=200, birthday_month=250)))
    clock.store.birthdays[(T, M)] = "--03-21"
    clock.order("o1", "10")
    clock.order("o2", "10")
    bonuses = [e.key for e in clock.book.entries if e.entry_type == "earn" and not e.key.endswith("#earn")]
    assert bonuses == ["order:o1#first_order", "order:o1#birthday_month"]
    assert clock.balance() == (450, 20, 0)


def test_refund_claws_back_in_proportion_pending_first_then_available() -> None:
    clock = Clock(Points(bonuses=NO_BONUS, pending_days=14))
    logic.adjust(clock.ctx(), T, M, "a1", 100, "goodwill", "admin")
    clock.order("o1", "200")
    logic.order_refunded(clock.ctx(), T, M, "o1", "rf1", Decimal("50"))
    assert clock.balance() == (100, 150, 0)
    clock.advance(days=15)
    logic.order_refunded(clock.ctx(), T, M, "o1", "rf2", Decimal("100"))
    assert clock.balance() == (150, 0, 0)  # 150 released, then 100 more clawed back from available
    logic.order_refunded(clock.ctx(), T, M, "o1", "rf2", Decimal("100"))  # redelivered
    assert clock.balance() == (150, 0, 0)
    assert clock.book.account.qualifying_months == {"2026-03": 50}


def test_refund_before_its_order_is_applied_when_the_order_arrives() -> None:
    clock = Clock()
    logic.order_refunded(clock.ctx(), T, M, "o1", "rf1", Decimal("30"))
    clock.order("o1", "120")
    assert clock.balance() == (0, 90, 0)
    logic.order_cancelled(clock.ctx(), T, M, "o1")
    assert clock.balance() == (0, 0, 0)


def test_clawback_beyond_the_balance_follows_the_negative_balance_policy() -> None:
    deny = Clock(Points(bonuses=NO_BONUS, pending_days=0))
    deny.order("o1", "100")
    logic.redeem(deny.ctx(), T, M, "r1", 80, hold=False)
    logic.order_cancelled(deny.ctx(), T, M, "o1")
    assert deny.balance() == (0, 0, 0)
    assert deny.book.entries[-1].unrecovered == 80

    allow = Clock(
        Points(bonuses=NO_BONUS, pending_days=0, negative_balance=NegativeBalance(policy="allow", cap=50))
    )
    allow.order("o1", "100")
    logic.redeem(allow.ctx(), T, M, "r1", 80, hold=False)
    logic.order_cancelled(allow.ctx(), T, M, "o1")
    assert allow.balance() == (-50, 0, 0)
    allow.order("o2", "70")  # new points pay the debt first
    assert allow.balance() == (20, 0, 0)


def test_points_spent_on_a_refunded_order_are_returned_when_configured() -> None:
    clock = Clock(Points(bonuses=NO_BONUS, pending_days=0))
    logic.adjust(clock.ctx(), T, M, "a1", 500, "opening", "admin")
    logic.redeem(clock.ctx(), T, M, "r1", 200, hold=False, order_id="o1")
    clock.order("o1", "100")
    logic.order_refunded(clock.ctx(), T, M, "o1", "rf1", Decimal("50"))
    # 400 after earning; half the order refunded: -50 clawback, +100 of the 200 spent returned
    assert clock.balance() == (450, 0, 0)

    off = Clock(Points(bonuses=NO_BONUS, pending_days=0, return_spent_points_on_refund=False))
    logic.adjust(off.ctx(), T, M, "a1", 500, "opening", "admin")
    logic.redeem(off.ctx(), T, M, "r1", 200, hold=False, order_id="o1")
    off.order("o1", "100")
    logic.order_refunded(off.ctx(), T, M, "o1", "rf1", Decimal("50"))
    assert off.balance() == (350, 0, 0)


def test_redemption_replay_returns_the_first_result_and_conflicts_on_a_different_request() -> None:
    clock = Clock(Points(bonuses=NO_BONUS, pending_days=0))
    clock.order("o1", "100")
    first = logic.redeem(clock.ctx(), T, M, "r1", 60, hold=False)
    again = logic.redeem(clock.ctx(), T, M, "r1", 60, hold=False)
    assert first.applied and not again.applied
    assert again.result == first.result
    assert clock.balance() == (40, 0, 0)
    with pytest.raises(logic.RequestConflict):
        logic.redeem(clock.ctx(), T, M, "r1", 61, hold=False)
    with pytest.raises(InsufficientPoints):
        logic.redeem(clock.ctx(), T, M, "r2", 41, hold=False)


def test_holds_confirm_cancel_and_lapse() -> None:
    clock = Clock(Points(bonuses=NO_BONUS, pending_days=0, hold_minutes=30))
    clock.order("o1", "100")
    logic.redeem(clock.ctx(), T, M, "h1", 30, hold=True)
    logic.redeem(clock.ctx(), T, M, "h2", 30, hold=True)
    logic.redeem(clock.ctx(), T, M, "h3", 30, hold=True)
    assert clock.balance() == (10, 0, 90)
    logic.confirm(clock.ctx(), T, M, "h1")
    logic.cancel(clock.ctx(), T, M, "h2")
    assert clock.balance() == (40, 0, 30)
    with pytest.raises(InvalidTransition):
        logic.confirm(clock.ctx(), T, M, "h2")
    clock.advance(minutes=31)
    logic.sweep(clock.ctx(), T, M)
    assert clock.balance() == (70, 0, 0)
    assert clock.book.redemptions["h3"].status == "lapsed"
    with pytest.raises(InvalidTransition):
        logic.confirm(clock.ctx(), T, M, "h3")


def test_tier_upgrades_at_once_and_drops_one_level_at_the_anniversary() -> None:
    clock = Clock(Points(bonuses=NO_BONUS, pending_days=0))
    clock.order("o1", "21000")
    assert clock.book.account.tier == "black"
    assert clock.book.notices[-1].data == {
        "from": "member",
        "to": "black",
        "reason": "qualifying points reached the threshold",
        "qualifying_points": 21000,
    }
    assert clock.book.account.tier_review_on == "2027-03-10"
    clock.now = datetime(2027, 3, 10, 6, 0, tzinfo=UTC)
    logic.sweep(clock.ctx(), T, M)
    assert clock.book.account.tier == "gold"  # nothing qualifying in 12 months, but only one level down
    assert clock.book.account.tier_review_on == "2028-03-10"


def test_tier_multiplier_applies_to_later_orders() -> None:
    clock = Clock(Points(bonuses=NO_BONUS, pending_days=0))
    clock.order("o1", "1000")
    assert clock.book.account.tier == "silver"
    clock.order("o2", "100")
    assert clock.book.entries[-1].qualifying == 125


def test_next_due_is_the_soonest_release_lapse_expiry_or_review() -> None:
    clock = Clock()
    clock.order("o1", "100")
    account = clock.book.account
    assert next_due(account, clock.rules, TZ) == "2026-03-24T23:00:00.000Z"  # 03-25 00:00 in Berlin


def test_add_months_clamps_to_the_month_end() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2028, 2, 29), 12) == date(2029, 2, 28)
    assert add_months(date(2026, 3, 15), -11) == date(2025, 4, 15)


def test_a_backlog_larger_than_one_transaction_is_applied_in_several_commits() -> None:
    clock = Clock(Points(bonuses=NO_BONUS, pending_days=0, max_active_holds=150))
    clock.order("o1", "200")
    for n in range(150):
        logic.redeem(clock.ctx(), T, M, f"h{n}", 1, hold=True)
    clock.advance(hours=1)
    commits = clock.store.commits
    logic.redeem(clock.ctx(), T, M, "r1", 10, hold=False)  # every hold lapsed first
    # 40 lapses (80 items) a commit: 40, 40, 40, then 30 with the redemption
    assert clock.store.commits - commits == 4
    assert clock.store.largest_commit <= 100
    assert clock.balance() == (190, 0, 0)
    assert all(clock.book.redemptions[f"h{n}"].status == "lapsed" for n in range(150))
    assert not logic.sweep(clock.ctx(), T, M).applied
