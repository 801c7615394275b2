"""``apply``, the one way an account's points change; the expiring lots stored at
every write; the ledger listing through ``logic.ledger_page`` (pure: in-memory
store, no AWS)."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypedDict, Unpack
from zoneinfo import ZoneInfo

import pytest

from loyalty.errors import ValidationFailed
from loyalty.program import Bonuses, Points
from points import logic
from points.ledger import Account, Entry, Hold, InvalidEntry, PendingLot, apply, expiring
from tests.unit.points.ledger_memory import MemoryStore
from tests.unit.points.replay import replay, replayed_state

pytestmark = pytest.mark.unit

TZ = ZoneInfo("Europe/Berlin")
T, M = "demo", "m-1"
NO_BONUS = Bonuses(sign_up=0, first_order=0, birthday_month=0, review=0, referral=0)
START = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


class _Deltas(TypedDict, total=False):
    """What an entry moves: the fields of ``Entry`` besides the line's identity."""

    available: int
    pending: int
    held: int
    lots: dict[str, int]
    debt: int
    qualifying: int
    lifetime: int
    pending_lot: dict[str, Any] | None
    unrecovered: int
    refs: dict[str, str]
    qualifying_month: str | None
    hold: dict[str, Any] | None


def _entry(seq: int, **deltas: Unpack[_Deltas]) -> Entry:
    return Entry(
        seq=seq, entry_type="adjust", key=f"k{seq}", at="2026-03-10T09:00:00.000Z", reason="r", **deltas
    )


def test_apply_moves_every_bucket_an_entry_names() -> None:
    account = Account(seq=4, lots={"2027-03-10": 50}, debt=0)
    apply(
        account,
        _entry(
            5,
            available=-50,
            held=50,
            lots={"2027-03-10": -50},
            hold={"redemption_id": "r1", "points": 50, "lapse_at": "x"},
        ),
    )
    apply(
        account,
        _entry(
            6,
            pending=30,
            lifetime=30,
            pending_lot={"day": "2026-03-10", "points": 30, "release_at": "y", "expires_on": "2027-03-10"},
        ),
    )
    apply(
        account, _entry(7, available=20, lots={"2027-04-01": 20}, qualifying=20, qualifying_month="2026-03")
    )
    assert account.seq == 7
    assert account.lots == {"2027-04-01": 20}  # a lot at zero leaves the account
    assert account.holds == {"r1": Hold(50, {"2027-03-10": 50}, "x")}
    assert account.pending == {"2026-03-10": PendingLot(30, "y", "2027-03-10")}
    assert (account.available, account.pending_points, account.held) == (20, 30, 50)
    assert (account.lifetime_earned, account.qualifying_months) == (30, {"2026-03": 20})
    apply(account, _entry(8, held=-50, hold={"redemption_id": "r1", "points": -50}))
    apply(
        account, _entry(9, pending=-30, pending_lot={"day": "2026-03-10", "points": -30, "release_at": "y"})
    )
    assert (account.holds, account.pending) == ({}, {})


@pytest.mark.parametrize(
    "entry",
    [
        _entry(3),  # not the next line
        _entry(2, available=-11, lots={"2027-03-10": -11}),  # beyond the lot
        _entry(2, available=5, lots={"2027-03-10": 4}),  # available is not the lots' change
        _entry(2, available=-1, debt=1, unrecovered=-1),  # recovers a shortfall there is not
        _entry(2, qualifying=5),  # qualifying points without their month
        _entry(2, pending=5),  # pending without a pending lot
        _entry(2, pending=-5, pending_lot={"day": "2026-01-01", "points": -5, "release_at": "y"}),
        _entry(2, held=-4, hold={"redemption_id": "r9", "points": -4}),  # no such hold
    ],
)
def test_apply_refuses_an_entry_that_does_not_fit_and_changes_nothing(entry: Entry) -> None:
    account = Account(seq=1, lots={"2027-03-10": 10})
    before = copy.deepcopy(account)
    with pytest.raises(InvalidEntry):
        apply(account, entry)
    assert account == before


