"""The points ledger: pure rules, no AWS.

A member's points live in one :class:`Account` (the balance snapshot stored on
the member's ``#BALANCE`` item) and change only through the operations below.
Every operation returns the new account plus the ledger entries that explain
the change; the data-access layer writes them together, atomically, under a
version check and a business-key marker, so nothing is applied twice.

Buckets:

* ``available`` = the sum of the available lots minus ``debt`` (a negative
  balance, only ever non-zero when the negative balance policy allows it;
  while there is debt there are no lots, and new points pay the debt first);
* ``pending`` = points of orders still inside the return window, one pending
  lot per order day (so the account's size follows the configured window, not
  the number of orders);
* ``held`` = points taken by unconfirmed redemption holds.

Lots are keyed by their expiry day (``expires_on``, a day in the program's
time zone): points earned on the same day share a lot. Debits take the
soonest-expiring lots first and each entry records the lots it moved, so the
ledger can rebuild every lot exactly (:func:`replay`).
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from loyalty.program import ORDER_CURRENCY, Points
from loyalty.timeutil import iso, parse_rfc3339

# A sweep pass writes at most this many items for releases and lapses (a lapse
# is up to three: its entry, a recovery entry and its redemption record), plus
# three for expiry, the expiry notice and the tier review. A transaction holds at
# most 100 items and the operation that follows the sweep in the same commit
# needs at most 16 (balance, marker, order and redemption records, spent-on-order
# update, nine entries, two notices). More due is applied in further commits.
SWEEP_WRITES = 80

# (amount, from currency, to currency) -> the amount converted, or None without a rate
Converter = Callable[[Decimal, str, "str | None"], "Decimal | None"]


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


# --- state -----------------------------------------------------------------


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
    """One ledger line. Deltas are signed; ``lots`` is the signed change of each
    available lot; ``hold_lots`` the lots a hold took or gave back."""

    seq: int
    entry_type: str  # earn, release, redeem, hold, release-hold, expire, clawback, adjust
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


# --- calendar helpers --------------------------------------------------------


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (or earlier), clamped to the month's last day."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    following = date(year + month // 12, month % 12 + 1, 1)
    return date(year, month, min(day.day, (following - timedelta(days=1)).day))


def start_of(day: str, tz: ZoneInfo) -> str:
    """The first instant of a program-local day, as UTC ISO."""
    return iso(datetime.combine(date.fromisoformat(day), time(0), tzinfo=tz))


def month_of(moment: str, tz: ZoneInfo) -> str:
    return parse_rfc3339(moment).astimezone(tz).strftime("%Y-%m")


def day_of(moment: str, tz: ZoneInfo) -> str:
    return parse_rfc3339(moment).astimezone(tz).date().isoformat()


def is_day(text: str) -> bool:
    """Whether ``text`` is an ISO day (a pending lot's key), not an order id."""
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


def request_hash(payload: dict[str, Any]) -> str:
    canonical = repr(sorted(payload.items())).encode()
    return hashlib.sha256(canonical).hexdigest()


# --- the operations ------------------------------------------------------------


class Book:
    """Applies operations to a copy of an account, collecting entries and notices."""

    def __init__(self, account: Account, rules: Points, tz: ZoneInfo, now: datetime) -> None:
        self.account = copy.deepcopy(account)
        if not self.account.tier:
            self.account.tier = rules.tiers[0].name
        if not self.account.tier_kept:
            self.account.tier_kept = self.account.tier
        self.rules = rules
        self.tz = tz
        self.now = now
        self.at = iso(now)
        self.today = now.astimezone(tz).date()
        self.entries: list[Entry] = []
        self.notices: list[Notice] = []
        self.lapsed: list[str] = []  # redemption ids whose holds lapsed
        self.spent_on_order: tuple[str, int] | None = None

    def outcome(self) -> Outcome:
        return Outcome(self.account, self.entries, self.notices, self.spent_on_order)

    @property
    def writes(self) -> int:
        """Items this book adds to a commit besides the balance, the marker and the
        order or redemption records: entries, notices, lapsed redemption records."""
        return len(self.entries) + len(self.notices) + len(self.lapsed)

    # posting -----------------------------------------------------------------

    def _post(self, entry_type: str, key: str, reason: str, **deltas: Any) -> Entry:
        self.account.seq += 1
        entry = Entry(
            seq=self.account.seq, entry_type=entry_type, key=key, at=self.at, reason=reason, **deltas
        )
        self.entries.append(entry)
        return entry

    def note(self, key: str, reason: str, refs: dict[str, str]) -> None:
        """A ledger line that moves nothing: why an event earned or took nothing."""
        self._post("note", key, reason, refs=refs)

    def _credit(self, lots: dict[str, int]) -> tuple[dict[str, int], int]:
        """Add points to available lots; debt is paid first. Returns (lot changes, debt change)."""
        moved: dict[str, int] = {}
        paid = 0
        for expires_on in sorted(lots):
            points = lots[expires_on]
            pay = min(points, self.account.debt)
            self.account.debt -= pay
            paid += pay
            if points - pay:
                self.account.lots[expires_on] = self.account.lots.get(expires_on, 0) + points - pay
                moved[expires_on] = moved.get(expires_on, 0) + points - pay
        return moved, -paid

    def _debit(self, points: int) -> dict[str, int]:
        """Take up to ``points`` from available lots, soonest expiring first."""
        moved: dict[str, int] = {}
        for expires_on in sorted(self.account.lots):
            if points <= 0:
                break
            take = min(points, self.account.lots[expires_on])
            self.account.lots[expires_on] -= take
            if self.account.lots[expires_on] == 0:
                del self.account.lots[expires_on]
            moved[expires_on] = -take
            points -= take
        return moved

    def _debit_with_policy(self, points: int) -> tuple[dict[str, int], int, int]:
        """Debit beyond the lots as the negative balance policy allows.
        Returns (lot changes, debt change, unrecovered)."""
        moved = self._debit(points)
        short = points + sum(moved.values())
        debt = 0
        if short and self.rules.negative_balance.policy == "allow":
            debt = min(short, self.rules.negative_balance.cap - self.account.debt)
            debt = max(debt, 0)
            self.account.debt += debt
        self.account.shortfall += short - debt
        return moved, debt, short - debt

    def _recover_shortfall(self, points: int, key: str, refs: dict[str, str]) -> None:
        """Points that just came back to the member (``points``: a released hold, spent
        points returned) pay the shortfall of earlier clawbacks first."""
        take = min(points, self.account.shortfall)
        if take <= 0:
            return
        lots = self._debit(take)
        taken = -sum(lots.values())
        self.account.shortfall -= taken
        self._post(
            "clawback",
            f"{key}#recovered",
            f"{taken} points recovered for an earlier clawback the balance could not cover",
            available=-taken,
            lots=lots,
            unrecovered=-taken,
            refs=refs,
        )

    def expiry_for(self, day: date) -> str:
        return add_months(day, self.rules.expiry_months).isoformat()

    def release_for(self, day: date) -> str:
        """Points of orders placed on ``day`` are released when its return window ends."""
        return start_of((day + timedelta(days=self.rules.pending_days + 1)).isoformat(), self.tz)

    # tiers ---------------------------------------------------------------------

    def qualifying_total(self) -> int:
        first = add_months(self.today.replace(day=1), -11).strftime("%Y-%m")
        return sum(p for month, p in self.account.qualifying_months.items() if month >= first)

    def _tier_index(self, name: str) -> int:
        for i, tier in enumerate(self.rules.tiers):
            if tier.name == name:
                return i
        return 0

    def _reached(self, qualifying: int) -> int:
        return max(i for i, t in enumerate(self.rules.tiers) if t.threshold <= qualifying)

    def _set_tier(self, index: int, reason: str) -> None:
        old = self.account.tier
        new = self.rules.tiers[index].name
        if new == old:
            return
        self.account.tier = new
        self.account.tier_since = self.today.isoformat()
        self.account.tier_review_on = add_months(self.today, 12).isoformat() if index > 0 else None
        self.notices.append(
            Notice(
                type="points.tier_changed",
                key=f"tier:{self.at}:{new}",
                data={"from": old, "to": new, "reason": reason, "qualifying_points": self.qualifying_total()},
            )
        )

    def _count_qualifying(self, month: str, points: int) -> None:
        if points:
            self.account.qualifying_months[month] = self.account.qualifying_months.get(month, 0) + points

    def _upgrade(self) -> None:
        qualifying = self.qualifying_total()
        best = self._reached(qualifying)
        if best > self._tier_index(self.account.tier):
            self._set_tier(best, "qualifying points reached the threshold")
            self.account.tier_basis = qualifying
            self.account.tier_upgraded_at = self.at

    def _upgrade_undone(self, order: OrderRecord, qualifying_clawed: int) -> None:
        """A clawback of points the latest upgrade stood on: when what is left no longer
        reaches the tier, the member falls back to the better of the tier kept at the
        last review and the tier the remaining qualifying points reach."""
        account = self.account
        if account.tier_basis is None or not qualifying_clawed:
            return
        if order.counts_from is None or account.tier_upgraded_at is None:
            return
        if order.counts_from > account.tier_upgraded_at:
            return  # counted after the upgrade: the upgrade stands without it
        account.tier_basis -= qualifying_clawed
        current = self._tier_index(account.tier)
        if account.tier_basis >= self.rules.tiers[current].threshold:
            return
        qualifying = self.qualifying_total()
        fallback = max(self._tier_index(account.tier_kept), self._reached(qualifying))
        if fallback >= current:
            account.tier_basis, account.tier_upgraded_at = qualifying, self.at
            return
        review_on = account.tier_review_on
        self._set_tier(fallback, f"order {order.order_id} refunded: the upgrade no longer stands")
        account.tier_review_on = review_on if fallback > 0 else None
        if fallback == self._tier_index(account.tier_kept):
            account.tier_basis = account.tier_upgraded_at = None
        else:
            account.tier_basis, account.tier_upgraded_at = qualifying, self.at

    def _prune(self) -> None:
        oldest = add_months(self.today.replace(day=1), -12).strftime("%Y-%m")
        self.account.qualifying_months = {
            m: p for m, p in self.account.qualifying_months.items() if m >= oldest
        }
        recent = (self.today - timedelta(days=40)).isoformat()
        self.account.earned_days = {d: p for d, p in self.account.earned_days.items() if d >= recent}
        last_year = str(self.today.year - 1)
        self.account.birthday_bonus = {y: o for y, o in self.account.birthday_bonus.items() if y >= last_year}

    # earning -------------------------------------------------------------------

    def earn_order(self, order: OrderRecord, quote: Quote, key: str) -> OrderRecord:
        """Credit an order's points: pending through the return window, then available.
        Qualifying points count when the points are released."""
        order = copy.deepcopy(order)
        placed = parse_rfc3339(order.placed_at or self.at)
        day = placed.astimezone(self.tz).date()
        points = quote.order_points
        if self.rules.daily_cap is not None:
            used = self.account.earned_days.get(day.isoformat(), 0)
            points = max(0, min(points, self.rules.daily_cap - used))
        self.account.earned_days[day.isoformat()] = self.account.earned_days.get(day.isoformat(), 0) + points
        order.earned = points
        order.day = day.isoformat()
        order.qualifying_month = day.strftime("%Y-%m")
        expires_on = self.expiry_for(day)
        release_at = self.release_for(day)
        refs = {"order_id": order.order_id}
        if points:
            self.account.lifetime_earned += points
            if self.rules.pending_days and release_at > self.at:
                lot = self.account.pending.setdefault(order.day, PendingLot(0, release_at, expires_on))
                lot.points += points
                order.counts_from = release_at
                self._post(
                    "earn",
                    f"{key}#earn",
                    f"order {order.order_id}: " + "; ".join(quote.rules),
                    pending=points,
                    lifetime=points,
                    pending_lot={"day": order.day, "points": points, "release_at": release_at},
                    refs=refs,
                )
            else:
                lots, debt = self._credit({expires_on: points})
                self._count_qualifying(order.qualifying_month, points)
                order.counts_from = self.at
                self._post(
                    "earn",
                    f"{key}#earn",
                    f"order {order.order_id}: " + "; ".join(quote.rules) + " (return window already over)",
                    available=points,
                    lots=lots,
                    debt=debt,
                    qualifying=points,
                    lifetime=points,
                    refs=refs,
                )
                self._upgrade()
        for name, bonus in quote.bonuses:
            if bonus <= 0:
                continue
            if name == "first_order":
                self.account.first_order_id = order.order_id
            if name == "birthday_month":
                self.account.birthday_bonus[str(day.year)] = order.order_id
            order.bonuses[name] = bonus
            self.bonus(
                bonus, f"{key}#{name}", f"{name.replace('_', ' ')} bonus, order {order.order_id}", refs
            )
        self._prune()
        return order

    def bonus(self, points: int, key: str, reason: str, refs: dict[str, str] | None = None) -> None:
        """Fixed bonus points: available at once, in today's lot. Not qualifying."""
        if points <= 0:
            return
        lots, debt = self._credit({self.expiry_for(self.today): points})
        self.account.lifetime_earned += points
        self._post(
            "earn", key, reason, available=points, lots=lots, debt=debt, lifetime=points, refs=refs or {}
        )

    # refunds -----------------------------------------------------------------

    def refund(
        self, order: OrderRecord, amount: Decimal, currency: str | None, key: str, convert: Converter
    ) -> OrderRecord:
        """Claw back in proportion to the refunded amount: pending first, then available.
        Each refund is applied once (the caller's business key)."""
        order = copy.deepcopy(order)
        named = ORDER_CURRENCY if currency is None or currency == order.currency else currency
        order.refunds[named] = order.refunds.get(named, Decimal(0)) + amount
        if order.known:
            self._settle_refunds(order, key, convert)
        return order

    def cancel(self, order: OrderRecord, key: str, convert: Converter) -> OrderRecord:
        order = copy.deepcopy(order)
        order.cancelled = True
        if order.known:
            self._settle_refunds(order, key, convert)
        return order

    def refunded_amount(self, order: OrderRecord, convert: Converter) -> tuple[Decimal, list[str]]:
        """The refunded amount in the order's currency, and the refund currencies that
        could not be converted to it (no exchange rate)."""
        total = Decimal(0)
        missing = []
        for currency, amount in sorted(order.refunds.items()):
            if currency in (ORDER_CURRENCY, order.currency):
                total += amount
                continue
            converted = convert(amount, currency, order.currency)
            if converted is None:
                missing.append(currency)
            else:
                total += converted
        return total, missing

    def fully_reversed(self, order: OrderRecord, convert: Converter) -> bool:
        """Cancelled, or refunded in full."""
        part, whole = self.refunded_share(order, convert)
        return part >= whole

    def refunded_share(self, order: OrderRecord, convert: Converter) -> tuple[Decimal, Decimal]:
        """(part, whole): the share of the order that was refunded or cancelled."""
        if order.cancelled:
            return Decimal(1), Decimal(1)
        if order.total <= 0:
            return Decimal(1 if order.refunds else 0), Decimal(1)
        refunded, _ = self.refunded_amount(order, convert)
        return min(refunded, order.total), order.total

    def _settle_refunds(self, order: OrderRecord, key: str, convert: Converter) -> None:
        """Bring the order's returned spent points, its clawback and its bonuses up to
        its refunded share, in that order."""
        part, whole = self.refunded_share(order, convert)
        refs = {"order_id": order.order_id}
        _, missing = self.refunded_amount(order, convert)
        if missing and not order.cancelled:
            self.note(
                f"{key}#unconverted",
                f"order {order.order_id}: refund in {', '.join(missing)} has no exchange rate to "
                f"{order.currency}; nothing clawed back for it",
                refs,
            )
        # Spent points come back first, so a clawback that follows can take them:
        # what a reversed order gave never outlives it.
        if self.rules.return_spent_points_on_refund and order.spent:
            give = int((Decimal(order.spent) * part / whole).to_integral_value(rounding=ROUND_FLOOR))
            give -= order.returned
            if give > 0:
                order.returned += give
                lots, debt = self._credit({self.expiry_for(self.today): give})
                self._post(
                    "adjust",
                    f"{key}#return",
                    f"points spent on order {order.order_id} returned after its refund",
                    available=give,
                    lots=lots,
                    debt=debt,
                    refs=refs,
                )
                self._recover_shortfall(give, f"{key}#return", refs)
        target = int((Decimal(order.earned) * part / whole).to_integral_value(rounding=ROUND_FLOOR))
        claw = target - order.clawed
        if claw > 0:
            order.clawed = target
            from_pending = 0
            pending_lot = None
            lot = self.account.pending.get(order.day or "") or self.account.pending.get(order.order_id)
            if lot is not None:
                from_pending = min(claw, lot.points)
                lot.points -= from_pending
                pending_lot = {"day": order.day, "points": -from_pending, "release_at": lot.release_at}
                if lot.points == 0:
                    self.account.pending = {k: v for k, v in self.account.pending.items() if v is not lot}
            lots, debt, unrecovered = self._debit_with_policy(claw - from_pending)
            month = order.qualifying_month or ""
            counted = claw - from_pending if lot is None or lot.counted else 0
            # The month may have left the 12-month window: then only the tier's basis moves.
            qualifying = min(counted, self.account.qualifying_months.get(month, 0))
            if qualifying:
                self.account.qualifying_months[month] -= qualifying
            self._post(
                "clawback",
                f"{key}#clawback",
                f"order {order.order_id} refunded {part} of {whole}",
                available=sum(lots.values()) - debt,
                pending=-from_pending,
                lots=lots,
                debt=debt,
                qualifying=-qualifying,
                pending_lot=pending_lot,
                unrecovered=unrecovered,
                refs=refs,
            )
            self._upgrade_undone(order, counted)
        if self.fully_reversed(order, convert) and not order.bonuses_reversed:
            self._reverse_bonuses(order, key)

    def _reverse_bonuses(self, order: OrderRecord, key: str) -> None:
        """Bonuses granted because of an order go when the whole order goes; a later
        order can then earn them again."""
        order.bonuses_reversed = True
        for name, points in sorted(order.bonuses.items()):
            if name == "first_order" and self.account.first_order_id == order.order_id:
                self.account.first_order_id = None
            if name == "birthday_month":
                self.account.birthday_bonus = {
                    y: o for y, o in self.account.birthday_bonus.items() if o != order.order_id
                }
            lots, debt, unrecovered = self._debit_with_policy(points)
            self._post(
                "clawback",
                f"{key}#{name}-reversed",
                f"{name.replace('_', ' ')} bonus taken back: order {order.order_id} reversed in full",
                available=sum(lots.values()) - debt,
                lots=lots,
                debt=debt,
                unrecovered=unrecovered,
                refs={"order_id": order.order_id},
            )

    def settle_after_arrival(self, order: OrderRecord, key: str, convert: Converter) -> OrderRecord:
        """A refund or cancellation that arrived before its order is applied now."""
        order = copy.deepcopy(order)
        if order.refunds or order.cancelled:
            self._settle_refunds(order, key, convert)
        return order

    # redemptions -------------------------------------------------------------

    def redeem(self, redemption: Redemption, hold: bool, key: str) -> Redemption:
        points = redemption.points
        if points > self.account.available:
            raise InsufficientPoints(points, max(self.account.available, 0))
        if hold and len(self.account.holds) >= self.rules.max_active_holds:
            raise TooManyHolds(self.rules.max_active_holds)
        redemption = copy.deepcopy(redemption)
        lots = self._debit(points)
        redemption.lots = {k: -v for k, v in lots.items()}
        refs = {"redemption_id": redemption.redemption_id}
        if redemption.order_id:
            refs["order_id"] = redemption.order_id
        if hold:
            lapse_at = iso(self.now + timedelta(minutes=self.rules.hold_minutes))
            self.account.holds[redemption.redemption_id] = Hold(points, dict(redemption.lots), lapse_at)
            redemption.status, redemption.lapse_at = "held", lapse_at
            self._post(
                "hold",
                key,
                f"hold for {redemption.reward or 'a reward'}",
                available=-points,
                held=points,
                lots=lots,
                refs=refs,
            )
        else:
            redemption.status = "redeemed"
            if redemption.order_id:
                self.spent_on_order = (redemption.order_id, points)
            self._post(
                "redeem",
                key,
                f"redeemed for {redemption.reward or 'a reward'}",
                available=-points,
                lots=lots,
                refs=refs,
            )
        redemption.updated_at = self.at
        return redemption

    def confirm(self, redemption: Redemption, key: str) -> Redemption:
        if redemption.status == "redeemed":
            return redemption
        if redemption.status != "held" or redemption.redemption_id not in self.account.holds:
            raise InvalidTransition(
                f"a {redemption.status} redemption cannot be confirmed", "redemption_not_held"
            )
        redemption = copy.deepcopy(redemption)
        hold = self.account.holds.pop(redemption.redemption_id)
        redemption.status, redemption.updated_at = "redeemed", self.at
        refs = {"redemption_id": redemption.redemption_id}
        if redemption.order_id:
            refs["order_id"] = redemption.order_id
            self.spent_on_order = (redemption.order_id, hold.points)  # spent only once confirmed
        self._post(
            "redeem",
            key,
            f"hold confirmed for {redemption.reward or 'a reward'}",
            held=-hold.points,
            refs=refs,
        )
        return redemption

    def release_hold(self, redemption: Redemption, key: str) -> Redemption:
        if redemption.status in ("cancelled", "lapsed"):
            return redemption
        if redemption.status != "held" or redemption.redemption_id not in self.account.holds:
            raise InvalidTransition(
                f"a {redemption.status} redemption cannot be cancelled", "redemption_not_held"
            )
        redemption = copy.deepcopy(redemption)
        self._give_back(redemption.redemption_id, key, "hold cancelled")
        redemption.status, redemption.updated_at = "cancelled", self.at
        return redemption

    def _give_back(self, redemption_id: str, key: str, reason: str) -> None:
        hold = self.account.holds.pop(redemption_id)
        lots, debt = self._credit(hold.lots)
        refs = {"redemption_id": redemption_id}
        self._post(
            "release-hold",
            key,
            reason,
            available=hold.points,
            held=-hold.points,
            lots=lots,
            debt=debt,
            refs=refs,
        )
        self._recover_shortfall(hold.points, key, refs)

    # adjustments -------------------------------------------------------------

    def adjust(self, points: int, key: str, reason: str, refs: dict[str, str]) -> int:
        """An admin correction. Returns the points not applied (denied by the policy)."""
        if points > 0:
            lots, debt = self._credit({self.expiry_for(self.today): points})
            self._post("adjust", key, reason, available=points, lots=lots, debt=debt, refs=refs)
            return 0
        lots, debt, unrecovered = self._debit_with_policy(-points)
        self._post(
            "adjust",
            key,
            reason,
            available=sum(lots.values()) - debt,
            lots=lots,
            debt=debt,
            unrecovered=unrecovered,
            refs=refs,
        )
        return unrecovered

    # the sweep ---------------------------------------------------------------

    def sweep(self, max_writes: int = SWEEP_WRITES) -> bool:
        """Everything due by now: release pending points, lapse holds, expire lots,
        announce lots about to expire, re-evaluate the tier on its anniversary.
        State-based, so running it twice does nothing the second time.

        Takes at most about ``max_writes`` items' worth of releases and lapses, so a
        commit stays within DynamoDB's transaction limits however much is due; returns
        False when more is due than that (expiry, notices and the tier review wait
        for the pass that completes)."""
        due = sorted(
            (lot.release_at, day) for day, lot in self.account.pending.items() if lot.release_at <= self.at
        )
        for _, day in due:
            if self.writes >= max_writes:
                return False
            lot = self.account.pending.pop(day)
            lots, debt = self._credit({lot.expires_on: lot.points})
            month = day[:7] if not lot.counted else ""
            if month:
                self._count_qualifying(month, lot.points)
            self._post(
                "release",
                f"release:{day}:{lot.release_at}",
                f"orders of {day}: return window over",
                available=lot.points,
                pending=-lot.points,
                lots=lots,
                debt=debt,
                qualifying=lot.points if month else 0,
                pending_lot={"day": day, "points": -lot.points, "release_at": lot.release_at},
            )
        if due:
            self._upgrade()
        for redemption_id in sorted(r for r, h in self.account.holds.items() if h.lapse_at <= self.at):
            if self.writes + 3 > max_writes:  # its entry, a recovery entry, the redemption record
                return False
            self._give_back(redemption_id, f"lapse:{redemption_id}", "hold lapsed unconfirmed")
            self.lapsed.append(redemption_id)
        today = self.today.isoformat()
        expired = {d: -p for d, p in self.account.lots.items() if d <= today}
        if expired:
            for expires_on in expired:
                del self.account.lots[expires_on]
            self._post(
                "expire",
                f"expire:{today}:{self.account.seq + 1}",
                "expired: " + ", ".join(f"{-p} of {d}" for d, p in sorted(expired.items())),
                available=sum(expired.values()),
                lots=expired,
            )
        self.account.notified = [d for d in self.account.notified if d > today]
        horizon = (self.today + timedelta(days=self.rules.expiring_notice_days)).isoformat()
        soon = sorted(d for d in self.account.lots if d <= horizon and d not in self.account.notified)
        if soon:
            self.account.notified.extend(soon)
            self.notices.append(
                Notice(
                    type="points.expiring",
                    key=f"expiring:{soon[0]}",
                    data={
                        "points": sum(self.account.lots[d] for d in soon),
                        "lots": [{"points": self.account.lots[d], "expires_on": d} for d in soon],
                    },
                )
            )
        if self.account.tier_review_on and self.account.tier_review_on <= today:
            self._review_tier()
        self._prune()
        return True

    def _review_tier(self) -> None:
        current = self._tier_index(self.account.tier)
        earned = self._reached(self.qualifying_total())
        if earned >= current:
            assert self.account.tier_review_on is not None
            review = date.fromisoformat(self.account.tier_review_on)
            while review <= self.today:
                review = add_months(review, 12)
            self.account.tier_review_on = review.isoformat()
        else:
            self._set_tier(current - 1, "tier anniversary: qualifying points below the threshold")
        self.account.tier_kept = self.account.tier
        self.account.tier_basis = self.account.tier_upgraded_at = None


def next_due(account: Account, rules: Points, tz: ZoneInfo) -> str | None:
    """The first instant at which the sweep has something to do for this account."""
    moments = [p.release_at for p in account.pending.values()]
    moments += [h.lapse_at for h in account.holds.values()]
    for expires_on in account.lots:
        moments.append(start_of(expires_on, tz))
        if expires_on not in account.notified:
            notice_day = date.fromisoformat(expires_on) - timedelta(days=rules.expiring_notice_days)
            moments.append(start_of(notice_day.isoformat(), tz))
    if account.tier_review_on:
        moments.append(start_of(account.tier_review_on, tz))
    return min(moments) if moments else None


# --- earning rules ------------------------------------------------------------


@dataclass(frozen=True)
class OrderLine:
    category: str | None
    amount: Decimal  # quantity x unit price


@dataclass(frozen=True)
class Quote:
    order_points: int  # qualifying points from the order itself
    bonuses: list[tuple[str, int]]
    rules: list[str]

    @property
    def total(self) -> int:
        return self.order_points + sum(points for _, points in self.bonuses)


def quote(
    total: Decimal,
    lines: list[OrderLine],
    placed_day: date,
    tier: str,
    rules: Points,
    *,
    first_order: bool,
    birthday_month: bool,
) -> Quote:
    """What an order earns: points per whole currency unit, each line weighted by
    its category and campaign multipliers (the order total is spread over the
    lines in proportion, so discounts and shipping are shared fairly), times the
    tier multiplier, rounded down once; plus bonuses."""
    if total < 0:
        raise ValueError("order total cannot be negative")
    applied = [f"{rules.points_per_unit} point(s) per whole currency unit of {total}"]
    line_sum = sum((line.amount for line in lines), Decimal(0))
    shares = (
        [(line.category, total * line.amount / line_sum) for line in lines]
        if line_sum > 0
        else [(None, total)]
    )
    weighted = Decimal(0)
    for category, share in shares:
        factor = Decimal(1)
        if category and category in rules.category_multipliers:
            factor *= rules.category_multipliers[category]
            applied.append(f"category {category} x{rules.category_multipliers[category]}")
        for campaign in rules.campaigns:
            if campaign.starts_on <= placed_day <= campaign.ends_on and (
                not campaign.categories or (category in campaign.categories)
            ):
                factor *= campaign.multiplier
                applied.append(f"campaign {campaign.name} x{campaign.multiplier}")
        weighted += share * factor
    tier_rule = next((t for t in rules.tiers if t.name == tier), rules.tiers[0])
    if tier_rule.multiplier != 1:
        applied.append(f"tier {tier_rule.name} x{tier_rule.multiplier}")
    points = int(
        (weighted * rules.points_per_unit * tier_rule.multiplier).to_integral_value(rounding=ROUND_FLOOR)
    )
    bonuses = []
    if first_order and rules.bonuses.first_order:
        bonuses.append(("first_order", rules.bonuses.first_order))
        applied.append(f"first order bonus +{rules.bonuses.first_order}")
    if birthday_month and rules.bonuses.birthday_month:
        bonuses.append(("birthday_month", rules.bonuses.birthday_month))
        applied.append(f"birthday month bonus +{rules.bonuses.birthday_month}")
    return Quote(points, bonuses, list(dict.fromkeys(applied)))


def quote_for(
    account: Account,
    total: Decimal,
    lines: list[OrderLine],
    placed_at: str,
    birthday: str | None,
    rules: Points,
    tz: ZoneInfo,
    *,
    bonuses: bool = True,
) -> Quote:
    """``bonuses`` False: an order that arrives already cancelled or refunded in full
    earns no bonus (and does not count as the first order)."""
    day = parse_rfc3339(placed_at).astimezone(tz).date()
    in_birthday_month = birthday is not None and birthday[-5:-3] == f"{day.month:02d}"
    return quote(
        total,
        lines,
        day,
        account.tier or rules.tiers[0].name,
        rules,
        first_order=bonuses and account.first_order_id is None,
        birthday_month=bonuses and in_birthday_month and str(day.year) not in account.birthday_bonus,
    )


# --- replay ---------------------------------------------------------------------


@dataclass
class Totals:
    available: int = 0
    pending: int = 0
    held: int = 0
    debt: int = 0
    lifetime: int = 0
    lots: dict[str, int] = field(default_factory=dict)


def replay(entries: list[Entry]) -> Totals:
    """Rebuild the buckets and every lot from the ledger alone."""
    totals = Totals()
    for entry in sorted(entries, key=lambda e: e.seq):
        totals.available += entry.available
        totals.pending += entry.pending
        totals.held += entry.held
        totals.debt += entry.debt
        totals.lifetime += entry.lifetime
        for expires_on, change in entry.lots.items():
            totals.lots[expires_on] = totals.lots.get(expires_on, 0) + change
            if totals.lots[expires_on] < 0:
                raise AssertionError(f"entry {entry.seq} consumed lot {expires_on} beyond its size")
            if totals.lots[expires_on] == 0:
                del totals.lots[expires_on]
    return totals
