"""Data access for the points ledger and balances."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from loyalty import keys
from loyalty.dynamo import cancellation_codes, transact_write
from points.logic import LedgerEntry


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
