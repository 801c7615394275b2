"""Data access for reports: Queries of the activity index (gsi2)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from loyalty import aws, keys
from loyalty.dynamo import query_all
from reports.logic import DayFigures, months, sum_by_currency

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


def figures_on(day: date, activity: MonthActivity) -> DayFigures:
    """One day's figures; raises on a malformed stored item, which fails that day alone."""
    return _figures(day, activity.events, activity.records)


def _figures(day: date, events: Activity, records: Activity) -> DayFigures:
    d = day.isoformat()
    orders, refunds = events[(d, "order.placed")], events[(d, "order.refunded")]
    return DayFigures(
        day=day,
        orders=len(orders),
        revenue=sum_by_currency([(o["data"]["currency"], Decimal(o["data"]["total"])) for o in orders]),
        refunds=len(refunds),
        # A refund without a currency is reported under XXX, ISO 4217's "no currency" code.
        refunded=sum_by_currency(
            [(r["data"].get("currency", "XXX"), Decimal(r["data"]["amount"])) for r in refunds]
        ),
        new_members=len(events[(d, "member.registered")]),
        points_issued=sum(int(e["points"]) for e in records[(d, "points.earned")]),
        tickets_opened=len(records[(d, "ticket.opened")]),
        tickets_escalated=len(records[(d, "ticket.escalated")]),
    )


def figures_for_days(
    events_table: str, loyalty_table: str, tenant: str, days: list[date]
) -> list[DayFigures]:
    """Figures for consecutive days, reading each month's index partitions once."""
    figures: list[DayFigures] = []
    for month_days in months(days):
        activity = month_activity(events_table, loyalty_table, tenant, month_days[0], month_days[-1])
        figures.extend(figures_on(day, activity) for day in month_days)
    return figures


def store_report(bucket: str, key: str, html: str) -> None:
    aws.client("s3").put_object(Bucket=bucket, Key=key, Body=html.encode(), ContentType="text/html")
