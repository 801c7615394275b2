"""The stored form of the points ledger: its keys and its items, and the codecs
between items and the ledger's records. Pure: no AWS here (``points.repository``
reads and writes these items).

Items in the member's partition (``T#<tenant>#M#<member>``) of the loyalty table:

* ``#BALANCE``: the account snapshot: bucket totals (read by the member view),
  lots (one per expiry day), pending lots (one per order day in the return
  window), holds (at most ``max_active_holds``), qualifying points by month,
  tier, ``version``, and ``expiring``: the lots expiring within the notice
  window as of the write (expiry day -> points; at most
  ``expiring_notice_days`` of them); listed in the points due index (gsi1) at
  its next due instant. Its size follows the configuration, never the number of
  orders.
* ``L#<seq>``: ledger entries, append-only, numbered in the order applied.
* ``K#<business key>``: one marker per applied operation, holding its result.
* ``O#<order_id>``: what the ledger knows about an order (for clawbacks): its
  total and currency, points earned and clawed back, bonuses it earned, points
  spent on it.
* ``R#<redemption_id>``: a redemption and its state.
"""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal
from typing import Any

from loyalty import keys
from loyalty.dynamo import plain
from loyalty.program import ORDER_CURRENCY
from points.ledger import Account, Entry, Hold, OrderRecord, PendingLot, Redemption, is_day

BALANCE_SK = keys.BALANCE_SK
PROFILE_SK = keys.PROFILE_SK
ENTRY_PREFIX = "L#"
DUE_SHARDS = 8
DUE_KIND = "points"


def entry_sk(seq: int) -> str:
    return f"{ENTRY_PREFIX}{seq:012d}"


def marker_sk(op_key: str) -> str:
    return f"K#{op_key}"


def order_sk(order_id: str) -> str:
    return f"O#{order_id}"


def redemption_sk(redemption_id: str) -> str:
    return f"R#{redemption_id}"


def due_pk(tenant: str, shard: int) -> str:
    return f"{keys.due_pk(tenant, DUE_KIND)}#{shard}"


def due_bound(now: str) -> str:
    """The due index's sort key bound: every member due by ``now``."""
    return f"{now}#\uffff"


def _ints(value: Any) -> dict[str, int]:
    return {str(k): int(v) for k, v in (value or {}).items()}


def account_from_item(item: dict[str, Any] | None) -> Account:
    if not item or "version" not in item:
        return Account()
    return Account(
        version=int(item["version"]),
        seq=int(item.get("seq", 0)),
        lots=_ints(item.get("lots")),
        debt=int(item.get("debt", 0)),
        shortfall=int(item.get("shortfall", 0)),
        pending={
            # Lots stored per order (before lots were kept per order day) had their
            # qualifying points counted when earned.
            key: PendingLot(
                int(p["points"]),
                str(p["release_at"]),
                str(p["expires_on"]),
                bool(p.get("counted", not is_day(key))),
            )
            for key, p in (item.get("pending_lots") or {}).items()
        },
        holds={
            rid: Hold(int(h["points"]), _ints(h.get("lots")), str(h["lapse_at"]))
            for rid, h in (item.get("holds") or {}).items()
        },
        lifetime_earned=int(item.get("lifetime_earned", 0)),
        qualifying_months=_ints(item.get("qualifying_months")),
        tier=str(item.get("tier", "")),
        tier_since=item.get("tier_since"),
        tier_review_on=item.get("tier_review_on"),
        tier_kept=str(item.get("tier_kept", "")),
        tier_basis=int(item["tier_basis"]) if item.get("tier_basis") is not None else None,
        tier_upgraded_at=item.get("tier_upgraded_at"),
        notified=[str(d) for d in item.get("notified") or []],
        earned_days=_ints(item.get("earned_days")),
        first_order_id=(
            str(item["first_order_id"])
            if "first_order_id" in item
            else ("" if item.get("first_order_bonus") else None)  # stored before the order id was kept
        ),
        birthday_bonus={
            str(k): str(v)
            for k, v in (
                item.get("birthday_bonus") or {str(y): "" for y in item.get("birthday_bonus_years") or []}
            ).items()
        },
    )


