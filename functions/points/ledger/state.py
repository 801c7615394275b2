"""The ledger's state: a member's account, the records it keeps about orders and
redemptions, the ledger line (:class:`Entry`), and :func:`apply`, the only code
that changes an account's points.

:func:`apply` covers, exactly, everything an entry moves:

* ``seq`` (an entry is the account's next line, or it is refused);
* the available lots (``lots``: each lot's signed change; a lot never goes below
  zero and leaves the account at zero) and, through them, ``available``;
* ``debt`` (the negative balance) and ``shortfall`` (``unrecovered``);
* the pending lots (``pending_lot``: created with its release instant and the lot it
  joins, grown, shrunk, removed at zero) and, through them, ``pending``;
* the holds (``hold``: taken with its lapse instant, the lots it took being the
  entry's lots; given back or confirmed whole) and, through them, ``held``;
* ``lifetime_earned`` and the qualifying points of the entry's month
  (``qualifying_months``).

So replaying the ledger from an empty account gives these fields of the stored
account, by construction. Everything else is the book's own state, changed by
the operations directly and never derived from entries: the tier and what a tier
review needs (``tier*``), the lots announced as expiring (``notified``), the
daily-cap days (``earned_days``), the bonuses granted once (``first_order_id``,
``birthday_bonus``), the stored ``version``, and the pruning of qualifying months
older than the 12-month window.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any


class InsufficientPoints(Exception):
    """A redemption asked for more than the available points."""

    def __init__(self, requested: int, available: int) -> None:
        super().__init__(f"requested {requested} points, {available} available")
        self.requested = requested
        self.available = available


class TooManyHolds(Exception):
    """The member has as many unconfirmed holds as the program allows."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"a member may have at most {limit} unconfirmed holds; confirm or cancel one")
        self.limit = limit


