"""Data access for reports: Queries of the daily activity index (gsi2)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

from loyalty import aws, keys
from reports.logic import DayFigures, sum_by_currency


def _day_items(table_name: str, tenant: str, day: date) -> dict[str, list[dict[str, Any]]]:
    """Everything listed for the day, grouped by kind: one Query per shard."""
    table = aws.table(table_name)
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for pk in keys.day_pks(tenant, day.isoformat()):
        kwargs: dict[str, Any] = {
            "IndexName": "gsi2",
            "KeyConditionExpression": "gsi2pk = :pk",
            "ExpressionAttributeValues": {":pk": pk},
        }
        while True:
            page = table.query(**kwargs)
            for item in page["Items"]:
                by_kind[item["gsi2sk"].split("#", 1)[0]].append(item)
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return by_kind


def day_figures(events_table: str, loyalty_table: str, tenant: str, day: date) -> DayFigures:
    events = _day_items(events_table, tenant, day)
    records = _day_items(loyalty_table, tenant, day)
    orders, refunds = events["order.placed"], events["order.refunded"]
    return DayFigures(
        day=day,
        orders=len(orders),
        revenue=sum_by_currency([(o["data"]["currency"], Decimal(o["data"]["total"])) for o in orders]),
        refunds=len(refunds),
        # A refund without a currency is reported under XXX, ISO 4217's "no currency" code.
        refunded=sum_by_currency([(r["data"].get("currency", "XXX"), Decimal(r["data"]["amount"])) for r in refunds]),
        new_members=len(events["member.registered"]),
        points_issued=sum(int(e["points"]) for e in records["points.earned"]),
        tickets_opened=len(records["ticket.opened"]),
        tickets_escalated=len(records["ticket.escalated"]),
    )


def store_report(bucket: str, key: str, html: str) -> None:
    aws.client("s3").put_object(Bucket=bucket, Key=key, Body=html.encode(), ContentType="text/html")
