"""The sweep: everything that falls due with time, and when it falls due.

Due by now: pending points whose return window ended are released, unconfirmed
holds lapse, lots expire, lots entering the notice window are announced
(``points.expiring``, once per lot), and the tier is re-evaluated on its
anniversary. :func:`next_due` is the first instant any of these happens for an
account, including the instant a lot enters the notice window, so the points
due index wakes the sweep for it; :func:`expiring` is the list of lots in that
window, stored with the balance at every write.
"""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from loyalty.program import Points
from points.ledger.calendar import add_months, start_of
from points.ledger.core import BookCore
from points.ledger.state import Account, Notice

# A sweep pass writes at most this many items for releases and lapses (a lapse
# is up to three: its entry, a recovery entry and its redemption record), plus
# three for expiry, the expiry notice and the tier review. A transaction holds at
# most 100 items and the operation that follows the sweep in the same commit
# needs at most 16 (balance, marker, order and redemption records, spent-on-order
# update, nine entries, two notices). More due is applied in further commits.
SWEEP_WRITES = 80


def notice_horizon(today: date, rules: Points) -> str:
    """The last expiry day inside the notice window as of ``today``."""
    return (today + timedelta(days=rules.expiring_notice_days)).isoformat()


def expiring(account: Account, rules: Points, today: date) -> dict[str, int]:
    """The lots expiring within the notice window as of ``today`` (expiry day ->
    points): after today, at most ``expiring_notice_days`` ahead."""
    first, last = today.isoformat(), notice_horizon(today, rules)
    return {day: points for day, points in sorted(account.lots.items()) if first < day <= last}


def next_due(account: Account, rules: Points, tz: ZoneInfo) -> str | None:
    """The first instant at which the sweep has something to do for this account:
    a release, a lapse, an expiry, a lot entering the notice window (unless it was
    announced already), a tier review."""
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


class Sweep(BookCore):
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
            self._release(day)
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
            self._post(
                "expire",
                f"expire:{today}:{self.account.seq + 1}",
                "expired: " + ", ".join(f"{-p} of {d}" for d, p in sorted(expired.items())),
                available=sum(expired.values()),
                lots=expired,
            )
        self._announce_expiring()
        if self.account.tier_review_on and self.account.tier_review_on <= today:
            self._review_tier()
        self._prune()
        return True

    def _release(self, day: str) -> None:
        """The pending lot of ``day`` joins its available lot (paying debt first); its
        points count as qualifying now, unless they were counted when earned."""
        lot = self.account.pending[day]
        lots, debt = self._credit({lot.expires_on: lot.points})
        month = day[:7] if not lot.counted else ""
        self._post(
            "release",
            f"release:{day}:{lot.release_at}",
            f"orders of {day}: return window over",
            available=lot.points,
            pending=-lot.points,
            lots=lots,
            debt=debt,
            qualifying=lot.points if month else 0,
            qualifying_month=month or None,
            pending_lot={"day": day, "points": -lot.points, "release_at": lot.release_at},
        )

    def _announce_expiring(self) -> None:
        """One ``points.expiring`` notice for the lots that entered the notice window
        since the last announcement."""
        today = self.today.isoformat()
        self.account.notified = [d for d in self.account.notified if d > today]
        horizon = notice_horizon(self.today, self.rules)
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