class InvalidTransition(Exception):
    """The operation does not apply to the redemption's current state."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class PendingLot:
    """The points of every order placed on one program-local day, pending until
    that day's return window ends. Keyed by the order day, so the account holds
    at most ``pending_days + 1`` of them, however many orders a member places."""

    points: int
    release_at: str  # the first instant after the day's return window (UTC ISO)
    expires_on: str  # the lot it joins once released
    counted: bool = False  # qualifying points already counted (lots stored before counting moved to release)


@dataclass
class Hold:
    points: int
    lots: dict[str, int]  # expires_on -> points taken from that lot
    lapse_at: str


@dataclass
class Account:
    version: int = 0
    seq: int = 0  # ledger entries written so far
    lots: dict[str, int] = field(default_factory=dict)
    debt: int = 0
    # Clawed-back points the negative balance policy did not let us take ("unrecovered"):
    # recovered first from points that come back to the member (a released hold, spent
    # points returned after a refund), so neither can hand them out again.
    shortfall: int = 0
    pending: dict[str, PendingLot] = field(default_factory=dict)  # order day -> lot
    holds: dict[str, Hold] = field(default_factory=dict)  # redemption_id -> hold
    lifetime_earned: int = 0
    qualifying_months: dict[str, int] = field(default_factory=dict)  # YYYY-MM -> released points
    tier: str = ""
    tier_since: str | None = None  # day the current tier began
    tier_review_on: str | None = None  # next anniversary re-evaluation (None for the base tier)
    # The tier the member keeps if the latest upgrade does not stand (set at each
    # anniversary review), and the qualifying points that upgrade stood on, less
    # the clawbacks of points counted by then (None: no upgrade since the review).
    tier_kept: str = ""
    tier_basis: int | None = None
    tier_upgraded_at: str | None = None
    notified: list[str] = field(default_factory=list)  # lots announced as expiring
    earned_days: dict[str, int] = field(default_factory=dict)  # day -> order points (daily cap)
    first_order_id: str | None = None  # the order that earned the first-order bonus
    birthday_bonus: dict[str, str] = field(default_factory=dict)  # year -> the order that earned it

    @property
    def available(self) -> int:
        return sum(self.lots.values()) - self.debt

    @property
    def pending_points(self) -> int:
        return sum(p.points for p in self.pending.values())

    @property
    def held(self) -> int:
        return sum(h.points for h in self.holds.values())


@dataclass
class OrderRecord:
    """What the ledger knows about one order: enough to claw back in proportion."""

    order_id: str
    total: Decimal = Decimal(0)  # in the order's currency
    currency: str | None = None
    known: bool = False  # the order itself has arrived (a refund may come first)
    placed_at: str | None = None
    day: str | None = None  # the order day (program time zone): its pending lot
    counts_from: str | None = None  # when its points counted as qualifying (release)
    earned: int = 0  # points the order earned (bonuses excluded)
    qualifying_month: str | None = None
    clawed: int = 0
    # Refunded amounts by the currency the refund named (ORDER_CURRENCY: the order's).
    refunds: dict[str, Decimal] = field(default_factory=dict)
    cancelled: bool = False
    bonuses: dict[str, int] = field(default_factory=dict)  # bonuses granted because of this order
    bonuses_reversed: bool = False
    spent: int = 0  # points spent on this order: direct redemptions and confirmed holds
    returned: int = 0  # spent points given back after refunds


@dataclass
class Redemption:
    redemption_id: str
    points: int
    status: str  # held | redeemed | cancelled | lapsed
    request_hash: str
    created_at: str
    reward: str | None = None
    order_id: str | None = None
    lots: dict[str, int] = field(default_factory=dict)
    lapse_at: str | None = None
    updated_at: str | None = None


@dataclass(frozen=True)
class Entry:
    """One ledger line: what it moved, signed. ``available`` is always the lots'
    change less the debt's; ``pending`` the pending lot's change; ``held`` the hold's.

    ``pending_lot`` names the pending lot created, grown, shrunk or released
    (``day``: its key, ``points``, ``release_at``; ``expires_on`` when the entry
    creates it); ``hold`` the hold taken (``redemption_id``, ``points``,
    ``lapse_at``; the lots it took are the entry's ``lots``, negated) or given back
    or confirmed (``redemption_id``, negative ``points``)."""

    seq: int
    entry_type: str  # earn, release, redeem, hold, release-hold, expire, clawback, adjust, note
    key: str  # business key: the same source never produces a second entry
    at: str
    reason: str
    available: int = 0
    pending: int = 0
    held: int = 0
    lots: dict[str, int] = field(default_factory=dict)
    debt: int = 0  # change of the negative balance
    qualifying: int = 0
    lifetime: int = 0
    pending_lot: dict[str, Any] | None = None  # the pending lot created or removed
    unrecovered: int = 0  # clawback the policy did not let us take
    refs: dict[str, str] = field(default_factory=dict)  # order_id, redemption_id, ...
    qualifying_month: str | None = None  # the month (YYYY-MM) ``qualifying`` counts in
    hold: dict[str, Any] | None = None  # the hold taken or given back


@dataclass(frozen=True)
class Notice:
    """Something for the event log: tier changes, points about to expire."""

    type: str  # points.tier_changed | points.expiring
    key: str
    data: dict[str, Any]


@dataclass
class Outcome:
    account: Account
    entries: list[Entry] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    spent_on_order: tuple[str, int] | None = None  # (order_id, points) added to the order's spent


class InvalidEntry(ValueError):
    """An entry that does not fit the account: never applied, never written."""


def apply(account: Account, entry: Entry) -> None:
    """Move ``account`` by ``entry`` (in place), or raise :class:`InvalidEntry` and
    change nothing. The only code that changes the fields listed in the module
    docstring."""
    _check(account, entry)
    account.seq = entry.seq
    for expires_on, change in entry.lots.items():
        points = account.lots.get(expires_on, 0) + change
        if points:
            account.lots[expires_on] = points
        else:
            account.lots.pop(expires_on, None)
    account.debt += entry.debt
    account.shortfall += entry.unrecovered
    account.lifetime_earned += entry.lifetime
    if entry.qualifying:
        month = str(entry.qualifying_month)
        account.qualifying_months[month] = account.qualifying_months.get(month, 0) + entry.qualifying
    if entry.pending_lot is not None:
        _apply_pending(account, entry.pending_lot)
    if entry.hold is not None:
        _apply_hold(account, entry)


def _check(account: Account, entry: Entry) -> None:
    why = _bucket_fault(account, entry) or _pending_fault(account, entry) or _hold_fault(account, entry)
    if why:
        raise InvalidEntry(f"entry {entry.seq} ({entry.entry_type} {entry.key}): {why}")


def _bucket_fault(account: Account, entry: Entry) -> str | None:
    """Why the entry's sequence, lots, debt or qualifying points do not fit, or None."""
    if entry.seq != account.seq + 1:
        return f"the account's next entry is {account.seq + 1}"
    if entry.available != sum(entry.lots.values()) - entry.debt:
        return "available is not the lots' change less the debt's"
    overdrawn = [d for d, change in entry.lots.items() if account.lots.get(d, 0) + change < 0]
    if overdrawn:
        return f"takes more than lot {overdrawn[0]} holds"
    if account.debt + entry.debt < 0 or account.shortfall + entry.unrecovered < 0:
        return "pays more debt or shortfall than there is"
    if entry.qualifying and not entry.qualifying_month:
        return "qualifying points without their month"
    return None


def _pending_fault(account: Account, entry: Entry) -> str | None:
    """Why the entry's pending change does not fit its pending lot, or None."""
    lot = entry.pending_lot
    if entry.pending != (int(lot["points"]) if lot is not None else 0):
        return "pending is not the pending lot's change"
    if lot is None:
        return None
    current = account.pending.get(str(lot["day"]))
    points = (current.points if current else 0) + int(lot["points"])
    if points < 0 or (current is None and (points == 0 or "expires_on" not in lot)):
        return f"does not fit pending lot {lot['day']}"
    return None


def _hold_fault(account: Account, entry: Entry) -> str | None:
    """Why the entry's held change does not take or end its hold whole, or None."""
    hold = entry.hold
    if entry.held != (int(hold["points"]) if hold is not None else 0):
        return "held is not the hold's change"
    if hold is None:
        return None
    current = account.holds.get(str(hold["redemption_id"]))
    if int(hold["points"]) > 0:
        if current is not None or -sum(entry.lots.values()) != hold["points"]:
            return f"does not take hold {hold['redemption_id']}"
    elif current is None or current.points != -int(hold["points"]):
        return f"does not end hold {hold['redemption_id']} whole"
    return None


def _apply_pending(account: Account, lot: dict[str, Any]) -> None:
    day, change = str(lot["day"]), int(lot["points"])
    current = account.pending.get(day)
    if current is None:
        account.pending[day] = PendingLot(change, str(lot["release_at"]), str(lot["expires_on"]))
    elif current.points + change:
        account.pending[day] = replace(current, points=current.points + change)
    else:
        del account.pending[day]


def _apply_hold(account: Account, entry: Entry) -> None:
    assert entry.hold is not None
    redemption_id, points = str(entry.hold["redemption_id"]), int(entry.hold["points"])
    if points > 0:
        lots = {expires_on: -change for expires_on, change in entry.lots.items()}
        account.holds[redemption_id] = Hold(points, lots, str(entry.hold["lapse_at"]))
    else:
        del account.holds[redemption_id]
