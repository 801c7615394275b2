"""Points use cases: load the member's account, apply one ledger operation,
commit it atomically. Pure orchestration over a :class:`LedgerStore`; the
DynamoDB implementation lives in ``points.repository``.

Every operation carries a business key (``op_key``). The store commits the
entries, the new account (under a version check) and a marker for the key in
one transaction, so a redelivered stream record or a retried request finds the
marker and changes nothing; the marker keeps the first result for replies.
Before any operation the account is brought up to date (:meth:`Book.sweep`),
so pending points released or lots expired by now count even if the scheduled
sweep has not run yet.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from loyalty.commit import DEFAULT_BUDGET, Budget, Contention, LostRace, optimistic
from loyalty.program import Points, ProgramConfig
from loyalty.timeutil import iso
from points.ledger import (
    Account,
    Book,
    OrderLine,
    OrderRecord,
    Outcome,
    Quote,
    Redemption,
    next_due,
    quote_for,
    request_hash,
)

__all__ = ["Contention"]  # raised when the retry budget is spent (the API answers 503)


class VersionConflict(LostRace):
    """The account changed since it was read; the operation is retried."""


class AlreadyApplied(LostRace):
    """The operation's business key was applied meanwhile; the retry finds its result."""


class RequestConflict(Exception):
    """The same id was used before with a different request."""


@dataclass
class Snapshot:
    account: Account
    order: OrderRecord | None = None
    redemption: Redemption | None = None
    birthday: str | None = None
    applied: dict[str, Any] | None = None  # the stored result when op_key was applied before


@dataclass
class Change:
    expected_version: int
    at: str
    account: Account
    outcome: Outcome
    next_due: str | None
    op_key: str | None = None
    result: dict[str, Any] = field(default_factory=dict)
    order: OrderRecord | None = None
    redemption: Redemption | None = None
    lapsed: list[str] = field(default_factory=list)


class LedgerStore(Protocol):
    def load(
        self,
        tenant: str,
        member: str,
        *,
        op_key: str | None = None,
        order_id: str | None = None,
        redemption_id: str | None = None,
        with_profile: bool = False,
    ) -> Snapshot: ...

    def commit(self, tenant: str, member: str, change: Change) -> None:
        """Write it all or nothing; raise AlreadyApplied or VersionConflict."""


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


def _run(
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
    )
    ctx.store.commit(tenant, member, change)


def _normalised(account: Account, ctx: Context) -> Account:
    if account.tier and account.tier_kept:
        return account
    tier = account.tier or ctx.rules.tiers[0].name
    return Account(**{**account.__dict__, "tier": tier, "tier_kept": account.tier_kept or tier})


def balance(account: Account) -> dict[str, Any]:
    return {"available": account.available, "pending": account.pending_points, "held": account.held}


# --- stream-driven operations ----------------------------------------------------


def order_placed(
    ctx: Context,
    tenant: str,
    member: str,
    order_id: str,
    total: Decimal,
    lines: list[OrderLine],
    placed_at: str,
    currency: str | None = None,
) -> Applied:
    """Earn an order's points once per order id. An order in a currency without an
    exchange rate to the program's is recorded, earns nothing, and the ledger says why."""

    def action(book: Book, snap: Snapshot) -> tuple[OrderRecord | None, Redemption | None, dict[str, Any]]:
        order = snap.order or OrderRecord(order_id=order_id)
        if order.known:
            return None, None, {"status": "already known"}
        order.known, order.total, order.placed_at = True, total, placed_at
        order.currency = currency or ctx.program.currency
        key = f"order:{order_id}"
        base_total = ctx.program.to_base(total, order.currency)
        if base_total is None:
            book.note(
                f"{key}#no-rate",
                f"order {order_id} in {order.currency}: no exchange rate to {ctx.program.currency}; "
                "earns nothing",
                {"order_id": order_id},
            )
            order = book.settle_after_arrival(order, key, ctx.program.convert)
            return order, None, {"points": 0, "reason": "no_exchange_rate"}
        reversed_already = book.fully_reversed(order, ctx.program.convert)
        found = quote_for(
            book.account,
            base_total,
            lines,
            placed_at,
            snap.birthday,
            ctx.rules,
            ctx.tz,
            bonuses=not reversed_already,
        )
        order = book.earn_order(order, found, key)
        order = book.settle_after_arrival(order, key, ctx.program.convert)
        return order, None, {"points": found.total}

    return _run(ctx, tenant, member, f"order:{order_id}", action, order_id=order_id, with_profile=True)


def order_refunded(
    ctx: Context,
    tenant: str,
    member: str,
    order_id: str,
    refund_id: str,
    amount: Decimal,
    currency: str | None = None,
) -> Applied:
    key = f"refund:{order_id}:{refund_id}"

    def action(book: Book, snap: Snapshot) -> tuple[OrderRecord | None, Redemption | None, dict[str, Any]]:
        order = snap.order or OrderRecord(order_id=order_id)
        return book.refund(order, amount, currency, key, ctx.program.convert), None, {}

    return _run(ctx, tenant, member, key, action, order_id=order_id)


def order_cancelled(ctx: Context, tenant: str, member: str, order_id: str) -> Applied:
    key = f"cancel:{order_id}"

    def action(book: Book, snap: Snapshot) -> tuple[OrderRecord | None, Redemption | None, dict[str, Any]]:
        order = snap.order or OrderRecord(order_id=order_id)
        return book.cancel(order, key, ctx.program.convert), None, {}

    return _run(ctx, tenant, member, key, action, order_id=order_id)


