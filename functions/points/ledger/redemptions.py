"""Redemptions and adjustments: the operations a request makes.

A redemption spends available points at once, or holds them (``held``) until it
is confirmed (spent) or cancelled (back to the lots they came from); a hold
never counts as spent. At most ``max_active_holds`` holds are open at a time.
An adjustment is an admin correction, credited in today's lot or debited as the
negative balance policy allows. Each method returns the updated record (a copy)
and posts the entries that explain the change."""

from __future__ import annotations

import copy
import hashlib
from datetime import timedelta
from typing import Any

from loyalty.timeutil import iso
from points.ledger.core import BookCore
from points.ledger.state import InsufficientPoints, InvalidTransition, Redemption, TooManyHolds


def request_hash(payload: dict[str, Any]) -> str:
    """The fingerprint of a redemption request: the same id with another request conflicts."""
    canonical = repr(sorted(payload.items())).encode()
    return hashlib.sha256(canonical).hexdigest()


class Redemptions(BookCore):
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
            redemption.status, redemption.lapse_at = "held", lapse_at
            self._post(
                "hold",
                key,
                f"hold for {redemption.reward or 'a reward'}",
                available=-points,
                held=points,
                lots=lots,
                hold={"redemption_id": redemption.redemption_id, "points": points, "lapse_at": lapse_at},
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
        hold = self.account.holds[redemption.redemption_id]
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
            hold={"redemption_id": redemption.redemption_id, "points": -hold.points},
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
