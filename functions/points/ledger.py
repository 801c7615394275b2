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
  lot per order;
* ``held`` = points taken by unconfirmed redemption holds.

Lots are keyed by their expiry day (``expires_on``, a day in the program's
time zone): points earned on the same day share a lot. Debits take the
soonest-expiring lots first and each entry records the lots it moved, so the
ledger can rebuild every lot exactly (:func:`replay`).
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from loyalty.program import Points
from loyalty.timeutil import iso, parse_rfc3339

# A sweep releases at most this many pending lots per commit (a transaction holds
# at most 100 items); the rest stay due and the next sweep takes them.
MAX_RELEASES_PER_SWEEP = 40


class InsufficientPoints(Exception):
    """A redemption asked for more than the available points."""

    def __init__(self, requested: int, available: int) -> None:
        super().__init__(f"requested {requested} points, {available} available")
        self.requested = requested
        self.available = available


class InvalidTransition(Exception):
    """The operation does not apply to the redemption's current state."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


# --- state -----------------------------------------------------------------


@dataclass
class PendingLot:
    points: int
    release_at: str  # when the return window ends (UTC ISO)
    expires_on: str  # the lot it joins once released


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
    pending: dict[str, PendingLot] = field(default_factory=dict)  # order_id -> lot
    holds: dict[str, Hold] = field(default_factory=dict)  # redemption_id -> hold
    lifetime_earned: int = 0
    qualifying_months: dict[str, int] = field(default_factory=dict)  # YYYY-MM -> points
    tier: str = ""
    tier_since: str | None = None  # day the current tier began
    tier_review_on: str | None = None  # next anniversary re-evaluation (None for the base tier)
    notified: list[str] = field(default_factory=list)  # lots announced as expiring
    earned_days: dict[str, int] = field(default_factory=dict)  # day -> order points (daily cap)
    first_order_bonus: bool = False
    birthday_bonus_years: list[str] = field(default_factory=list)

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
    total: Decimal = Decimal(0)
    known: bool = False  # the order itself has arrived (a refund may come first)
    placed_at: str | None = None
    earned: int = 0  # points the order earned (bonuses excluded)
    qualifying_month: str | None = None
    clawed: int = 0
    refunded: Decimal = Decimal(0)
    refund_ids: list[str] = field(default_factory=list)
    cancelled: bool = False
    spent: int = 0  # points redeemed against this order
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
        self.rules = rules
        self.tz = tz
        self.now = now
        self.at = iso(now)
        self.today = now.astimezone(tz).date()
        self.entries: list[Entry] = []
        self.notices: list[Notice] = []

    def outcome(self) -> Outcome:
        return Outcome(self.account, self.entries, self.notices)

    # posting -----------------------------------------------------------------

    def _post(self, entry_type: str, key: str, reason: str, **deltas: Any) -> Entry:
        self.account.seq += 1
        entry = Entry(
            seq=self.account.seq, entry_type=entry_type, key=key, at=self.at, reason=reason, **deltas
        )
        self.entries.append(entry)
        return entry

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
        return moved, debt, short - debt

    def expiry_for(self, day: date) -> str:
        return add_months(day, self.rules.expiry_months).isoformat()

    # earning -------------------------------------------------------------------

    def qualifying_total(self) -> int:
        first = add_months(self.today.replace(day=1), -11).strftime("%Y-%m")
        return sum(p for month, p in self.account.qualifying_months.items() if month >= first)

    def _tier_index(self, name: str) -> int:
        for i, tier in enumerate(self.rules.tiers):
            if tier.name == name:
                return i
        return 0

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

    def _upgrade(self) -> None:
        qualifying = self.qualifying_total()
        best = max(i for i, t in enumerate(self.rules.tiers) if t.threshold <= qualifying)
        if best > self._tier_index(self.account.tier):
            self._set_tier(best, "qualifying points reached the threshold")

    def _prune(self) -> None:
        oldest = add_months(self.today.replace(day=1), -12).strftime("%Y-%m")
        self.account.qualifying_months = {
            m: p for m, p in self.account.qualifying_months.items() if m >= oldest
        }
        recent = (self.today - timedelta(days=40)).isoformat()
        self.account.earned_days = {d: p for d, p in self.account.earned_days.items() if d >= recent}

    def earn_order(self, order: OrderRecord, quote: Quote, key: str) -> OrderRecord:
        """Credit an order's points: pending through the return window, then available."""
        order = copy.deepcopy(order)
        placed = parse_rfc3339(order.placed_at or self.at)
        day = placed.astimezone(self.tz).date()
        points = quote.order_points
        if self.rules.daily_cap is not None:
            used = self.account.earned_days.get(day.isoformat(), 0)
            points = max(0, min(points, self.rules.daily_cap - used))
        self.account.earned_days[day.isoformat()] = self.account.earned_days.get(day.isoformat(), 0) + points
        order.earned = points
        order.qualifying_month = day.strftime("%Y-%m")
        expires_on = self.expiry_for(day)
        release_at = placed + timedelta(days=self.rules.pending_days)
        refs = {"order_id": order.order_id}
        if points:
            self.account.lifetime_earned += points
            self.account.qualifying_months[order.qualifying_month] = (
                self.account.qualifying_months.get(order.qualifying_month, 0) + points
            )
            if release_at > self.now:
                lot = PendingLot(points, iso(release_at), expires_on)
                self.account.pending[order.order_id] = lot
                self._post(
                    "earn",
                    f"{key}#earn",
                    f"order {order.order_id}: " + "; ".join(quote.rules),
                    pending=points,
                    qualifying=points,
                    lifetime=points,
                    pending_lot={"order_id": order.order_id, **lot.__dict__},
                    refs=refs,
                )
            else:
                lots, debt = self._credit({expires_on: points})
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
        for name, bonus in quote.bonuses:
            if name == "first_order":
                self.account.first_order_bonus = True
            if name == "birthday_month":
                self.account.birthday_bonus_years.append(str(day.year))
            self.bonus(
                bonus, f"{key}#{name}", f"{name.replace('_', ' ')} bonus, order {order.order_id}", refs
            )
        self._upgrade()
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

    def refund(self, order: OrderRecord, refund_id: str, amount: Decimal, key: str) -> OrderRecord:
        """Claw back in proportion to the refunded amount: pending first, then available."""
        order = copy.deepcopy(order)
        if refund_id in order.refund_ids:
            return order
        order.refund_ids.append(refund_id)
        order.refunded += amount
        if order.known:
            self._settle_refunds(order, key)
        return order

    def cancel(self, order: OrderRecord, key: str) -> OrderRecord:
        order = copy.deepcopy(order)
        order.cancelled = True
        if order.known:
            self._settle_refunds(order, key)
        return order

    def refunded_share(self, order: OrderRecord) -> tuple[Decimal, Decimal]:
        if order.cancelled or order.total <= 0:
            return Decimal(1), Decimal(1)
        return min(order.refunded, order.total), order.total

    def _settle_refunds(self, order: OrderRecord, key: str) -> None:
        """Bring the order's clawback and returned spent points up to its refunded share."""
        part, whole = self.refunded_share(order)
        refs = {"order_id": order.order_id}
        target = int((Decimal(order.earned) * part / whole).to_integral_value(rounding=ROUND_FLOOR))
        claw = target - order.clawed
        if claw > 0:
            order.clawed = target
            from_pending = 0
            pending_lot = None
            lot = self.account.pending.get(order.order_id)
            if lot is not None:
                from_pending = min(claw, lot.points)
                lot.points -= from_pending
                pending_lot = {"order_id": order.order_id, **lot.__dict__, "points": -from_pending}
                if lot.points == 0:
                    del self.account.pending[order.order_id]
            lots, debt, unrecovered = self._debit_with_policy(claw - from_pending)
            month = order.qualifying_month or ""
            qualifying = min(claw, self.account.qualifying_months.get(month, 0))
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

    def settle_after_arrival(self, order: OrderRecord, key: str) -> OrderRecord:
        """A refund or cancellation that arrived before its order is applied now."""
        order = copy.deepcopy(order)
        if order.refunded > 0 or order.cancelled:
            self._settle_refunds(order, key)
        return order

    # redemptions -------------------------------------------------------------

    def redeem(self, redemption: Redemption, hold: bool, key: str) -> Redemption:
        points = redemption.points
        if points > self.account.available:
            raise InsufficientPoints(points, max(self.account.available, 0))
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
        self._post(
            "redeem",
            key,
            f"hold confirmed for {redemption.reward or 'a reward'}",
            held=-hold.points,
            refs={"redemption_id": redemption.redemption_id},
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
        self._post(
            "release-hold",
            key,
            reason,
            available=hold.points,
            held=-hold.points,
            lots=lots,
            debt=debt,
            refs={"redemption_id": redemption_id},
        )

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

    def sweep(self) -> list[str]:
        """Everything due by now: release pending points, lapse holds, expire lots,
        announce lots about to expire, re-evaluate the tier on its anniversary.
        State-based, so running it twice does nothing the second time. Returns
        the redemption ids whose holds lapsed (their records are marked lapsed)."""
        due = sorted(
            (lot.release_at, o) for o, lot in self.account.pending.items() if lot.release_at <= self.at
        )
        for _, order_id in due[:MAX_RELEASES_PER_SWEEP]:
            lot = self.account.pending.pop(order_id)
            lots, debt = self._credit({lot.expires_on: lot.points})
            self._post(
                "release",
                f"release:{order_id}",
                f"order {order_id}: return window over",
                available=lot.points,
                pending=-lot.points,
                lots=lots,
                debt=debt,
                pending_lot={"order_id": order_id, **lot.__dict__, "points": -lot.points},
                refs={"order_id": order_id},
            )
        lapsed = sorted(r for r, h in self.account.holds.items() if h.lapse_at <= self.at)
        for redemption_id in lapsed:
            self._give_back(redemption_id, f"lapse:{redemption_id}", "hold lapsed unconfirmed")
        today = self.today.isoformat()
        expired = {d: -p for d, p in self.account.lots.items() if d <= today}
        if expired:
            for expires_on in expired:
                del self.account.lots[expires_on]
            self._post(
                "expire",
                f"expire:{today}",
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
        return lapsed

    def _review_tier(self) -> None:
        current = self._tier_index(self.account.tier)
        qualifying = self.qualifying_total()
        earned = max(i for i, t in enumerate(self.rules.tiers) if t.threshold <= qualifying)
        if earned >= current:
            assert self.account.tier_review_on is not None
            review = date.fromisoformat(self.account.tier_review_on)
            while review <= self.today:
                review = add_months(review, 12)
            self.account.tier_review_on = review.isoformat()
            return
        self._set_tier(current - 1, "tier anniversary: qualifying points below the threshold")


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
) -> Quote:
    day = parse_rfc3339(placed_at).astimezone(tz).date()
    in_birthday_month = birthday is not None and birthday[-5:-3] == f"{day.month:02d}"
    return quote(
        total,
        lines,
        day,
        account.tier or rules.tiers[0].name,
        rules,
        first_order=not account.first_order_bonus,
        birthday_month=in_birthday_month and str(day.year) not in account.birthday_bonus_years,
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
