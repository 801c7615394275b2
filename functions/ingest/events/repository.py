"""Data access for the event log (the only module here that touches DynamoDB)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ingest.events.logic import DAY_INDEXED_TYPES, StoredEvent
from loyalty import aws, keys
from loyalty.dynamo import is_condition_failure
from loyalty.timeutil import iso


def event_item(event: StoredEvent) -> dict[str, Any]:
    occurred = iso(event.occurred_at)
    item: dict[str, Any] = {
        "pk": keys.event_pk(event.tenant_id, event.event_id),
        "sk": "EVENT",
        "kind": "event",
        "tenant_id": event.tenant_id,
        "event_id": event.event_id,
        "type": event.type,
        "member_id": event.member_id,
        "channel": event.channel,
        "occurred_at": occurred,
        "received_at": iso(event.received_at),
        "payload_hash": event.payload_hash,
        "data": event.data,
        "gsi1pk": keys.member_pk(event.tenant_id, event.member_id),
        "gsi1sk": f"{occurred}#{event.event_id}",
    }
    if event.sender is not None:
        item["storefront_id"] = event.sender.storefront_id
        item["key_id"] = event.sender.key_id
        if event.sender.channel != event.channel:
            item["storefront_channel"] = event.sender.channel  # the event's own channel is kept
    if event.erased:
        item["erased"] = True
    if event.expires_at is not None:
        item["expires_at"] = int(event.expires_at.timestamp())
    if event.type in DAY_INDEXED_TYPES:
        item.update(
            keys.day_index(event.tenant_id, event.day, event.event_id, event.type, occurred, event.event_id)
        )
    return item


class DynamoEventStore:
    def __init__(self, table_name: str, loyalty_table: str | None = None) -> None:
        self._table_name = table_name
        self._loyalty_table = loyalty_table
        self._erased: dict[tuple[str, str], bool] = {}  # per request: a batch reads each member once

    def is_erased(self, tenant_id: str, member_id: str) -> bool:
        """GetItem of the member's profile, the erasure stamp only."""
        if self._loyalty_table is None:
            raise RuntimeError("checking an erasure needs the loyalty table")
        key = (tenant_id, member_id)
        if key not in self._erased:
            item = (
                aws.table(self._loyalty_table)
                .get_item(
                    Key={"pk": keys.member_pk(tenant_id, member_id), "sk": "#PROFILE"},
                    ProjectionExpression="erased_at",
                    ConsistentRead=True,
                )
                .get("Item")
            )
            self._erased[key] = bool((item or {}).get("erased_at"))
        return self._erased[key]

    def put_new(self, event: StoredEvent) -> str | None:
        table = aws.table(self._table_name)
        try:
            table.put_item(
                Item=event_item(event),
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as err:
            if not is_condition_failure(err):
                raise
            old = err.response.get("Item")
            if old and "payload_hash" in old:
                return str(old["payload_hash"]["S"])
            existing = table.get_item(
                Key={"pk": keys.event_pk(event.tenant_id, event.event_id), "sk": "EVENT"},
                ConsistentRead=True,
            )["Item"]
            return str(existing["payload_hash"])
        return None
