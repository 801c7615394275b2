"""Data access for the points ledger (the only points module touching DynamoDB).

Items in the member's partition (``T#<tenant>#M#<member>``) of the loyalty table:

* ``#BALANCE``: the account snapshot: bucket totals (read by the member view),
  lots (one per expiry day), pending lots (one per order day in the return
  window), holds (at most ``max_active_holds``), qualifying points by month,
  tier, ``version``; listed in the points due index (gsi1) at its next due
  instant. Its size follows the configuration, never the number of orders.
* ``L#<seq>``: ledger entries, append-only, numbered in the order applied.
* ``K#<business key>``: one marker per applied operation, holding its result.
* ``O#<order_id>``: what the ledger knows about an order (for clawbacks): its
  total and currency, points earned and clawed back, bonuses it earned, points
  spent on it.
* ``R#<redemption_id>``: a redemption and its state.

One operation is one TransactWriteItems: entries, marker, records and the
balance under ``version = :expected`` — all or nothing, and never more than
DynamoDB's 100 items (the sweep splits a large backlog over several commits).
"""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from loyalty import aws, keys, system_events
from loyalty.dynamo import cancellation_codes, plain, query_all, transact_write
from loyalty.program import ORDER_CURRENCY
from points.ledger import Account, Entry, Hold, OrderRecord, PendingLot, Redemption, day_of, is_day
from points.logic import AlreadyApplied, Change, Snapshot, VersionConflict

BALANCE_SK = "#BALANCE"
DUE_SHARDS = 8
DUE_KIND = "points"
MAX_TRANSACTION_ITEMS = 100  # DynamoDB's limit for one TransactWriteItems


def entry_sk(seq: int) -> str:
    return f"L#{seq:012d}"


def due_pk(tenant: str, shard: int) -> str:
    return f"{keys.due_pk(tenant, DUE_KIND)}#{shard}"


# --- codecs --------------------------------------------------------------------


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


def balance_item(tenant: str, member: str, account: Account, next_due: str | None, at: str) -> dict[str, Any]:
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
    )


def order_item(tenant: str, member: str, order: OrderRecord) -> dict[str, Any]:
    data = {k: v for k, v in asdict(order).items() if v is not None}
    data["total"] = str(order.total)
    data["refunds"] = {currency: str(amount) for currency, amount in order.refunds.items()}
    return {"pk": keys.member_pk(tenant, member), "sk": f"O#{order.order_id}", "kind": "order", **data}


def order_from_item(item: dict[str, Any]) -> OrderRecord:
    """Also reads a record that holds only points spent on an order not seen yet."""
    fields = {k: plain(v) for k, v in item.items() if k in OrderRecord.__dataclass_fields__}
    fields["order_id"] = str(item.get("order_id") or str(item["sk"])[2:])
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
        "sk": f"R#{redemption.redemption_id}",
        "kind": "redemption",
        **{k: v for k, v in asdict(redemption).items() if v is not None},
    }


def redemption_from_item(item: dict[str, Any]) -> Redemption:
    fields = {k: plain(v) for k, v in item.items() if k in Redemption.__dataclass_fields__}
    fields["lots"] = _ints(item.get("lots"))
    return Redemption(**fields)


# --- the store ---------------------------------------------------------------------


