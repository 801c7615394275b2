"""Data access for care rules: the birthday index."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from loyalty import aws, keys


def members_with_birthday(table_name: str, tenant: str, month_day: str) -> Iterator[dict[str, Any]]:
    """Query the birthday index (gsi1) for one month-day."""
    table = aws.table(table_name)
    kwargs: dict[str, Any] = {
        "IndexName": "gsi1",
        "KeyConditionExpression": "gsi1pk = :pk",
        "ExpressionAttributeValues": {":pk": keys.birthday_pk(tenant, month_day)},
    }
    while True:
        page = table.query(**kwargs)
        yield from page["Items"]
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
