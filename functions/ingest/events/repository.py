"""Data access for the event log (the only module here that touches DynamoDB):
a storefront event is stored once per event id, by a conditional PutItem of
its item (``loyalty.events.stored.event_item``); a repeat finds the stored
payload hash, which decides duplicate or conflict."""

from __future__ import annotations

from botocore.exceptions import ClientError

from loyalty import aws, keys
from loyalty.dynamo import is_condition_failure
from loyalty.events.stored import StoredEvent, event_item, event_key


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
                    Key={"pk": keys.member_pk(tenant_id, member_id), "sk": keys.PROFILE_SK},
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
            existing = table.get_item(Key=event_key(event.tenant_id, event.event_id), ConsistentRead=True)[
                "Item"
            ]
            return str(existing["payload_hash"])
        return None
