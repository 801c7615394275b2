"""Data access for the member timeline: Query of the events table's gsi1."""

from __future__ import annotations

from typing import Any

from ingest.events import privacy
from loyalty import aws, keys
from loyalty.dynamo import plain, query_page

TIMELINE_KEYS = ("gsi1pk", "gsi1sk", "pk", "sk")


def member_events(
    table_name: str, tenant: str, member: str, limit: int, start: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the member's events, newest first, and the cursor for the next.
    Numbers in the events' data come back as the JSON numbers they were sent as."""
    partition = keys.member_pk(tenant, member)
    found, next_cursor = query_page(
        aws.table(table_name),
        TIMELINE_KEYS,
        {"gsi1pk": partition},
        start,
        IndexName="gsi1",
        KeyConditionExpression="gsi1pk = :pk",
        ExpressionAttributeValues={":pk": partition},
        ScanIndexForward=False,
        Limit=limit,
    )
    items = [{**item, "data": plain(item.get("data") or {}, fractions_as_float=True)} for item in found]
    return items, next_cursor


def scrub_personal_data(table_name: str, tenant: str, member: str) -> int:
    """Erasure: remove the personal data and free text of the member's events
    (``privacy.PERSONAL_EVENT_DATA``: profile events whole, review and survey
    text, page titles, query strings of page URLs), page by page through the
    timeline index. Returns how many events the member has (0 means unknown).
    Orders keep their data: it holds no personal data and the ledger and reports
    account for it."""
    table = aws.table(table_name)
    count = 0
    start: str | None = None
    while True:
        items, start = member_events(table_name, tenant, member, 100, start)
        count += len(items)
        for item in items:
            if item["type"] not in privacy.PERSONAL_EVENT_DATA or item.get("erased"):
                continue
            scrubbed = privacy.redact(item["type"], item.get("data") or {})
            table.update_item(
                Key={"pk": item["pk"], "sk": item["sk"]},
                UpdateExpression="SET #d = :data, erased = :true",
                ExpressionAttributeNames={"#d": "data"},
                ExpressionAttributeValues={":data": scrubbed, ":true": True},
            )
        if start is None:
            return count
