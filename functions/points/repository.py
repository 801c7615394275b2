"""Data access for the points ledger and balances."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from loyalty import aws, keys
from loyalty.dynamo import cancellation_codes, transact_write
from points.logic import Balance, LedgerEntry


class PointsStore:
    def __init__(self, table_name: str) -> None:
        self._table_name = table_name

    def append(self, entry: LedgerEntry) -> bool:
        """Write the entry and move the balance in one transaction. False when the
        entry already exists (a redelivered record): nothing moves twice."""
        pk = keys.member_pk(entry.tenant_id, entry.member_id)
        ledger_item: dict[str, Any] = {
            "pk": pk,
            "sk": entry.entry_key,
            "kind": "ledger",
            "tenant_id": entry.tenant_id,
            "member_id": entry.member_id,
            "entry_type": entry.entry_type,
            "points": entry.points,
            "source": entry.source,
            "occurred_at": entry.occurred_at,
            "reason": entry.reason,
        }
        if entry.entry_type == "earn":
            ledger_item.update(
                keys.day_index(
                    entry.tenant_id,
                    entry.day,
                    entry.member_id,
                    "points.earned",
                    entry.occurred_at,
                    entry.source,
                )
            )
        earned = entry.points if entry.entry_type == "earn" else 0
        try:
            transact_write(
                [
                    {
                        "Put": {
                            "TableName": self._table_name,
                            "Item": ledger_item,
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._table_name,
                            "Key": {"pk": pk, "sk": "#BALANCE"},
                            "UpdateExpression": (
                                "ADD available :p, lifetime_earned :e "
                                "SET kind = :kind, tenant_id = :t, member_id = :m, updated_at = :at"
                            ),
                            "ExpressionAttributeValues": {
                                ":p": entry.points,
                                ":e": earned,
                                ":kind": "balance",
                                ":t": entry.tenant_id,
                                ":m": entry.member_id,
                                ":at": entry.occurred_at,
                            },
                        }
                    },
                ]
            )
        except ClientError as err:
            if cancellation_codes(err)[:1] == ["ConditionalCheckFailed"]:
                return False
            raise
        return True

    def member_items(self, tenant: str, member: str) -> dict[str, dict[str, Any]]:
        """Profile, stats and balance in one Query (the member's '#' items)."""
        page = aws.table(self._table_name).query(
            KeyConditionExpression="pk = :pk AND sk BETWEEN :lo AND :hi",
            ExpressionAttributeValues={":pk": keys.member_pk(tenant, member), ":lo": "#", ":hi": "#~"},
        )
        return {item["sk"]: item for item in page["Items"]}


def balance_from_item(item: dict[str, Any] | None) -> Balance:
    if not item:
        return Balance()
    return Balance(
        available=int(item.get("available", 0)),
        pending=int(item.get("pending", 0)),
        held=int(item.get("held", 0)),
        lifetime_earned=int(item.get("lifetime_earned", 0)),
    )
