"""Data access for member profiles and stats in the loyalty table, and for the
member's derived state stored on the stats item with its due index."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from ingest import member_state, projection
from ingest.member_state import MemberState, Refresh
from ingest.member_view import stats_from_item
from ingest.projection import MemberStats
from loyalty import aws, keys
from loyalty.dynamo import cancellation_codes, is_condition_failure, transact_write
from loyalty.program import ProgramConfig
from loyalty.timeutil import iso, parse_rfc3339

MARKER_TTL = timedelta(days=7)  # longer than a stream record's 24 h retention
MAX_ATTEMPTS = 5
PROFILE_SK = "#PROFILE"
STATS_SK = "#STATS"
# The derived state on the stats item; gsi1pk/gsi1sk list it in the member due
# index while a change is due (sparse: absent when the state stays as it is).
STATE_FIELDS = (
    "lifecycle_stage",
    "rfm",
    "tags",
    "orders_last_30_days",
    "state_at",
    "due_at",
    "gsi1pk",
    "gsi1sk",
)


def state_fields(
    tenant: str, member: str, state: MemberState, at: datetime, due: datetime | None
) -> dict[str, Any]:
    """The derived state as stored: evaluated at ``at``, next changing at ``due``."""
    fields: dict[str, Any] = {
        "lifecycle_stage": state.lifecycle_stage,
        "tags": list(state.tags),
        "orders_last_30_days": state.orders_last_30_days,
        "state_at": iso(at),
    }
    if state.rfm is not None:
        fields["rfm"] = {
            "recency": state.rfm.recency,
            "frequency": state.rfm.frequency,
            "monetary": state.rfm.monetary,
            "segment": state.rfm.segment,
        }
    if due is not None:
        fields["due_at"] = iso(due)
        fields.update(keys.member_due_index(tenant, member, iso(due)))
    return fields


def _stats_item(
    tenant: str,
    member: str,
    stats: MemberStats,
    registered_at: str | None,
    previous: dict[str, Any] | None,
    now: datetime,
    config: ProgramConfig,
) -> dict[str, Any]:
    """The stats item with its derived state at ``now``, or at the instant the stored
    state was derived if that is later: a stored state never moves back in time."""
    if previous and previous.get("state_at"):
        now = max(now, parse_rfc3339(previous["state_at"]))
    item: dict[str, Any] = {
        "pk": keys.member_pk(tenant, member),
        "sk": STATS_SK,
        "kind": "stats",
        "tenant_id": tenant,
        "member_id": member,
        "orders_count": stats.orders_count,
        "total_spend": stats.total_spend,
        "first_order_at": stats.first_order_at,
        "last_order_at": stats.last_order_at,
        "recent_orders": list(stats.recent_orders),
        "registered_at": registered_at,
        "version": stats.version,
    }
    state = member_state.derive(stats, registered_at, now, config)
    due = member_state.next_change_at(stats, registered_at, now, config)
    item.update(state_fields(tenant, member, state, now, due))
    return {name: value for name, value in item.items() if value is not None}


class Contention(RuntimeError):
    """An item kept changing under an optimistic update; the caller retries later."""


def _version_condition(expected: int | None) -> dict[str, Any]:
    """Write only over the version that was read; None: only where no item exists yet."""
    if expected is None:
        return {"ConditionExpression": "attribute_not_exists(pk)"}
    return {"ConditionExpression": "version = :v", "ExpressionAttributeValues": {":v": expected}}


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
                expected = None if current is None else int(current.get("version", 0))
                self._table.put_item(Item=merged, **_version_condition(expected))
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
        self,
        tenant: str,
        member: str,
        event_id: str,
        occurred_at: str,
        total: Decimal,
        now: datetime,
        config: ProgramConfig,
    ) -> bool:
        """Add an order to the member's stats exactly once (marker + optimistic version),
        with the derived state at ``now`` and when it next changes."""
        pk = keys.member_pk(tenant, member)
        for _ in range(MAX_ATTEMPTS):
            item = self._table.get_item(Key={"pk": pk, "sk": STATS_SK}, ConsistentRead=True).get("Item")
            current = stats_from_item(item)
            updated = projection.apply_order(current, occurred_at, total, config.order_window_days)
            registered_at = item.get("registered_at") if item else None
            stats_item = _stats_item(tenant, member, updated, registered_at, item, now, config)
            put_stats = {
                "TableName": self._table_name,
                "Item": stats_item,
                **_version_condition(None if item is None else current.version),
            }
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

    def record_registration(
        self, tenant: str, member: str, registered_at: str, now: datetime, config: ProgramConfig
    ) -> bool:
        """Note the registration time on the stats item (the latest one, as on the
        profile) with the derived state at ``now``; False when it was noted already."""
        pk = keys.member_pk(tenant, member)
        for _ in range(MAX_ATTEMPTS):
            item = self._table.get_item(Key={"pk": pk, "sk": STATS_SK}, ConsistentRead=True).get("Item")
            known = item.get("registered_at") if item else None
            if item and known and known >= registered_at and "lifecycle_stage" in item:
                return False
            stats = stats_from_item(item)
            stats_item = _stats_item(
                tenant,
                member,
                replace(stats, version=stats.version + 1),
                max(filter(None, [known, registered_at])),
                item,
                now,
                config,
            )
            try:
                self._table.put_item(
                    Item=stats_item, **_version_condition(None if item is None else stats.version)
                )
                return True
            except ClientError as err:
                if not is_condition_failure(err):
                    raise
        raise Contention("stats kept changing; retry")

    def due_members(self, tenant: str, until: datetime) -> Iterator[dict[str, Any]]:
        """Stats items whose derived state is due to change at or before ``until``:
        a Query of each member due index partition (cost grows with the due members only)."""
        for partition in keys.member_due_pks(tenant):
            kwargs: dict[str, Any] = {
                "IndexName": "gsi1",
                "KeyConditionExpression": "gsi1pk = :pk AND gsi1sk <= :until",
                "ExpressionAttributeValues": {":pk": partition, ":until": f"{iso(until)}#~"},
            }
            while True:
                page = self._table.query(**kwargs)
                yield from page["Items"]
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def save_refresh(
        self,
        item: dict[str, Any],
        refreshed: Refresh,
        at: datetime,
        events_table: str,
        events: list[dict[str, Any]],
    ) -> int | None:
        """Store a refreshed state and its stage-change events in one transaction,
        conditioned on the stats version read. Returns how many events were new (an
        event already stored by a repeated run is left as it is), or None when a
        concurrent update won: it stored a state and due time of its own."""
        tenant, member = str(item["tenant_id"]), str(item["member_id"])
        version = int(item["version"])
        fields = state_fields(tenant, member, refreshed.state, at, refreshed.next_change_at)
        fields["version"] = version + 1
        names = {f"#{name}": name for name in (*fields, *STATE_FIELDS)}
        expression = "SET " + ", ".join(f"#{name} = :{name}" for name in fields)
        removed = [name for name in STATE_FIELDS if name not in fields]
        if removed:
            expression += " REMOVE " + ", ".join(f"#{name}" for name in removed)
        operations: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self._table_name,
                    "Key": {"pk": item["pk"], "sk": STATS_SK},
                    "UpdateExpression": expression,
                    "ConditionExpression": "#version = :expected",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": {
                        **{f":{name}": value for name, value in fields.items()},
                        ":expected": version,
                    },
                }
            },
            *(
                {
                    "Put": {
                        "TableName": events_table,
                        "Item": event,
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
                for event in events
            ),
        ]
        while True:
            try:
                transact_write(operations)
                return len(operations) - 1
            except ClientError as err:
                codes = cancellation_codes(err) + [None] * len(operations)
                if codes[0] == "ConditionalCheckFailed":
                    return None
                stored = {i for i in range(1, len(operations)) if codes[i] == "ConditionalCheckFailed"}
                if not stored:
                    raise
                operations = [op for i, op in enumerate(operations) if i not in stored]

    def member_items(self, tenant: str, member: str) -> dict[str, dict[str, Any]]:
        """Profile, stats, balance and open-ticket markers in one Query (the member's '#' items)."""
        page = self._table.query(
            KeyConditionExpression="pk = :pk AND sk BETWEEN :lo AND :hi",
            ExpressionAttributeValues={":pk": keys.member_pk(tenant, member), ":lo": "#", ":hi": "#~"},
        )
        return {item["sk"]: item for item in page["Items"]}
