"""Order operations of the book: earning an order's points (pending through the
return window), fixed bonuses, and refunds and cancellations, which give back
points spent on the order, claw back what it earned in proportion to the share
refunded, and take its bonuses when the whole order goes.

Each method returns the updated :class:`~points.ledger.state.OrderRecord` (a copy)
and posts the entries that explain the change; each refund is applied once,
under the caller's business key."""

from __future__ import annotations

import copy
from collections.abc import Callable
from decimal import ROUND_FLOOR, Decimal

from loyalty.program import ORDER_CURRENCY
from loyalty.timeutil import parse_rfc3339
from points.ledger.core import BookCore
from points.ledger.earning import Quote
from points.ledger.state import OrderRecord

# (amount, from currency, to currency) -> the amount converted, or None without a rate
Converter = Callable[[Decimal, str, "str | None"], "Decimal | None"]


class OrderOperations(BookCore):
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
            if self.rules.pending_days and release_at > self.at:
                order.counts_from = release_at
                self._post(
                    "earn",
                    f"{key}#earn",
                    f"order {order.order_id}: " + "; ".join(quote.rules),
                    pending=points,
                    lifetime=points,
                    pending_lot={
                        "day": order.day,
                        "points": points,
                        "release_at": release_at,
                        "expires_on": expires_on,
                    },
                    refs=refs,
                )
            else:
                lots, debt = self._credit({expires_on: points})
                order.counts_from = self.at
                self._post(
                    "earn",
                    f"{key}#earn",
                    f"order {order.order_id}: " + "; ".join(quote.rules) + " (return window already over)",
                    available=points,
                    lots=lots,
                    debt=debt,
                    qualifying=points,
                    qualifying_month=order.qualifying_month,
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

    def settle_after_arrival(self, order: OrderRecord, key: str, convert: Converter) -> OrderRecord:
        """A refund or cancellation that arrived before its order is applied now."""
        order = copy.deepcopy(order)
        if order.refunds or order.cancelled:
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
            self._claw_back(order, claw, key, part, whole)
        if self.fully_reversed(order, convert) and not order.bonuses_reversed:
            self._reverse_bonuses(order, key)

    def _claw_back(self, order: OrderRecord, claw: int, key: str, part: Decimal, whole: Decimal) -> None:
        """Take ``claw`` of the order's points: from its pending lot first, then from
        the available lots as the negative balance policy allows."""
        from_pending = 0
        pending_lot = None
        lot_key = order.day or ""
        if lot_key not in self.account.pending:
            lot_key = order.order_id  # a pending lot stored per order
        lot = self.account.pending.get(lot_key)
        if lot is not None:
            from_pending = min(claw, lot.points)
            pending_lot = {"day": lot_key, "points": -from_pending, "release_at": lot.release_at}
        lots, debt, unrecovered = self._debit_with_policy(claw - from_pending)
        month = order.qualifying_month or ""
        counted = claw - from_pending if lot is None or lot.counted else 0
        # The month may have left the 12-month window: then only the tier's basis moves.
        qualifying = min(counted, self.account.qualifying_months.get(month, 0))
        self._post(
            "clawback",
            f"{key}#clawback",
            f"order {order.order_id} refunded {part} of {whole}",
            available=sum(lots.values()) - debt,
            pending=-from_pending,
            lots=lots,
            debt=debt,
            qualifying=-qualifying,
            qualifying_month=month if qualifying else None,
            pending_lot=pending_lot,
            unrecovered=unrecovered,
            refs={"order_id": order.order_id},
        )
        self._upgrade_undone(order, counted)

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
