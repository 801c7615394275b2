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

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

from loyalty.program import Points
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

MAX_ATTEMPTS = 12
T = TypeVar("T")


class VersionConflict(Exception):
    """The account changed since it was read; the operation is retried."""


class AlreadyApplied(Exception):
    """The operation's business key was applied before."""


class Contention(RuntimeError):
    """The account kept changing under every attempt; the caller retries later."""


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
    backoff: Callable[[int], None] = lambda attempt: time.sleep(
        random.uniform(0, 0.005 * 2 ** min(attempt, 6))
    )  # noqa: S311 - jitter


@dataclass(frozen=True)
class Applied:
    applied: bool  # False: the business key was seen before; nothing moved
    result: dict[str, Any]
    account: Account | None = None


def _run(
    ctx: Context,
    tenant: str,
    member: str,
    op_key: str | None,
    action: Callable[[Book, Snapshot], tuple[OrderRecord | None, Redemption | None, dict[str, Any]]],
    precheck: Callable[[Snapshot], None] | None = None,
    **load: Any,
) -> Applied:
    for attempt in range(MAX_ATTEMPTS):
        snap = ctx.store.load(tenant, member, op_key=op_key, **load)
        if precheck is not None:
            precheck(snap)
        if snap.applied is not None:
            return Applied(False, snap.applied)
        book = Book(snap.account, ctx.rules, ctx.tz, ctx.now)
        lapsed = book.sweep()
        order, redemption, result = action(book, snap)
        account = book.account
        if (
            op_key is None
            and not book.entries
            and not book.notices
            and account == _normalised(snap.account, ctx)
        ):
            return Applied(False, result, account)
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
            lapsed=lapsed,
        )
        try:
            ctx.store.commit(tenant, member, change)
            return Applied(True, result, account)
        except AlreadyApplied:
            continue  # the next load returns the stored result
        except VersionConflict:
            ctx.backoff(attempt)
    raise Contention(f"account of member kept changing over {MAX_ATTEMPTS} attempts")


def _normalised(account: Account, ctx: Context) -> Account:
    if account.tier:
        return account
    return Account(**{**account.__dict__, "tier": ctx.rules.tiers[0].name})


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
) -> Applied:
    def action(book: Book, snap: Snapshot) -> tuple[OrderRecord | None, Redemption | None, dict[str, Any]]:
        order = snap.order or OrderRecord(order_id=order_id)
        if order.known:
            return None, None, {"status": "already known"}
        order.known, order.total, order.placed_at = True, total, placed_at
        found = quote_for(book.account, total, lines, placed_at, snap.birthday, ctx.rules, ctx.tz)
        key = f"order:{order_id}"
        order = book.earn_order(order, found, key)
        order = book.settle_after_arrival(order, key)
        return order, None, {"points": found.total}

    return _run(ctx, tenant, member, f"order:{order_id}", action, order_id=order_id, with_profile=True)


def order_refunded(
    ctx: Context, tenant: str, member: str, order_id: str, refund_id: str, amount: Decimal
) -> Applied:
    key = f"refund:{order_id}:{refund_id}"

    def action(book: Book, snap: Snapshot) -> tuple[OrderRecord | None, Redemption | None, dict[str, Any]]:
        order = book.refund(snap.order or OrderRecord(order_id=order_id), refund_id, amount, key)
        return order, None, {}

    return _run(ctx, tenant, member, key, action, order_id=order_id)


def order_cancelled(ctx: Context, tenant: str, member: str, order_id: str) -> Applied:
    key = f"cancel:{order_id}"

    def action(book: Book, snap: Snapshot) -> tuple[OrderRecord | None, Redemption | None, dict[str, Any]]:
        return book.cancel(snap.order or OrderRecord(order_id=order_id), key), None, {}

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
        order = None
        if order_id:
            order = snap.order or OrderRecord(order_id=order_id)
            order.spent += points
        return order, redemption, {**redemption_view(redemption), "balance": balance(book.account)}

    def same_request(snap: Snapshot) -> None:
        if snap.redemption is not None and snap.redemption.request_hash != fingerprint:
            raise RequestConflict(f"redemption {redemption_id} was made before with a different request")

    ids = {"order_id": order_id, "redemption_id": redemption_id}
    return _run(ctx, tenant, member, key, action, precheck=same_request, **ids)


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
    """Whether the account has more due by the context's time than one commit took."""
    if account is None:
        return True
    due = next_due(account, ctx.rules, ctx.tz)
    return due is not None and due <= iso(ctx.now)


def estimate(
    ctx: Context, tenant: str, member: str, total: Decimal, lines: list[OrderLine], placed_at: str
) -> Quote:
    """What an order would earn now; writes nothing."""
    snap = ctx.store.load(tenant, member, with_profile=True)
    book = Book(snap.account, ctx.rules, ctx.tz, ctx.now)
    book.sweep()
    return quote_for(book.account, total, lines, placed_at, snap.birthday, ctx.rules, ctx.tz)


def current(ctx: Context, tenant: str, member: str) -> Account:
    """The account as of now (due releases and expiries applied in memory)."""
    snap = ctx.store.load(tenant, member)
    book = Book(snap.account, ctx.rules, ctx.tz, ctx.now)
    book.sweep()
    return book.account
