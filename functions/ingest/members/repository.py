"""Data access for member profiles and stats in the loyalty table, and for the
member's derived state stored on the stats item with its due index."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from ingest.members import projection, state
from ingest.members.projection import MemberStats, OrderFacts, stats_from_item
from ingest.members.state import STATE_FIELDS, Refresh, state_fields
from loyalty import aws, keys
from loyalty.commit import LostRace, optimistic
from loyalty.dynamo import cancellation_codes, is_condition_failure, query_all, transact_write
from loyalty.program import ProgramConfig
from loyalty.settings import get_settings
from loyalty.timeutil import iso, local_day, parse_rfc3339


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
        "sk": keys.STATS_SK,
        "kind": "stats",
        "tenant_id": tenant,
        "member_id": member,
        "orders_count": stats.orders_count,
        "total_spend": stats.total_spend,
        "first_order_at": stats.first_order_at,
        "last_order_at": stats.last_order_at,
        "order_days": [{"first": d.first, "last": d.last, "n": d.count} for d in stats.recent_orders],
        "registered_at": registered_at,
        "version": stats.version,
    }
    derived = state.derive(stats, registered_at, now, config)
    due = state.next_change_at(stats, registered_at, now, config)
    item.update(state_fields(tenant, member, derived, now, due))
    if registered_at:  # the registration anniversary index (care rules' date triggers)
        day = local_day(parse_rfc3339(registered_at), get_settings().tz)
        item["gsi2pk"] = keys.registration_pk(tenant, f"{day.month:02d}-{day.day:02d}")
        item["gsi2sk"] = member
    return {name: value for name, value in item.items() if value is not None}


def order_facts_item(pk: str, sk: str, facts: OrderFacts) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": pk,
        "sk": sk,
        "kind": "order_stats",
        "order_id": facts.order_id,
        "known": facts.known,
        "occurred_at": facts.occurred_at,
        "currency": facts.currency,
        "total": str(facts.total),
        "refunds": {currency: str(amount) for currency, amount in facts.refunds},
        "cancelled": facts.cancelled,
        "version": facts.version,
    }
    return {name: value for name, value in item.items() if value is not None}


def order_facts_from_item(order_id: str, item: dict[str, Any] | None) -> OrderFacts:
    if not item:
        return OrderFacts(order_id=order_id)
    return OrderFacts(
        order_id=order_id,
        known=bool(item.get("known")),
        occurred_at=item.get("occurred_at"),
        currency=item.get("currency"),
        total=Decimal(str(item.get("total", "0"))),
        refunds=tuple(sorted((str(c), Decimal(str(a))) for c, a in (item.get("refunds") or {}).items())),
        cancelled=bool(item.get("cancelled")),
        version=int(item.get("version", 0)),
    )


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

        def attempt() -> dict[str, Any] | None:
            current = self._table.get_item(Key={"pk": pk, "sk": keys.PROFILE_SK}, ConsistentRead=True).get(
                "Item"
            )
            base = current or {
                "pk": pk,
                "sk": keys.PROFILE_SK,
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
            expected = None if current is None else int(current.get("version", 0))
            self._put(merged, expected)
            return merged

        return optimistic(attempt, what="profile")

    def _put(self, item: dict[str, Any], expected: int | None) -> None:
        """Put over the version read; LostRace when another write came first."""
        try:
            self._table.put_item(Item=item, **_version_condition(expected))
        except ClientError as err:
            if is_condition_failure(err):
                raise LostRace() from err
            raise

    def erase(self, tenant: str, member: str, at: str) -> None:
        """Remove personal data from the profile and stamp the erasure; the stamp
        (written even before any profile exists) keeps later events from
        bringing personal data back. The version moves on too, so a profile
        update that read the item before the erasure fails its version check,
        re-reads, and finds the member erased."""
        pk = keys.member_pk(tenant, member)
        removed = ", ".join(f"#f{i}" for i in range(len(projection.PERSONAL_FIELDS)))
        self._table.update_item(
            Key={"pk": pk, "sk": keys.PROFILE_SK},
            UpdateExpression=(
                "SET erased_at = :at, field_at = :empty, kind = :kind, tenant_id = :t, member_id = :m, "
                "version = if_not_exists(version, :zero) + :one "
                f"REMOVE {removed}, gsi1pk, gsi1sk"
            ),
            ExpressionAttributeNames={f"#f{i}": name for i, name in enumerate(projection.PERSONAL_FIELDS)},
            ExpressionAttributeValues={
                ":at": at,
                ":empty": {},
                ":kind": "profile",
                ":t": tenant,
                ":m": member,
                ":zero": 0,
                ":one": 1,
            },
        )

    def record_order_event(
        self,
        tenant: str,
        member: str,
        kind: str,
        data: dict[str, Any],
        occurred_at: str,
        now: datetime,
        config: ProgramConfig,
    ) -> bool:
        """Apply an order, a refund or a cancellation to the member's figures, each
        order id counted once (its ``OS#`` record) and each refund once (a marker),
        with the derived state at ``now``. False when it changed nothing."""
        pk = keys.member_pk(tenant, member)
        order_sk = keys.order_stats_sk(str(data["order_id"]))
        marker_sk = (
            keys.refund_stats_sk(str(data["order_id"]), str(data["refund_id"]))
            if kind == "order.refunded"
            else None
        )

        def attempt() -> bool:
            wanted = [keys.STATS_SK, order_sk, *([marker_sk] if marker_sk else [])]
            found = self._get_many(pk, wanted)
            if marker_sk and marker_sk in found:
                return False  # this refund was applied
            facts = order_facts_from_item(str(data["order_id"]), found.get(order_sk))
            updated = projection.order_event(facts, kind, data, occurred_at, config.currency)
            if updated is None:
                return False  # the order was counted (or cancelled) before
            item = found.get(keys.STATS_SK)
            current = stats_from_item(item)
            before = projection.contribution(facts, config.currency, config.convert)
            after = projection.contribution(updated, config.currency, config.convert)
            operations: list[dict[str, Any]] = [
                {
                    "Put": {
                        "TableName": self._table_name,
                        "Item": order_facts_item(pk, order_sk, replace(updated, version=facts.version + 1)),
                        **_version_condition(None if order_sk not in found else facts.version),
                    }
                }
            ]
            if marker_sk:
                operations.append(
                    {
                        "Put": {
                            "TableName": self._table_name,
                            "Item": {"pk": pk, "sk": marker_sk, "kind": "marker", "at": occurred_at},
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    }
                )
            if before != after:
                at = updated.occurred_at or occurred_at
                stats = projection.apply_order_change(current, before, after, at, config.order_window_days)
                registered_at = item.get("registered_at") if item else None
                operations.append(
                    {
                        "Put": {
                            "TableName": self._table_name,
                            "Item": _stats_item(tenant, member, stats, registered_at, item, now, config),
                            **_version_condition(None if item is None else current.version),
                        }
                    }
                )
            self._transact(operations)
            return True

        return optimistic(attempt, what="member's figures")

    def _get_many(self, pk: str, sks: list[str]) -> dict[str, dict[str, Any]]:
        """One strongly consistent BatchGetItem for the member's items ``sks``."""
        request: dict[str, Any] = {
            self._table_name: {"Keys": [{"pk": pk, "sk": sk} for sk in sks], "ConsistentRead": True}
        }
        found: dict[str, dict[str, Any]] = {}
        while request:
            page = self._table.meta.client.batch_get_item(RequestItems=request)
            for got in page["Responses"].get(self._table_name, []):
                found[str(got["sk"])] = got
            request = page.get("UnprocessedKeys") or {}
        return found

    @staticmethod
    def _transact(operations: list[dict[str, Any]]) -> None:
        """One transaction; LostRace when any of its conditions failed."""
        try:
            transact_write(operations)
        except ClientError as err:
            if "ConditionalCheckFailed" in cancellation_codes(err):
                raise LostRace() from err
            raise

    def record_registration(
        self, tenant: str, member: str, registered_at: str, now: datetime, config: ProgramConfig
    ) -> bool:
        """Note the registration time on the stats item (the latest one, as on the
        profile) with the derived state at ``now``; False when it was noted already."""
        pk = keys.member_pk(tenant, member)

        def attempt() -> bool:
            item = self._table.get_item(Key={"pk": pk, "sk": keys.STATS_SK}, ConsistentRead=True).get("Item")
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
            self._put(stats_item, None if item is None else stats.version)
            return True

        return optimistic(attempt, what="member's figures")

    def due_members(self, tenant: str, until: datetime) -> Iterator[dict[str, Any]]:
        """Stats items whose derived state is due to change at or before ``until``:
        a Query of each member due index partition (cost grows with the due members only)."""
        for partition in keys.member_due_pks(tenant):
            yield from query_all(
                self._table,
                IndexName="gsi1",
                KeyConditionExpression="gsi1pk = :pk AND gsi1sk <= :until",
                ExpressionAttributeValues={":pk": partition, ":until": f"{iso(until)}#~"},
            )

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
                    "Key": {"pk": item["pk"], "sk": keys.STATS_SK},
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

        def attempt() -> int | None:
            nonlocal operations
            try:
                transact_write(operations)
                return len(operations) - 1
            except ClientError as err:
                codes = cancellation_codes(err) + [None] * len(operations)
                if codes[0] == "ConditionalCheckFailed":
                    return None
                stored = {i for i in range(1, len(operations)) if codes[i] == "ConditionalCheckFailed"}
                if not stored:
                    raise  # a transient fault is retried by optimistic()
                operations = [op for i, op in enumerate(operations) if i not in stored]
                raise LostRace() from err

        return optimistic(attempt, what="member's state")

    def member_items(self, tenant: str, member: str) -> dict[str, dict[str, Any]]:
        """Profile, stats, balance and open-ticket markers in one Query (the member's '#' items)."""
        page = self._table.query(
            KeyConditionExpression="pk = :pk AND sk BETWEEN :lo AND :hi",
            ExpressionAttributeValues={
                ":pk": keys.member_pk(tenant, member),
                ":lo": keys.MEMBER_ITEMS_FROM,
                ":hi": keys.MEMBER_ITEMS_TO,
            },
        )
        return {item["sk"]: item for item in page["Items"]}
