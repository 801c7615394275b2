"""The core of the book: posting entries, crediting and debiting lots, and tiers.

Every change of the account's points is an :class:`~points.ledger.state.Entry`
posted here and applied by :func:`~points.ledger.state.apply`: the credit and
debit helpers only work out what an entry moves (which lots, how much debt), so
the entries the book returns are exactly what happened to the account. Tier
changes are the book's own state and produce notices, not entries.
"""

from __future__ import annotations

import copy
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from loyalty.program import Points
from loyalty.timeutil import iso
from points.ledger.calendar import add_months, start_of
from points.ledger.state import Account, Entry, Notice, OrderRecord, Outcome, apply


class BookCore:
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
        """The account's next entry, applied to the account and kept for the commit."""
        entry = Entry(
            seq=self.account.seq + 1, entry_type=entry_type, key=key, at=self.at, reason=reason, **deltas
        )
        apply(self.account, entry)
        self.entries.append(entry)
        return entry

    def note(self, key: str, reason: str, refs: dict[str, str]) -> None:
        """A ledger line that moves nothing: why an event earned or took nothing."""
        self._post("note", key, reason, refs=refs)

    def _credit(self, lots: dict[str, int]) -> tuple[dict[str, int], int]:
        """What adding points to available lots moves: debt is paid first.
        Returns (lot changes, debt change)."""
        moved: dict[str, int] = {}
        debt = self.account.debt
        for expires_on in sorted(lots):
            points = lots[expires_on]
            pay = min(points, debt)
            debt -= pay
            if points - pay:
                moved[expires_on] = moved.get(expires_on, 0) + points - pay
        return moved, debt - self.account.debt

    def _debit(self, points: int) -> dict[str, int]:
        """The lot changes that take up to ``points`` from available lots, soonest
        expiring first."""
        moved: dict[str, int] = {}
        for expires_on in sorted(self.account.lots):
            if points <= 0:
                break
            take = min(points, self.account.lots[expires_on])
            moved[expires_on] = -take
            points -= take
        return moved

    def _debit_with_policy(self, points: int) -> tuple[dict[str, int], int, int]:
        """A debit beyond the lots as the negative balance policy allows.
        Returns (lot changes, debt change, unrecovered)."""
        moved = self._debit(points)
        short = points + sum(moved.values())
        debt = 0
        if short and self.rules.negative_balance.policy == "allow":
            debt = min(short, self.rules.negative_balance.cap - self.account.debt)
            debt = max(debt, 0)
        return moved, debt, short - debt

    def _recover_shortfall(self, points: int, key: str, refs: dict[str, str]) -> None:
        """Points that just came back to the member (``points``: a released hold, spent
        points returned) pay the shortfall of earlier clawbacks first."""
        take = min(points, self.account.shortfall)
        if take <= 0:
            return
        lots = self._debit(take)
        taken = -sum(lots.values())
        self._post(
            "clawback",
            f"{key}#recovered",
            f"{taken} points recovered for an earlier clawback the balance could not cover",
            available=-taken,
            lots=lots,
            unrecovered=-taken,
            refs=refs,
        )

    def _give_back(self, redemption_id: str, key: str, reason: str) -> None:
        """A hold's points go back to the lots they came from (a cancel or a lapse)."""
        hold = self.account.holds[redemption_id]
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
            hold={"redemption_id": redemption_id, "points": -hold.points},
            refs=refs,
        )
        self._recover_shortfall(hold.points, key, refs)

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