def test_expiring_lists_the_lots_after_today_within_the_notice_window() -> None:
    rules = Points(expiring_notice_days=30)
    account = Account(lots={"2026-03-10": 1, "2026-03-11": 2, "2026-04-09": 3, "2026-04-10": 4})
    assert expiring(account, rules, date(2026, 3, 10)) == {"2026-03-11": 2, "2026-04-09": 3}


def test_the_stored_expiring_lots_follow_every_write_and_the_sweep_that_opens_the_window() -> None:
    rules = Points(bonuses=NO_BONUS, pending_days=0)
    store = MemoryStore()

    def ctx(at: datetime) -> logic.Context:
        return logic.Context(store, rules, TZ, at, sleep=lambda seconds: None)

    logic.order_placed(ctx(START), T, M, "o1", Decimal("80"), [], START.isoformat())
    book = store.book(T, M)
    assert (book.expiring, book.next_due) == ({}, "2027-02-07T23:00:00.000Z")  # 30 days before expiry
    logic.sweep(ctx(datetime(2027, 2, 7, 22, 59, tzinfo=UTC)), T, M)
    assert store.book(T, M).expiring == {}  # nothing due yet: nothing written
    logic.sweep(ctx(datetime(2027, 2, 7, 23, 0, tzinfo=UTC)), T, M)
    assert store.book(T, M).expiring == {"2027-03-10": 80}
    logic.redeem(ctx(datetime(2027, 2, 9, tzinfo=UTC)), T, M, "r1", 30, hold=False)
    assert store.book(T, M).expiring == {"2027-03-10": 50}
    logic.sweep(ctx(datetime(2027, 3, 9, 23, 0, tzinfo=UTC)), T, M)
    assert (store.book(T, M).expiring, store.book(T, M).account.lots) == ({}, {})


def test_the_log_replays_to_the_stored_account_holds_and_pending_lots_included() -> None:
    rules = Points(bonuses=NO_BONUS, pending_days=3, hold_minutes=60)
    store = MemoryStore()
    at = START

    def ctx() -> logic.Context:
        return logic.Context(store, rules, TZ, at, sleep=lambda seconds: None)

    logic.adjust(ctx(), T, M, "a1", 100, "opening balance", "admin")
    logic.order_placed(ctx(), T, M, "o1", Decimal("40"), [], at.isoformat())
    logic.redeem(ctx(), T, M, "h1", 30, hold=True)
    logic.redeem(ctx(), T, M, "h2", 20, hold=True)
    logic.order_refunded(ctx(), T, M, "o1", "rf1", Decimal("10"))
    logic.confirm(ctx(), T, M, "h1")
    account = store.book(T, M).account
    assert (account.available, account.pending_points, account.held) == (50, 30, 20)
    replayed = replay(store.book(T, M).entries).account
    assert replayed_state(replayed) == replayed_state(account)
    at += timedelta(days=5)  # the hold lapses, the pending lot is released
    logic.sweep(ctx(), T, M)
    account = store.book(T, M).account
    assert (account.available, account.pending_points, account.held, account.holds) == (100, 0, 0, {})
    assert replayed_state(replay(store.book(T, M).entries).account) == replayed_state(account)


def test_the_ledger_is_listed_newest_first_page_by_page() -> None:
    store = MemoryStore()
    ctx = logic.Context(store, Points(bonuses=NO_BONUS), TZ, START, sleep=lambda seconds: None)
    for n in range(5):
        logic.adjust(ctx, T, M, f"a{n}", n + 1, "correction", "admin")
    first = logic.ledger_page(store, T, M, 2, None)
    assert [e.seq for e in first.entries] == [5, 4]
    second = logic.ledger_page(store, T, M, 2, first.next_cursor)
    last = logic.ledger_page(store, T, M, 2, second.next_cursor)
    assert ([e.seq for e in second.entries], [e.seq for e in last.entries]) == ([3, 2], [1])
    assert last.next_cursor is None
    with pytest.raises(ValidationFailed):
        logic.ledger_page(store, T, M, 2, "not-a-cursor")
