"""How one ledger operation is carried out: load the member's account, bring it
up to date, apply the operation, commit it atomically, through a
:class:`~points.store.LedgerStore`.

Every operation carries a business key (``op_key``). The store commits the
entries, the new account (under a version check) and a marker for the key in
one transaction, so a redelivered stream record or a retried request finds the
marker and changes nothing; the marker keeps the first result for replies.
Before any operation the account is brought up to date (``Book.sweep``), so
pending points released or lots expired by now count even if the scheduled
sweep has not run yet. A lost race or a transient fault is retried
(``loyalty.commit``); when more is due than one commit holds, the due part is
committed on its own first, in as many commits as needed. Every commit stores,
with the account, the lots expiring within the notice window as of its time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from loyalty.commit import DEFAULT_BUDGET, Budget, optimistic
from loyalty.program import Points, ProgramConfig
from points.ledger import Account, Book, OrderRecord, Redemption, expiring, next_due
from points.store import Change, LedgerStore, Snapshot


@dataclass(frozen=True)
class Context:
    store: LedgerStore
    rules: Points
    tz: ZoneInfo
    now: datetime
    sleep: Callable[[float], None] = time.sleep
    program: ProgramConfig = field(default_factory=ProgramConfig)  # currencies
    budget: Budget = DEFAULT_BUDGET


@dataclass(frozen=True)
class Applied:
    applied: bool  # False: the business key was seen before; nothing moved
    result: dict[str, Any]
    account: Account | None = None


Action = Callable[[Book, Snapshot], tuple[OrderRecord | None, Redemption | None, dict[str, Any]]]
UNBOUNDED = 10**9  # a sweep that is never written needs no transaction limit
_MORE = Applied(True, {})  # a sweep-only commit went in; more is due before the operation


def run(
    ctx: Context,
    tenant: str,
    member: str,
    op_key: str | None,
    action: Action,
    precheck: Callable[[Snapshot], None] | None = None,
    **load: Any,
) -> Applied:
    """Load, bring the account up to date, apply ``action``, commit: retried on a lost
    race or a transient fault (loyalty.commit). When more is due than one commit
    holds, the due part is committed on its own first, in as many commits as needed."""

    def attempt() -> Applied:
        snap = ctx.store.load(tenant, member, op_key=op_key, **load)
        if precheck is not None:
            precheck(snap)
        if snap.applied is not None:
            return Applied(False, snap.applied)
        book = Book(snap.account, ctx.rules, ctx.tz, ctx.now)
        if not book.sweep():
            _commit(ctx, tenant, member, snap, book, None, {}, None, None)
            return _MORE
        order, redemption, result = action(book, snap)
        account = book.account
        if (
            op_key is None
            and not book.entries
            and not book.notices
            and account == _normalised(snap.account, ctx)
        ):
            return Applied(False, result, account)
        _commit(ctx, tenant, member, snap, book, op_key, result, order, redemption)
        return Applied(True, result, account)

    while True:
        done = optimistic(attempt, budget=ctx.budget, sleep=ctx.sleep, what="member's points")
        if done is not _MORE:
            return done


def _commit(
    ctx: Context,
    tenant: str,
    member: str,
    snap: Snapshot,
    book: Book,
    op_key: str | None,
    result: dict[str, Any],
    order: OrderRecord | None,
    redemption: Redemption | None,
) -> None:
    account = book.account
    account.version = snap.account.version + 1
    change = Change(
        expected_version=snap.account.version,
        at=book.at,
        account=account,
        outcome=book.outcome(),
        next_due=next_due(account, ctx.rules, ctx.tz),
        op_key=op_key,
        result=result,
        order=order,
        redemption=redemption,
        lapsed=book.lapsed,
        expiring=expiring(account, ctx.rules, book.today),
    )
    ctx.store.commit(tenant, member, change)


def _normalised(account: Account, ctx: Context) -> Account:
    if account.tier and account.tier_kept:
        return account
    tier = account.tier or ctx.rules.tiers[0].name
    return Account(**{**account.__dict__, "tier": tier, "tier_kept": account.tier_kept or tier})


def up_to_date(ctx: Context, snap: Snapshot) -> Book:
    """A book of the account as of now (due releases and expiries applied in memory;
    nothing is written)."""
    book = Book(snap.account, ctx.rules, ctx.tz, ctx.now)
    book.sweep(max_writes=UNBOUNDED)
    return book