class DynamoLedgerStore:
    def __init__(self, table_name: str, events_table: str | None, tz: Any) -> None:
        self._table_name = table_name
        self._events_table = events_table
        self._tz = tz

    def load(
        self,
        tenant: str,
        member: str,
        *,
        op_key: str | None = None,
        order_id: str | None = None,
        redemption_id: str | None = None,
        with_profile: bool = False,
    ) -> Snapshot:
        """One BatchGetItem (strongly consistent) for everything the operation reads."""
        pk = keys.member_pk(tenant, member)
        wanted = {BALANCE_SK}
        if op_key:
            wanted.add(f"K#{op_key}")
        if order_id:
            wanted.add(f"O#{order_id}")
        if redemption_id:
            wanted.add(f"R#{redemption_id}")
        if with_profile:
            wanted.add("#PROFILE")
        found: dict[str, dict[str, Any]] = {}
        request: dict[str, Any] = {
            self._table_name: {
                "Keys": [{"pk": pk, "sk": sk} for sk in sorted(wanted)],
                "ConsistentRead": True,
            }
        }
        # The table resource's client converts Python values, like Table methods do.
        batch_client = aws.table(self._table_name).meta.client
        while request:
            page = batch_client.batch_get_item(RequestItems=request)
            for item in page["Responses"].get(self._table_name, []):
                found[item["sk"]] = item
            request = page.get("UnprocessedKeys") or {}
        marker = found.get(f"K#{op_key}") if op_key else None
        order = found.get(f"O#{order_id}") if order_id else None
        redemption = found.get(f"R#{redemption_id}") if redemption_id else None
        profile = found.get("#PROFILE") or {}
        return Snapshot(
            account=account_from_item(found.get(BALANCE_SK)),
            order=order_from_item(order) if order else None,
            redemption=redemption_from_item(redemption) if redemption else None,
            birthday=profile.get("birthday"),
            applied=plain(marker.get("result") or {}) if marker else None,
        )

    def commit(self, tenant: str, member: str, change: Change) -> None:
        pk = keys.member_pk(tenant, member)
        at = change.at
        items: list[dict[str, Any]] = []
        balance: dict[str, Any] = {
            "TableName": self._table_name,
            "Item": balance_item(tenant, member, change.account, change.next_due, at),
        }
        if change.expected_version == 0:
            balance["ConditionExpression"] = "attribute_not_exists(version)"
        else:
            balance["ConditionExpression"] = "version = :v"
            balance["ExpressionAttributeValues"] = {":v": change.expected_version}
        items.append({"Put": balance})
        marker_index = None
        if change.op_key is not None:
            marker_index = len(items)
            items.append(
                {
                    "Put": {
                        "TableName": self._table_name,
                        "Item": {
                            "pk": pk,
                            "sk": f"K#{change.op_key}",
                            "kind": "applied",
                            "result": change.result,
                            "at": at,
                        },
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
        for entry in change.outcome.entries:
            items.append(
                {
                    "Put": {
                        "TableName": self._table_name,
                        "Item": entry_item(tenant, member, entry, day_of(entry.at, self._tz)),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
        if change.order is not None:
            items.append(
                {"Put": {"TableName": self._table_name, "Item": order_item(tenant, member, change.order)}}
            )
        if change.outcome.spent_on_order is not None:
            # Added without reading the order record: the version check on the balance
            # orders this write against every other write of the member's ledger.
            order_id, points = change.outcome.spent_on_order
            items.append(
                {
                    "Update": {
                        "TableName": self._table_name,
                        "Key": {"pk": pk, "sk": f"O#{order_id}"},
                        "UpdateExpression": "ADD spent :p SET kind = :kind, order_id = :o",
                        "ExpressionAttributeValues": {":p": points, ":kind": "order", ":o": order_id},
                    }
                }
            )
        if change.redemption is not None:
            items.append(
                {
                    "Put": {
                        "TableName": self._table_name,
                        "Item": redemption_item(tenant, member, change.redemption),
                    }
                }
            )
        for redemption_id in change.lapsed:
            if change.redemption is not None and change.redemption.redemption_id == redemption_id:
                continue
            items.append(
                {
                    "Update": {
                        "TableName": self._table_name,
                        "Key": {"pk": pk, "sk": f"R#{redemption_id}"},
                        "UpdateExpression": "SET #s = :lapsed, updated_at = :at",
                        "ExpressionAttributeNames": {"#s": "status"},
                        "ExpressionAttributeValues": {":lapsed": "lapsed", ":at": at},
                    }
                }
            )
        if change.outcome.notices:
            events_table = self._events_table
            if not events_table:
                raise RuntimeError("points notices need the events table")
            for notice in change.outcome.notices:
                items.append(
                    {
                        "Put": {
                            "TableName": events_table,
                            "Item": system_events.event_item(
                                tenant,
                                member,
                                f"sys:points:{member}:{notice.key}",
                                notice.type,
                                at,
                                day_of(at, self._tz),
                                notice.data,
                            ),
                        }
                    }
                )
        if len(items) > MAX_TRANSACTION_ITEMS:
            raise ValueError(f"a ledger commit of {len(items)} items exceeds DynamoDB's transaction limit")
        try:
            transact_write(items)
        except ClientError as err:
            codes = cancellation_codes(err)
            if marker_index is not None and codes[marker_index : marker_index + 1] == [
                "ConditionalCheckFailed"
            ]:
                raise AlreadyApplied(change.op_key) from err
            if codes[:1] == ["ConditionalCheckFailed"]:
                raise VersionConflict() from err
            raise

    # reads for the API ------------------------------------------------------------

    def entries(
        self, tenant: str, member: str, limit: int, start: dict[str, Any] | None
    ) -> tuple[list[Entry], dict[str, Any] | None]:
        """Newest first: one Query on the member partition, ``L#`` prefix, descending."""
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :l)",
            "ExpressionAttributeValues": {":pk": keys.member_pk(tenant, member), ":l": "L#"},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = aws.table(self._table_name).query(**kwargs)
        return [entry_from_item(item) for item in page["Items"]], page.get("LastEvaluatedKey")

    def due_members(self, tenant: str, now: str) -> list[str]:
        """Members with something due by ``now``: one Query per due-index shard."""
        members: list[str] = []
        table = aws.table(self._table_name)
        for shard in range(DUE_SHARDS):
            items = query_all(
                table,
                IndexName="gsi1",
                KeyConditionExpression="gsi1pk = :pk AND gsi1sk <= :bound",
                ExpressionAttributeValues={":pk": due_pk(tenant, shard), ":bound": f"{now}#\uffff"},
            )
            members.extend(str(item["member_id"]) for item in items)
        return members
