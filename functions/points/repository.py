"""Data access for the points ledger (the only points module touching DynamoDB):
:class:`DynamoLedgerStore` implements :class:`points.store.LedgerStore` on the
loyalty table, with the items and keys of ``points.items``.

One operation is one TransactWriteItems: entries, marker, records and the
balance under ``version = :expected`` — all or nothing, and never more than
DynamoDB's 100 items (the sweep splits a large backlog over several commits).
The ledger is listed newest first with one Query per page, under a cursor
checked to be a ledger position in the member's own partition.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from loyalty import audit, aws, keys, system_events
from loyalty import cursor as cursors
from loyalty.dynamo import cancellation_codes, plain, query_all, query_page, transact_write
from loyalty.errors import ValidationFailed
from loyalty.events.stored import event_item
from points.items import (
    BALANCE_SK,
    DUE_SHARDS,
    ENTRY_PREFIX,
    PROFILE_SK,
    account_from_item,
    balance_item,
    due_bound,
    due_pk,
    entry_from_item,
    entry_item,
    marker_sk,
    order_from_item,
    order_item,
    order_sk,
    redemption_from_item,
    redemption_item,
    redemption_sk,
)
from points.ledger import day_of
from points.store import AlreadyApplied, Change, EntriesPage, Snapshot, VersionConflict

__all__ = ["DynamoLedgerStore", "balance_item", "order_item", "record_adjustment", "redemption_item"]

MAX_TRANSACTION_ITEMS = 100  # DynamoDB's limit for one TransactWriteItems
PAGE_KEYS = ("pk", "sk")  # what a ledger cursor carries


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
            wanted.add(marker_sk(op_key))
        if order_id:
            wanted.add(order_sk(order_id))
        if redemption_id:
            wanted.add(redemption_sk(redemption_id))
        if with_profile:
            wanted.add(PROFILE_SK)
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
        marker = found.get(marker_sk(op_key)) if op_key else None
        order = found.get(order_sk(order_id)) if order_id else None
        redemption = found.get(redemption_sk(redemption_id)) if redemption_id else None
        profile = found.get(PROFILE_SK) or {}
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
            "Item": balance_item(tenant, member, change.account, change.next_due, at, change.expiring),
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
                            "sk": marker_sk(change.op_key),
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
                        "Key": {"pk": pk, "sk": order_sk(order_id)},
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
                        "Key": {"pk": pk, "sk": redemption_sk(redemption_id)},
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
                            "Item": event_item(
                                system_events.system_event(
                                    tenant,
                                    member,
                                    f"sys:points:{member}:{notice.key}",
                                    notice.type,
                                    at,
                                    day_of(at, self._tz),
                                    notice.data,
                                )
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

    def entries_page(self, tenant: str, member: str, limit: int, cursor: str | None) -> EntriesPage:
        """Newest first: one Query on the member partition, ``L#`` prefix, descending.
        The cursor must be a ledger position in the member's own partition."""
        pk = keys.member_pk(tenant, member)
        start = cursors.decode(cursor, PAGE_KEYS, {"pk": pk})
        if start is not None and not str(start["sk"]).startswith(ENTRY_PREFIX):
            raise ValidationFailed("cursor is not valid", field="cursor", code="invalid_cursor")
        items, next_cursor = query_page(
            aws.table(self._table_name),
            PAGE_KEYS,
            {"pk": pk},
            cursor,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :l)",
            ExpressionAttributeValues={":pk": pk, ":l": ENTRY_PREFIX},
            ScanIndexForward=False,
            Limit=limit,
        )
        return EntriesPage([entry_from_item(item) for item in items], next_cursor)

    def due_members(self, tenant: str, now: str) -> list[str]:
        """Members with something due by ``now``: one Query per due-index shard."""
        members: list[str] = []
        table = aws.table(self._table_name)
        for shard in range(DUE_SHARDS):
            items = query_all(
                table,
                IndexName="gsi1",
                KeyConditionExpression="gsi1pk = :pk AND gsi1sk <= :bound",
                ExpressionAttributeValues={":pk": due_pk(tenant, shard), ":bound": due_bound(now)},
            )
            members.extend(str(item["member_id"]) for item in items)
        return members


def record_adjustment(
    table_name: str,
    tenant: str,
    at: datetime,
    actor: audit.Actor,
    member: str,
    adjustment_id: str,
    result: dict[str, Any],
) -> None:
    """An admin adjustment in the audit trail, once per adjustment and member: a
    replay writes the entry only if the first request failed before it could (the
    adjustment applied, the entry not yet written)."""
    entry = audit.entry_item(
        tenant,
        at,
        actor,
        "points.adjusted",
        adjustment_id,
        {
            "member_id": member,
            "points": result["points"],
            "applied_points": result["applied_points"],
            "reason": result["reason"],
        },
    )
    audit.record_once(table_name, entry, f"points.adjusted#{member}#{adjustment_id}")