def balance_item(
    tenant: str,
    member: str,
    account: Account,
    next_due: str | None,
    at: str,
    expiring: dict[str, int] | None = None,
) -> dict[str, Any]:
    """``expiring``: the lots in the notice window as of ``at`` (left out: not stored)."""
    item: dict[str, Any] = {
        "pk": keys.member_pk(tenant, member),
        "sk": BALANCE_SK,
        "kind": "balance",
        "tenant_id": tenant,
        "member_id": member,
        "version": account.version,
        "seq": account.seq,
        "available": account.available,
        "pending": account.pending_points,
        "held": account.held,
        "lifetime_earned": account.lifetime_earned,
        "debt": account.debt,
        "shortfall": account.shortfall,
        "lots": account.lots,
        "pending_lots": {o: asdict(p) for o, p in account.pending.items()},
        "holds": {r: asdict(h) for r, h in account.holds.items()},
        "qualifying_months": account.qualifying_months,
        "tier": account.tier,
        "tier_since": account.tier_since,
        "tier_review_on": account.tier_review_on,
        "tier_kept": account.tier_kept,
        "tier_basis": account.tier_basis,
        "tier_upgraded_at": account.tier_upgraded_at,
        "notified": account.notified,
        "earned_days": account.earned_days,
        "first_order_id": account.first_order_id,
        "birthday_bonus": account.birthday_bonus,
        "expiring": expiring,
        "updated_at": at,
    }
    if next_due:
        item["gsi1pk"] = due_pk(tenant, keys.shard_of(member, DUE_SHARDS))
        item["gsi1sk"] = f"{next_due}#{member}"
    return {k: v for k, v in item.items() if v is not None}


def entry_item(tenant: str, member: str, entry: Entry, day: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": keys.member_pk(tenant, member),
        "sk": entry_sk(entry.seq),
        "kind": "ledger",
        "tenant_id": tenant,
        "member_id": member,
        **{k: v for k, v in asdict(entry).items() if v not in (None, {}, 0) or k == "seq"},
        "points": entry.available + entry.pending + entry.held,
    }
    if entry.entry_type == "earn":
        item.update(keys.day_index(tenant, day, member, "points.earned", entry.at, f"{member}#{entry.seq}"))
    return item


def entry_from_item(item: dict[str, Any]) -> Entry:
    return Entry(
        seq=int(item["seq"]),
        entry_type=str(item["entry_type"]),
        key=str(item["key"]),
        at=str(item["at"]),
        reason=str(item["reason"]),
        available=int(item.get("available", 0)),
        pending=int(item.get("pending", 0)),
        held=int(item.get("held", 0)),
        lots=_ints(item.get("lots")),
        debt=int(item.get("debt", 0)),
        qualifying=int(item.get("qualifying", 0)),
        lifetime=int(item.get("lifetime", 0)),
        pending_lot=plain(item.get("pending_lot")),
        unrecovered=int(item.get("unrecovered", 0)),
        refs={str(k): str(v) for k, v in (item.get("refs") or {}).items()},
        qualifying_month=item.get("qualifying_month"),
        hold=plain(item.get("hold")),
    )


def order_item(tenant: str, member: str, order: OrderRecord) -> dict[str, Any]:
    data = {k: v for k, v in asdict(order).items() if v is not None}
    data["total"] = str(order.total)
    data["refunds"] = {currency: str(amount) for currency, amount in order.refunds.items()}
    return {"pk": keys.member_pk(tenant, member), "sk": order_sk(order.order_id), "kind": "order", **data}


def order_from_item(item: dict[str, Any]) -> OrderRecord:
    """Also reads a record that holds only points spent on an order not seen yet."""
    fields = {k: plain(v) for k, v in item.items() if k in OrderRecord.__dataclass_fields__}
    fields["order_id"] = str(item.get("order_id") or str(item["sk"]).removeprefix(order_sk("")))
    fields["total"] = Decimal(str(item.get("total", "0")))
    refunds = {str(c): Decimal(str(a)) for c, a in (item.get("refunds") or {}).items()}
    if "refunded" in item and not refunds and Decimal(str(item["refunded"])):
        refunds[ORDER_CURRENCY] = Decimal(
            str(item["refunded"])
        )  # stored before refunds were kept by currency
    fields["refunds"] = refunds
    fields["bonuses"] = _ints(item.get("bonuses"))
    return OrderRecord(**fields)


def redemption_item(tenant: str, member: str, redemption: Redemption) -> dict[str, Any]:
    return {
        "pk": keys.member_pk(tenant, member),
        "sk": redemption_sk(redemption.redemption_id),
        "kind": "redemption",
        **{k: v for k, v in asdict(redemption).items() if v is not None},
    }


def redemption_from_item(item: dict[str, Any]) -> Redemption:
    fields = {k: plain(v) for k, v in item.items() if k in Redemption.__dataclass_fields__}
    fields["lots"] = _ints(item.get("lots"))
    return Redemption(**fields)
