"""Data access for member profiles and stats in the loyalty table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from ingest import projection
from loyalty import aws, keys
from loyalty.dynamo import cancellation_codes, is_condition_failure, transact_write

MARKER_TTL = timedelta(days=7)  # longer than a stream record's 24 h retention
MAX_ATTEMPTS = 5


class ProfileStore:
    def __init__(self, table_name: str) -> None:
        self._table_name = table_name

    def upsert_profile(self, tenant: str, member: str, changes: dict[str, Any], at: str) -> bool:
        """Apply profile changes unless a newer event already did (event-time ordering)."""
        names: dict[str, str] = {"#at": "profile_at"}
        values: dict[str, Any] = {":at": at, ":kind": "profile", ":tenant": tenant, ":member": member}
        sets = ["#at = :at", "kind = :kind", "tenant_id = :tenant", "member_id = :member"]
        for i, (name, value) in enumerate(sorted(changes.items())):
            names[f"#f{i}"] = name
            values[f":v{i}"] = value
            sets.append(f"#f{i} = :v{i}")
        if birthday := changes.get("birthday"):
            sets += ["gsi1pk = :bdpk", "gsi1sk = :member"]
            values[":bdpk"] = keys.birthday_pk(tenant, projection.birthday_month_day(birthday))
        try:
            aws.table(self._table_name).update_item(
                Key={"pk": keys.member_pk(tenant, member), "sk": "#PROFILE"},
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression="attribute_not_exists(#at) OR #at <= :at",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as err:
            if is_condition_failure(err):
                return False  # superseded by a newer event; nothing to apply
            raise
        return True

    def record_order(self, tenant: str, member: str, event_id: str, occurred_at: str, total: Decimal) -> bool:
        """Add an order to the member's stats exactly once (marker + optimistic version)."""
        table = aws.table(self._table_name)
        pk = keys.member_pk(tenant, member)
        for _ in range(MAX_ATTEMPTS):
            item = table.get_item(Key={"pk": pk, "sk": "#STATS"}, ConsistentRead=True).get("Item")
            current = (
                projection.MemberStats(
                    orders_count=int(item["orders_count"]),
                    total_spend=Decimal(item["total_spend"]),
                    first_order_at=item.get("first_order_at"),
                    last_order_at=item.get("last_order_at"),
                    version=int(item["version"]),
                )
                if item
                else projection.MemberStats()
            )
            updated = projection.apply_order(current, occurred_at, total)
            expires = int((datetime.now(UTC) + MARKER_TTL).timestamp())
            stats_item = {
                "pk": pk,
                "sk": "#STATS",
                "kind": "stats",
                "tenant_id": tenant,
                "member_id": member,
                "orders_count": updated.orders_count,
                "total_spend": updated.total_spend,
                "first_order_at": updated.first_order_at,
                "last_order_at": updated.last_order_at,
                "version": updated.version,
            }
            condition = "attribute_not_exists(pk)" if item is None else "version = :v"
            put_stats: dict[str, Any] = {
                "TableName": self._table_name,
                "Item": stats_item,
                "ConditionExpression": condition,
            }
            if item is not None:
                put_stats["ExpressionAttributeValues"] = {":v": current.version}
            try:
                transact_write(
                    [
                        {
                            "Put": {
                                "TableName": self._table_name,
                                "Item": {
                                    "pk": pk,
                                    "sk": f"APPLIED#stats#{event_id}",
                                    "kind": "marker",
                                    "expires_at": expires,
                                },
                                "ConditionExpression": "attribute_not_exists(pk)",
                            }
                        },
                        {"Put": put_stats},
                    ]
                )
                return True
            except ClientError as err:
                codes = cancellation_codes(err) + [None, None]
                if codes[0] == "ConditionalCheckFailed":
                    return False  # redelivery: already counted
                if codes[1] != "ConditionalCheckFailed":
                    raise
        raise RuntimeError("stats update kept conflicting; will be retried")
