"""Data access for reports: Queries of the activity index (gsi2) of both tables, and the
stored report. It reads and writes records only; every figure is computed from what it
reads in ``reports.logic``."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from loyalty import aws, keys
from loyalty.dynamo import query_all

Activity = dict[tuple[str, str], list[dict[str, Any]]]  # (day, kind) -> items


def _activity(table_name: str, tenant: str, first: date, last: date) -> Activity:
    """Everything listed from ``first`` to ``last`` (same month): one Query per shard, each
    page read retried on throttling and timeouts."""
    table = aws.table(table_name)
    found: Activity = defaultdict(list)
    for pk in keys.month_pks(tenant, first.isoformat()[:7]):
        for item in query_all(
            table,
            IndexName="gsi2",
            KeyConditionExpression="gsi2pk = :pk AND gsi2sk BETWEEN :lo AND :hi",
            ExpressionAttributeValues={
                ":pk": pk,
                ":lo": f"{first.isoformat()}#",
                ":hi": f"{last.isoformat()}#~",
            },
        ):
            day, kind, _ = item["gsi2sk"].split("#", 2)
            found[(day, kind)].append(item)
    return found


@dataclass(frozen=True)
class MonthActivity:
    """A run of days' activity within one month, from both tables."""

    events: Activity
    records: Activity


def month_activity(
    events_table: str, loyalty_table: str, tenant: str, first: date, last: date
) -> MonthActivity:
    """The activity of ``first`` through ``last`` (same month), reading each index partition once."""
    return MonthActivity(
        events=_activity(events_table, tenant, first, last),
        records=_activity(loyalty_table, tenant, first, last),
    )


def store_report(bucket: str, key: str, html: str) -> None:
    aws.client("s3").put_object(Bucket=bucket, Key=key, Body=html.encode(), ContentType="text/html")
