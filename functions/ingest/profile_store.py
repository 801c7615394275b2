"""Data access for member profiles and stats in the loyalty table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from ingest import projection
from ingest.member_view import stats_from_item
from loyalty import aws, keys
from loyalty.dynamo import cancellation_codes, is_condition_failure, transact_write

MARKER_TTL = timedelta(days=7)  # longer than a stream record's 24 h retention
MAX_ATTEMPTS = 5
PROFILE_SK = "#PROFILE"
STATS_SK = "#STATS"


class Contention(RuntimeError):
    """An item kept changing under an optimistic update; the caller retries later."""


class ProfileStore:
    def __init__(self, table_name: str) -> None:
        self._table_name = table_name
        self._table = aws.table(table_name)

    def apply_profile(
        self, tenant: str, member: str, changes: dict[str, Any], at: str
    ) -> dict[str, Any] | None:
        """Merge profile changes field by field in event-time order (optimistic
        version check). Returns the stored profile, or None for an erased member."""
        pk = keys.member_pk(tenant, member)
        for _ in range(MAX_ATTEMPTS):
            current = self._table.get_item(Key={"pk": pk, "sk": PROFILE_SK}, ConsistentRead=True).get("Item")
            base = current or {
                "pk": pk,
                "sk": PROFILE_SK,
                "kind": "profile",
                "tenant_id": tenant,
                "member_id": member,
            }
            if base.get("erased_at"):
                return None
            merged = projection.merge_profile(base, changes, at)
            if merged is None:
                return dict(base) if current else None
            merged["version"] = int(base.get("version", 0)) + 1
            merged.pop("gsi1pk", None)
            merged.pop("gsi1sk", None)
            if merged.get("birthday"):  # the birthday index (sparse)
                merged["gsi1pk"] = keys.birthday_pk(tenant, projection.birthday_month_day(merged["birthday"]))
                merged["gsi1sk"] = member
            try:
                if current is None:
                    self._table.put_item(Item=merged, ConditionExpression="attribute_not_exists(pk)")
                else:
                    self._table.put_item(
                        Item=merged,
                        ConditionExpression="version = :v",
                        ExpressionAttributeValues={":v": int(current.get("version", 0))},
                    )
                return merged
            except ClientError as err:
                if not is_condition_failure(err):
                    raise
        raise Contention("profile kept changing; retry")

    def erase(self, tenant: str, member: str, at: str) -> None:
        """Remove personal data from the profile and stamp the erasure; the stamp
        (written even before any profile exists) keeps later events from
        bringing personal data back."""
        pk = keys.member_pk(tenant, member)
        removed = ", ".join(f"#f{i}" for i in range(len(projection.PERSONAL_FIELDS)))
        self._table.update_item(
            Key={"pk": pk, "sk": PROFILE_SK},
            UpdateExpression=(
                "SET erased_at = :at, field_at = :empty, kind = :kind, tenant_id = :t, member_id = :m "
                f"REMOVE {removed}, gsi1pk, gsi1sk"
            ),
            ExpressionAttributeNames={f"#f{i}": name for i, name in enumerate(projection.PERSONAL_FIELDS)},
            ExpressionAttributeValues={
                ":at": at,
                ":empty": {},
                ":kind": "profile",
                ":t": tenant,
                ":m": member,
            },
        )

    def record_order(
        self, tenant: str, member: str, event_id: str, occurred_at: str, total: Decimal, window_days: int
    ) -> bool:
        """Add an order to the member's stats exactly once (marker + optimistic version)."""
        pk = keys.member_pk(tenant, member)
        for _ in range(MAX_ATTEMPTS):
            item = self._table.get_item(Key={"pk": pk, "sk": STATS_SK}, ConsistentRead=True).get("Item")
            current = stats_from_item(item)
            updated = projection.apply_order(current, occurred_at, total, window_days)
            stats_item = {
                "pk": pk,
                "sk": STATS_SK,
                "kind": "stats",
                "tenant_id": tenant,
                "member_id": member,
                "orders_count": updated.orders_count,
                "total_spend": updated.total_spend,
                "first_order_at": updated.first_order_at,
                "last_order_at": updated.last_order_at,
                "recent_orders": list(updated.recent_orders),
                "version": updated.version,
            }
            put_stats: dict[str, Any] = {
                "TableName": self._table_name,
                "Item": stats_item,
                "ConditionExpression": "attribute_not_exists(pk)" if item is None else "version = :v",
            }
            if item is not None:
                put_stats["ExpressionAttributeValues"] = {":v": current.version}
            marker = {
                "pk": pk,
                "sk": f"APPLIED#stats#{event_id}",
                "kind": "marker",
                "expires_at": int((datetime.now(UTC) + MARKER_TTL).timestamp()),
            }
            try:
                transact_write(
                    [
                        {
                            "Put": {
                                "TableName": self._table_name,
                                "Item": marker,
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
        raise Contention("stats kept changing; retry")

    def member_items(self, tenant: str, member: str) -> dict[str, dict[str, Any]]:
        """Profile, stats, balance and open-ticket markers in one Query (the member's '#' items)."""
        page = self._table.query(
            KeyConditionExpression="pk = :pk AND sk BETWEEN :lo AND :hi",
            ExpressionAttributeValues={":pk": keys.member_pk(tenant, member), ":lo": "#", ":hi": "#~"},
        )
        return {item["sk"]: item for item in page["Items"]}