def bonus(
    ctx: Context, tenant: str, member: str, kind: str, source_id: str, points: int, reason: str
) -> Applied:
    """Sign-up, review and referral bonuses: once per source."""
    key = f"bonus:{kind}:{source_id}"

    def action(book: Book, snap: Snapshot) -> tuple[OrderRecord | None, Redemption | None, dict[str, Any]]:
        book.bonus(points, key, reason)
        return None, None, {"points": points}

    return _run(ctx, tenant, member, key, action)


# --- requests ---------------------------------------------------------------------


def redeem(
    ctx: Context,
    tenant: str,
    member: str,
    redemption_id: str,
    points: int,
    *,
    hold: bool,
    reward: str | None = None,
    order_id: str | None = None,
) -> Applied:
    """Spend points (or hold them). Replaying the same redemption returns the
    first result; the same id with a different request is a RequestConflict."""
    fingerprint = request_hash({"points": points, "hold": hold, "reward": reward, "order_id": order_id})
    key = f"redeem:{redemption_id}"

    def action(book: Book, snap: Snapshot) -> tuple[OrderRecord | None, Redemption | None, dict[str, Any]]:
        redemption = Redemption(
            redemption_id=redemption_id,
            points=points,
            status="new",
            request_hash=fingerprint,
            created_at=book.at,
            reward=reward,
            order_id=order_id,
        )
        redemption = book.redeem(redemption, hold, key)
        return None, redemption, {**redemption_view(redemption), "balance": balance(book.account)}

    def same_request(snap: Snapshot) -> None:
        if snap.redemption is not None and snap.redemption.request_hash != fingerprint:
            raise RequestConflict(f"redemption {redemption_id} was made before with a different request")

    return _run(ctx, tenant, member, key, action, precheck=same_request, redemption_id=redemption_id)


def redemption_view(redemption: Redemption) -> dict[str, Any]:
    return {
        "redemption_id": redemption.redemption_id,
        "status": redemption.status,
        "points": redemption.points,
        "reward": redemption.reward,
        "order_id": redemption.order_id,
        "created_at": redemption.created_at,
        "lapses_at": redemption.lapse_at if redemption.status == "held" else None,
    }


class UnknownRedemption(Exception):
    pass


def _settle_hold(ctx: Context, tenant: str, member: str, redemption_id: str, confirm: bool) -> Applied:
    key = f"{'confirm' if confirm else 'cancel'}:{redemption_id}"

    def action(book: Book, snap: Snapshot) -> tuple[OrderRecord | None, Redemption | None, dict[str, Any]]:
        if snap.redemption is None:
            raise UnknownRedemption(redemption_id)
        current = snap.redemption
        if current.status == "held" and redemption_id not in book.account.holds:
            current.status = "lapsed"  # lapsed by the sweep that just ran
        updated = book.confirm(current, key) if confirm else book.release_hold(current, key)
        return None, updated, {**redemption_view(updated), "balance": balance(book.account)}

    return _run(ctx, tenant, member, key, action, redemption_id=redemption_id)


def confirm(ctx: Context, tenant: str, member: str, redemption_id: str) -> Applied:
    return _settle_hold(ctx, tenant, member, redemption_id, confirm=True)


def cancel(ctx: Context, tenant: str, member: str, redemption_id: str) -> Applied:
    return _settle_hold(ctx, tenant, member, redemption_id, confirm=False)


def adjust(
    ctx: Context, tenant: str, member: str, adjustment_id: str, points: int, reason: str, actor: str
) -> Applied:
    key = f"adjust:{adjustment_id}"

    def action(book: Book, snap: Snapshot) -> tuple[OrderRecord | None, Redemption | None, dict[str, Any]]:
        refused = book.adjust(points, key, reason, {"adjustment_id": adjustment_id, "actor": actor})
        return (
            None,
            None,
            {
                "adjustment_id": adjustment_id,
                "points": points,
                "applied_points": points + refused if points < 0 else points,
                "reason": reason,
                "balance": balance(book.account),
            },
        )

    return _run(ctx, tenant, member, key, action)


def sweep(ctx: Context, tenant: str, member: str) -> Applied:
    """Everything due for one member (the scheduled sweep calls this per due member)."""

    def action(book: Book, snap: Snapshot) -> tuple[OrderRecord | None, Redemption | None, dict[str, Any]]:
        return None, None, {}

    return _run(ctx, tenant, member, None, action)


def still_due(ctx: Context, account: Account | None) -> bool:
    """Whether the account has anything due by the context's time."""
    if account is None:
        return True
    due = next_due(account, ctx.rules, ctx.tz)
    return due is not None and due <= iso(ctx.now)


def estimate(
    ctx: Context,
    tenant: str,
    member: str,
    total: Decimal,
    lines: list[OrderLine],
    placed_at: str,
    currency: str | None = None,
) -> Quote:
    """What an order would earn now; writes nothing."""
    base_total = ctx.program.to_base(total, currency)
    if base_total is None:
        return Quote(0, [], [f"no exchange rate from {currency} to {ctx.program.currency}: earns nothing"])
    snap = ctx.store.load(tenant, member, with_profile=True)
    book = Book(snap.account, ctx.rules, ctx.tz, ctx.now)
    book.sweep(max_writes=UNBOUNDED)  # in memory only: nothing is written
    return quote_for(book.account, base_total, lines, placed_at, snap.birthday, ctx.rules, ctx.tz)


def current(ctx: Context, tenant: str, member: str) -> Account:
    """The account as of now (due releases and expiries applied in memory)."""
    snap = ctx.store.load(tenant, member)
    book = Book(snap.account, ctx.rules, ctx.tz, ctx.now)
    book.sweep(max_writes=UNBOUNDED)  # in memory only: nothing is written
    return book.account
