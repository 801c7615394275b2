"""Points use cases: what each ledger operation does, and the reads the API
makes. Each operation is one call of :func:`points.operation.run` (load, bring
the account up to date, apply, commit atomically under its business key), over
a :class:`~points.store.LedgerStore`; the DynamoDB implementation lives in
``points.repository``. Pure orchestration: no AWS here.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from loyalty.commit import Contention
from points.ledger import (
    Account,
    Book,
    OrderLine,
    OrderRecord,
    Quote,
    Redemption,
    quote_for,
    request_hash,
)
from points.operation import Applied, Context, run, up_to_date
from points.store import EntriesPage, LedgerStore, Snapshot

# Re-exported for the entry modules, which know only this module: an operation's
# context and result, the store it runs on, and the error a spent retry budget
# raises (the API answers 503).
__all__ = ["Applied", "Contention", "Context", "LedgerStore"]


class RequestConflict(Exception):
    """The same id was used before with a different request."""


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

    return run(ctx, tenant, member, f"order:{order_id}", action, order_id=order_id, with_profile=True)


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

    return run(ctx, tenant, member, key, action, order_id=order_id)


def order_cancelled(ctx: Context, tenant: str, member: str, order_id: str) -> Applied:
    key = f"cancel:{order_id}"

    def action(book: Book, snap: Snapshot) -> tuple[OrderRecord | None, Redemption | None, dict[str, Any]]:
        order = snap.order or OrderRecord(order_id=order_id)
        return book.cancel(order, key, ctx.program.convert), None, {}

    return run(ctx, tenant, member, key, action, order_id=order_id)


def bonus(
    ctx: Context, tenant: str, member: str, kind: str, source_id: str, points: int, reason: str
) -> Applied:
    """Sign-up, review and referral bonuses: once per source."""
    key = f"bonus:{kind}:{source_id}"

    def action(book: Book, snap: Snapshot) -> tuple[OrderRecord | None, Redemption | None, dict[str, Any]]:
        book.bonus(points, key, reason)
        return None, None, {"points": points}

    return run(ctx, tenant, member, key, action)


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

    return run(ctx, tenant, member, key, action, precheck=same_request, redemption_id=redemption_id)


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

    return run(ctx, tenant, member, key, action, redemption_id=redemption_id)


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

    return run(ctx, tenant, member, key, action)


def sweep(ctx: Context, tenant: str, member: str) -> Applied:
    """Everything due for one member (the scheduled sweep calls this per due member)."""

    def action(book: Book, snap: Snapshot) -> tuple[OrderRecord | None, Redemption | None, dict[str, Any]]:
        return None, None, {}

    return run(ctx, tenant, member, None, action)


# --- reads ------------------------------------------------------------------------


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
    book = up_to_date(ctx, snap)
    return quote_for(book.account, base_total, lines, placed_at, snap.birthday, ctx.rules, ctx.tz)


def current(ctx: Context, tenant: str, member: str) -> Account:
    """The account as of now (due releases and expiries applied in memory)."""
    return up_to_date(ctx, ctx.store.load(tenant, member)).account


def ledger_page(store: LedgerStore, tenant: str, member: str, limit: int, cursor: str | None) -> EntriesPage:
    """One page of the member's ledger, newest first, and the cursor of the next page
    (None after the last); a cursor that is not one of this member's pages is a
    ``ValidationFailed``. The entries are what was written: nothing is brought up
    to date for a listing."""
    return store.entries_page(tenant, member, limit, cursor)
