"""Replaying a member's ledger, for the tests: the buckets and lots rebuilt from
the entries alone, two ways.

:func:`replay` sums each entry's signed deltas on its own (checking that no
entry takes a lot below zero), and applies every entry, in order, to an empty
account with the production ``apply``; :func:`replayed_state` is the part of an
account that ``apply`` covers, so a stored account and its replayed one are
compared field by field. Not production code: the stored account is the state;
this only proves it equals its log."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from points.ledger import Account, Entry, apply


@dataclass
class Totals:
    available: int = 0
    pending: int = 0
    held: int = 0
    debt: int = 0
    lifetime: int = 0
    lots: dict[str, int] = field(default_factory=dict)
    account: Account = field(default_factory=Account)  # every entry applied to an empty account


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
        apply(totals.account, entry)
    return totals


def replayed_state(account: Account, qualifying_from: str = "") -> dict[str, Any]:
    """The fields of ``account`` that ``apply`` covers; qualifying months from
    ``qualifying_from`` on (the book prunes older months, which no entry records)."""
    return {
        "seq": account.seq,
        "lots": account.lots,
        "debt": account.debt,
        "shortfall": account.shortfall,
        "pending": account.pending,
        "holds": account.holds,
        "lifetime_earned": account.lifetime_earned,
        "qualifying_months": {m: p for m, p in account.qualifying_months.items() if m >= qualifying_from},
    }
