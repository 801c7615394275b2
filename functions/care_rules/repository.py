"""Data access for care rules: the birthday index."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from loyalty import aws, keys
from loyalty.dynamo import query_all


def members_with_birthday(table_name: str, tenant: str, month_day: str) -> Iterator[dict[str, Any]]:
    """Query the birthday index (gsi1) for one month-day; each page read is retried on
    throttling and timeouts."""
    return query_all(
        aws.table(table_name),
        IndexName="gsi1",
        KeyConditionExpression="gsi1pk = :pk",
        ExpressionAttributeValues={":pk": keys.birthday_pk(tenant, month_day)},
    )
