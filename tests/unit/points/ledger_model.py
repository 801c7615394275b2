"""A deliberately simple reference model of the points program, written from
docs/program-config.md ("Points", "Bonuses go with their order", "Tiers count
only released points", "Conservation").

The model keeps every order, lot and hold as a plain record and lets time pass
in order: whatever falls due (a release, a lapsed hold, an expiring lot, a tier
anniversary) is applied at its own instant. It supports what the state machine
in test_ledger_model.py uses: order points at ``points_per_unit`` times the tier
multiplier (no categories, campaigns or daily cap), the first-order and
birthday-month bonuses, the ``deny`` negative balance policy, redemptions and
holds, refunds and cancellations in any order relative to their order, and
admin adjustments.

Where the document leaves a choice open the model takes one and says so:

* debits (redemptions, holds, clawbacks, negative adjustments) take the lots
  that expire soonest first; a cancelled or lapsed hold gives its points back
  to the lots it took them from;
* a refund first gives back the points spent on the order, then claws back the
  order's points, then takes back its bonuses (when the order is now reversed in
  full): the negative balance policy applies to what the member owes net, so
  points spent on an order and given back cannot stand in for points clawed
  back because of the same order ("Conservation": no sequence of calls gives a
  member more than the earning rules grant);
* things due at the same instant apply in the order: releases, lapses,
  expiries, the tier anniversary;
* when a refund re-evaluates a tier and the member keeps it (the remaining
  qualifying points still reach it), or falls back to a tier above the one kept
  at the last anniversary, the tier from then on stands on the qualifying points
  counted by then.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_FLOOR, Decimal
from zoneinfo import ZoneInfo

# Outcome codes: "" (no refusal) or the refusal the service raises.
APPLIED = ""
INSUFFICIENT = "insufficient"
TOO_MANY_HOLDS = "too_many_holds"
CONFLICT = "conflict"
UNKNOWN = "unknown"
INVALID = "invalid"


@dataclass(frozen=True)
class TierRule:
    name: str
    threshold: int
    multiplier: Decimal


@dataclass(frozen=True)
class ModelConfig:
    tz: ZoneInfo
    tiers: tuple[TierRule, ...]
    points_per_unit: Decimal = Decimal(1)
    first_order_bonus: int = 0
    birthday_bonus: int = 0
    birthday_month: int | None = None  # the member's birthday month, if known
    pending_days: int = 14
    expiry_months: int = 12
    hold_minutes: int = 30
    max_active_holds: int = 100
    return_spent_points_on_refund: bool = True


@dataclass(frozen=True)
class Verdict:
    """What the model expects from one call: whether it changes the member's points,
    and which refusals (``""``: none) the service may answer with."""

    changes: bool
    allowed: frozenset[str]

    @staticmethod
    def applied() -> Verdict:
        return Verdict(True, frozenset({APPLIED}))

    @staticmethod
    def unchanged(*allowed: str) -> Verdict:
        return Verdict(False, frozenset(allowed or {APPLIED}))


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def month_key(day: date) -> int:
    return day.year * 12 + day.month - 1


def floor_share(points: int, part: Decimal, whole: Decimal) -> int:
    return int((Decimal(points) * part / whole).to_integral_value(rounding=ROUND_FLOOR))


@dataclass
class Order:
    order_id: str
    known: bool = False  # the order itself has arrived
    total: Decimal = Decimal(0)
    day: date | None = None
    release_at: datetime | None = None
    earned: int = 0
    released: bool = False
    counted_at: datetime | None = None  # when its points were released and counted for the tier
    qualifying: int = 0  # released points still counted for the tier
    refund_ids: set[str] = field(default_factory=set)
    refunded: Decimal = Decimal(0)
    cancelled: bool = False
    clawed: int = 0  # floor(earned * share) applied so far (pending or available)
    bonuses: dict[str, int] = field(default_factory=dict)
    bonuses_reversed: bool = False
    spent: int = 0  # direct redemptions and confirmed holds naming this order
    returned: int = 0

    def share(self) -> tuple[Decimal, Decimal]:
        if self.cancelled:
            return Decimal(1), Decimal(1)
        return min(self.refunded, self.total), self.total

    @property
    def reversed(self) -> bool:
        part, whole = self.share()
        return part >= whole

    @property
    def pending(self) -> int:
        return self.earned - self.clawed if self.known and not self.released else 0


@dataclass
class Hold:
    points: int
    lots: dict[date, int]
    lapse_at: datetime


@dataclass
class Redemption:
    request: tuple[int, bool, str | None]  # points, hold, order_id
    status: str  # held | redeemed | cancelled | lapsed
    order_id: str | None


@dataclass
class Totals:
    granted: int = 0  # order points and bonuses
    redeemed: int = 0
    expired: int = 0
    clawed: int = 0  # actually taken back (the unrecovered part excluded)
    returned: int = 0
    adjusted: int = 0  # applied adjustments, signed
    unrecovered: int = 0  # clawed-back points not taken yet (recovered from points that come back)
    positive_adjustments: int = 0


class PointsModel:
    def __init__(self, config: ModelConfig, now: datetime) -> None:
        self.config = config
        self.now = now
        self.orders: dict[str, Order] = {}
        self.lots: dict[date, int] = {}
        self.holds: dict[str, Hold] = {}
        self.redemptions: dict[str, Redemption] = {}
        self.adjustments: set[str] = set()
        self.totals = Totals()
        self.first_order: str | None = None  # the order holding the first-order bonus
        self.birthday_orders: dict[int, str] = {}  # year -> the order holding its birthday bonus
        # tiers
        self.tier = 0
        self.kept = 0  # the tier kept at the last anniversary
        self.review_on: date | None = None
        self.basis: int | None = None  # qualifying points the latest upgrade stands on
        self.upgraded_at: datetime | None = None
        self.last_review_at: datetime | None = None

    # --- views ------------------------------------------------------------------

    @property
    def today(self) -> date:
        return self.now.astimezone(self.config.tz).date()

    @property
    def available(self) -> int:
        return sum(self.lots.values())

    @property
    def pending(self) -> int:
        return sum(o.pending for o in self.orders.values())

    @property
    def held(self) -> int:
        return sum(h.points for h in self.holds.values())

    @property
    def tier_name(self) -> str:
        return self.config.tiers[self.tier].name

    def conserved(self) -> bool:
        t = self.totals
        expected = t.granted - t.redeemed - t.expired - t.clawed + t.returned + t.adjusted
        return self.available + self.pending + self.held == expected

    def entitlement(self, returned: dict[str, int]) -> int:
        """The most points the earning rules grant for the member's net orders: what is
        left of each order's points, the bonuses of orders not reversed, positive
        adjustments, and returned points up to what was actually spent on each order
        (``returned``: what the system under test returned, by order)."""
        orders = sum(o.earned - floor_share(o.earned, *o.share()) for o in self.orders.values() if o.known)
        bonuses = sum(sum(o.bonuses.values()) for o in self.orders.values() if not o.bonuses_reversed)
        returns = sum(
            min(points, self.orders[o].spent if o in self.orders else 0) for o, points in returned.items()
        )
        return orders + bonuses + self.totals.positive_adjustments + returns

    def justified_tier(self) -> int:
        """The highest tier reached, at any release since the last anniversary, by the
        released points not clawed back since (or the tier kept at that anniversary)."""
        best = self.kept
        since = self.last_review_at
        for moment in {o.counted_at for o in self.orders.values() if o.counted_at}:
            if since is not None and moment < since:
                continue
            net = sum(
                o.earned - o.clawed
                for o in self.orders.values()
                if o.counted_at and o.counted_at <= moment and self._in_window(o, moment)
            )
            best = max(best, self._reached(net))
        return best

    # --- time -------------------------------------------------------------------

    def start_of(self, day: date) -> datetime:
        return datetime.combine(day, time(0), tzinfo=self.config.tz)

    def next_due(self) -> datetime | None:
        moments = [o.release_at for o in self.orders.values() if o.pending > 0 and o.release_at]
        moments += [h.lapse_at for h in self.holds.values()]
        moments += [self.start_of(day) for day, points in self.lots.items() if points > 0]
        if self.tier > 0 and self.review_on is not None:
            moments.append(self.start_of(self.review_on))
        return min(moments) if moments else None

    def advance_one(self, target: datetime) -> datetime | None:
        """Apply the next instant at which something falls due, if it comes by
        ``target``, and return it; else move the clock to ``target`` and return None."""
        due = self.next_due()
        if due is None or due > target:
            self.now = max(self.now, target)
            return None
        self.now = max(self.now, due)
        self._apply_due()
        return self.now

    def advance(self, target: datetime) -> None:
        while self.advance_one(target) is not None:
            pass

    def _apply_due(self) -> None:
        released = False
        for order in sorted(self.orders.values(), key=lambda o: o.order_id):
            if order.known and not order.released and order.release_at and order.release_at <= self.now:
                self._release(order)
                released = True
        if released:
            self._upgrade()
        for rid in sorted(r for r, h in self.holds.items() if h.lapse_at <= self.now):
            self._give_back(rid, "lapsed")
        self._expire()
        if self.tier > 0 and self.review_on is not None and self.review_on <= self.today:
            self._review()

    def _release(self, order: Order) -> None:
        assert order.day is not None
        points = order.earned - order.clawed
        order.released = True
        order.counted_at = self.now
        order.qualifying = points
        if points > 0:
            self._credit(add_months(order.day, self.config.expiry_months), points)

    def _expire(self) -> None:
        for day in sorted(d for d in self.lots if d <= self.today):
            self.totals.expired += self.lots.pop(day)

    # --- lots -------------------------------------------------------------------

    def _credit(self, day: date, points: int) -> None:
        if points > 0:
            self.lots[day] = self.lots.get(day, 0) + points

    def _debit(self, points: int) -> dict[date, int]:
        """Up to ``points`` from the soonest-expiring lots; returns what each gave."""
        taken: dict[date, int] = {}
        for day in sorted(self.lots):
            if points <= 0:
                break
            take = min(points, self.lots[day])
            self.lots[day] -= take
            if not self.lots[day]:
                del self.lots[day]
            taken[day] = take
            points -= take
        return taken

    def _take_back(self, points: int) -> int:
        """A clawback or negative adjustment under the deny policy: stops at zero."""
        taken = sum(self._debit(points).values())
        self.totals.unrecovered += points - taken
        return taken

    def _recover(self, points: int) -> None:
        """Points that just came back (a released hold, spent points returned) pay
        what earlier clawbacks could not take, soonest-expiring lots first."""
        take = min(points, self.totals.unrecovered)
        taken = sum(self._debit(take).values())
        self.totals.unrecovered -= taken
        self.totals.clawed += taken

    def _grant_today(self, points: int) -> None:
        self._credit(add_months(self.today, self.config.expiry_months), points)

    # --- tiers ------------------------------------------------------------------

    def _reached(self, qualifying: int) -> int:
        return max(i for i, t in enumerate(self.config.tiers) if t.threshold <= qualifying)

    def _in_window(self, order: Order, moment: datetime) -> bool:
        assert order.day is not None
        current = month_key(moment.astimezone(self.config.tz).date())
        return current - 11 <= month_key(order.day) <= current

    def qualifying_total(self) -> int:
        return sum(o.qualifying for o in self.orders.values() if o.released and self._in_window(o, self.now))

    def _upgrade(self) -> None:
        qualifying = self.qualifying_total()
        best = self._reached(qualifying)
        if best > self.tier:
            self.tier = best
            self.review_on = add_months(self.today, 12)
            self.basis, self.upgraded_at = qualifying, self.now

    def _released_points_clawed(self, order: Order, points: int) -> None:
        """A refund after the return window: the upgrade keeps the qualifying points it
        stood on, less clawbacks of points counted by then."""
        if self.basis is None or self.upgraded_at is None or order.counted_at is None:
            return
        if order.counted_at > self.upgraded_at:
            return  # counted after the upgrade: it stands
        self.basis -= points
        if self.basis >= self.config.tiers[self.tier].threshold:
            return
        qualifying = self.qualifying_total()
        fallback = max(self.kept, self._reached(qualifying))
        if fallback < self.tier:
            self.tier = fallback  # the review date stays as it was
            if fallback == 0:
                self.review_on = None
        if self.tier == self.kept:
            self.basis = self.upgraded_at = None
        else:
            self.basis, self.upgraded_at = qualifying, self.now

    def _review(self) -> None:
        assert self.review_on is not None
        if self._reached(self.qualifying_total()) >= self.tier:
            self.review_on = add_months(self.review_on, 12)
        else:
            self.tier -= 1
            self.review_on = add_months(self.today, 12) if self.tier > 0 else None
        self.kept = self.tier
        self.basis = self.upgraded_at = None
        self.last_review_at = self.now

    # --- orders -----------------------------------------------------------------

    def _order(self, order_id: str) -> Order:
        return self.orders.setdefault(order_id, Order(order_id))

    def order_placed(self, order_id: str, total: Decimal, placed_at: datetime | None = None) -> Verdict:
        """An order placed at ``placed_at`` (default now) arrives now: it earns at the
        member's tier now, pending until its order day's return window is over (at
        once when that is over already)."""
        order = self._order(order_id)
        if order.known:
            return Verdict.unchanged()
        cfg = self.config
        day = (placed_at or self.now).astimezone(cfg.tz).date()
        order.known, order.total, order.day = True, total, day
        multiplier = cfg.tiers[self.tier].multiplier
        order.earned = int((total * cfg.points_per_unit * multiplier).to_integral_value(rounding=ROUND_FLOOR))
        order.release_at = self.start_of(day + timedelta(days=cfg.pending_days + 1))
        self.totals.granted += order.earned
        if not order.reversed:
            if cfg.first_order_bonus and self.first_order is None:
                order.bonuses["first_order"] = cfg.first_order_bonus
                self.first_order = order_id
            if (
                cfg.birthday_bonus
                and cfg.birthday_month == day.month
                and day.year not in self.birthday_orders
            ):
                order.bonuses["birthday_month"] = cfg.birthday_bonus
                self.birthday_orders[day.year] = order_id
            for points in order.bonuses.values():
                self.totals.granted += points
                self._grant_today(points)
        if cfg.pending_days == 0 or order.release_at <= self.now:
            self._release(order)
            self._upgrade()
        self._settle(order)
        return Verdict.applied()

    def order_refunded(self, order_id: str, refund_id: str, amount: Decimal) -> Verdict:
        order = self._order(order_id)
        if refund_id in order.refund_ids:
            return Verdict.unchanged()
        order.refund_ids.add(refund_id)
        order.refunded += amount
        self._settle(order)
        return Verdict.applied()

    def order_cancelled(self, order_id: str) -> Verdict:
        order = self._order(order_id)
        if order.cancelled:
            return Verdict.unchanged()
        order.cancelled = True
        self._settle(order)
        return Verdict.applied()

    def _settle(self, order: Order) -> None:
        """Bring an arrived order's clawback, bonuses and returned spending up to its
        refunded share."""
        if not order.known or not (order.cancelled or order.refund_ids):
            return
        part, whole = order.share()
        if self.config.return_spent_points_on_refund and order.spent:
            give = floor_share(order.spent, part, whole) - order.returned
            if give > 0:
                order.returned += give
                self.totals.returned += give
                self._grant_today(give)
                self._recover(give)
        target = floor_share(order.earned, part, whole)
        claw = target - order.clawed
        if claw > 0:
            order.clawed = target
            if not order.released:
                self.totals.clawed += claw  # from the order's pending points
            else:
                self.totals.clawed += self._take_back(claw)
                order.qualifying -= claw
                self._released_points_clawed(order, claw)
        if order.reversed and not order.bonuses_reversed:
            order.bonuses_reversed = True
            for points in order.bonuses.values():
                self.totals.clawed += self._take_back(points)
            if self.first_order == order.order_id:
                self.first_order = None
            self.birthday_orders = {y: o for y, o in self.birthday_orders.items() if o != order.order_id}

    # --- redemptions ------------------------------------------------------------

    def redeem(self, rid: str, points: int, hold: bool, order_id: str | None) -> Verdict:
        request = (points, hold, order_id)
        if rid in self.redemptions:
            same = self.redemptions[rid].request == request
            return Verdict.unchanged() if same else Verdict.unchanged(CONFLICT)
        refusals = set()
        if points > self.available:
            refusals.add(INSUFFICIENT)
        if hold and len(self.holds) >= self.config.max_active_holds:
            refusals.add(TOO_MANY_HOLDS)
        if refusals:
            return Verdict.unchanged(*refusals)
        taken = self._debit(points)
        if hold:
            lapse_at = self.now + timedelta(minutes=self.config.hold_minutes)
            self.holds[rid] = Hold(points, taken, lapse_at)
            self.redemptions[rid] = Redemption(request, "held", order_id)
        else:
            self.redemptions[rid] = Redemption(request, "redeemed", order_id)
            self._spend(points, order_id)
        return Verdict.applied()

    def _spend(self, points: int, order_id: str | None) -> None:
        self.totals.redeemed += points
        if order_id is not None:
            self._order(order_id).spent += points

    def confirm(self, rid: str) -> Verdict:
        redemption = self.redemptions.get(rid)
        if redemption is None:
            return Verdict.unchanged(UNKNOWN)
        if redemption.status != "held":
            # confirmed already (or a direct redemption): nothing more to do; a
            # cancelled or lapsed hold spent nothing and cannot be spent now
            return Verdict.unchanged(APPLIED, INVALID)
        hold = self.holds.pop(rid)
        redemption.status = "redeemed"
        self._spend(hold.points, redemption.order_id)
        return Verdict.applied()

    def cancel(self, rid: str) -> Verdict:
        redemption = self.redemptions.get(rid)
        if redemption is None:
            return Verdict.unchanged(UNKNOWN)
        if redemption.status != "held":
            return Verdict.unchanged(APPLIED, INVALID)
        self._give_back(rid, "cancelled")
        self._expire()  # points given back to a lot that expired meanwhile expire now
        return Verdict.applied()

    def _give_back(self, rid: str, status: str) -> None:
        hold = self.holds.pop(rid)
        for day, points in hold.lots.items():
            self._credit(day, points)
        self._recover(hold.points)
        self.redemptions[rid].status = status

    # --- adjustments ------------------------------------------------------------

    def adjust(self, adjustment_id: str, points: int) -> Verdict:
        if adjustment_id in self.adjustments:
            return Verdict.unchanged()
        self.adjustments.add(adjustment_id)
        if points > 0:
            self._grant_today(points)
            self.totals.adjusted += points
            self.totals.positive_adjustments += points
        else:
            self.totals.adjusted -= self._take_back(-points)
        return Verdict.applied()
