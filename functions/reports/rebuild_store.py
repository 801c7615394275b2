"""Data access of the rollup rebuild (``make rebuild-rollups``): the event log read day
by day through its activity index, and the recomputed rollups written over the stored.

Reads are Queries of the activity index (EventsTable gsi2), one day and one shard at a
time, so the rebuild pages through the log per day and never scans. The counters of
every month from ``first`` to a year after ``last`` are replaced by the fold's (items the
fold has no counter for are deleted), as are the tenant totals and the rollup state of
every member the events name; the counters kept from the loyalty table's stream (items
``<bucket>#R<shard>``) are left as they are. The result is exact when ``first`` is on or before the
tenant's first event; a later ``first`` leaves out what came before it. Run it while the
stream consumer is paused: a change it commits during the rebuild may be overwritten."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from loyalty import aws, keys
from loyalty.dynamo import query_all
from loyalty.events.stored import StoredEvent
from reports import changes, layout, rebuild
from reports.figures import months_between
from reports.rollup_store import order_item

CARRY_MONTHS = 13  # an order's member-level counters reach this far past its month


@dataclass
class RebuildResult:
    events: int = 0
    members: int = 0
    counters_written: int = 0
    counters_deleted: int = 0


def events_between(events_table: str, tenant: str, first: date, end: date) -> Iterator[StoredEvent]:
    """The events listed under the days [first, end), day by day, shard by shard."""
    table = aws.table(events_table)
    day = first
    while day < end:
        d = day.isoformat()
        for pk in keys.month_pks(tenant, d[:7]):
            for item in query_all(
                table,
                IndexName="gsi2",
                KeyConditionExpression="gsi2pk = :pk AND gsi2sk BETWEEN :lo AND :hi",
                ExpressionAttributeValues={":pk": pk, ":lo": f"{d}#", ":hi": f"{d}#~"},
            ):
                if item.get("type") in changes.ROLLUP_EVENTS:
                    yield StoredEvent.model_validate(item)
        day += timedelta(days=1)


def _write_counters(
    table_name: str, tenant: str, counters: dict[tuple[str, int], dict[str, Decimal]], months: list[str]
) -> tuple[int, int]:
    table = aws.table(table_name)
    wanted: dict[tuple[str, str], dict[str, Any]] = {}
    for (bucket, shard), values in counters.items():
        pk = (
            layout.total_pk(tenant)
            if bucket == layout.TOTAL_BUCKET
            else layout.rollup_pk(tenant, layout.month_of_bucket(bucket))
        )
        wanted[(pk, f"{bucket}#{shard}")] = {"pk": pk, "sk": f"{bucket}#{shard}", "kind": "rollup", **values}
    deleted = 0
    with table.batch_writer() as batch:
        for pk in [layout.rollup_pk(tenant, m) for m in months] + [layout.total_pk(tenant)]:
            for item in query_all(
                table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": pk},
                ProjectionExpression="pk, sk",
            ):
                if layout.from_events(str(item["sk"])) and (str(item["pk"]), str(item["sk"])) not in wanted:
                    batch.delete_item(Key={"pk": item["pk"], "sk": item["sk"]})
                    deleted += 1
        for item in wanted.values():
            batch.put_item(Item=item)
    return len(wanted), deleted


def _write_member(table_name: str, tenant: str, member_id: str, member: rebuild.MemberFold) -> None:
    table = aws.table(table_name)
    pk = layout.member_pk(tenant, member_id)
    days = member.days()
    months: dict[str, dict[str, int]] = {}
    for day, count in days.items():
        months.setdefault(day.isoformat()[:7], {})[day.isoformat()[8:]] = count
    stored = query_all(
        table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :d)",
        ExpressionAttributeValues={":pk": pk, ":d": layout.MONTH_PREFIX},
        ProjectionExpression="pk, sk",
    )
    with table.batch_writer() as batch:
        for item in stored:
            if str(item["sk"]).removeprefix(layout.MONTH_PREFIX) not in months:
                batch.delete_item(Key={"pk": pk, "sk": item["sk"]})
        for month, month_days in months.items():
            batch.put_item(
                Item={
                    "pk": pk,
                    "sk": layout.member_month_sk(month),
                    "kind": "rollup_days",
                    "days": month_days,
                }
            )
        for order in member.orders.values():
            batch.put_item(Item=order_item(pk, order))
        for event_id in member.surveys:
            batch.put_item(Item={"pk": pk, "sk": layout.survey_sk(event_id), "kind": "rollup_survey"})
        if member.registration is not None:
            key, day = member.registration
            batch.put_item(
                Item={
                    "pk": pk,
                    "sk": layout.REGISTRATION_SK,
                    "kind": "rollup_registration",
                    "key": key,
                    "day": day.isoformat(),
                }
            )
    # The version moves, so a change computed from the state before the rebuild retries.
    table.update_item(
        Key={"pk": pk, "sk": layout.HEAD_SK},
        UpdateExpression="ADD version :one SET kind = :k",
        ExpressionAttributeValues={":one": 1, ":k": "rollup_head"},
    )


def rebuild_rollups(
    ctx: changes.Context, events_table: str, tenant: str, first: date, last: date
) -> RebuildResult:
    """Recompute the tenant's rollups from the events of the days ``first`` .. ``last``."""
    events = list(events_between(events_table, tenant, first, last + timedelta(days=1)))
    folded = rebuild.fold(ctx, events)
    months = months_between(first, last + timedelta(days=31 * CARRY_MONTHS))
    written, deleted = _write_counters(ctx.table, tenant, folded.counters(ctx.active_days), months)
    for member_id, member in folded.members.items():
        _write_member(ctx.table, tenant, member_id, member)
    return RebuildResult(len(events), len(folded.members), written, deleted)
