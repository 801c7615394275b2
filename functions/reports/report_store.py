"""Data access for reports: the rollup partitions a report reads, the stored reports
(the document in the reports bucket, an index item per report in the loyalty table) and
the late-day markers.

Every read is a Query or GetItem of a known key (docs/data-model.md, "Reports"): one
Query per month of rollups, whatever the number of events; one Query per page of a
report list."""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from loyalty import aws
from loyalty.dynamo import plain, query_all, query_page
from reports import layout
from reports.figures import MONEY_COUNTERS, Buckets

NOT_COUNTERS = frozenset({"pk", "sk", "kind"})


def read_buckets(table_name: str, tenant: str, months: list[str]) -> Buckets:
    """The counters of every bucket of ``months`` summed over their shards, and the
    tenant totals: one Query per month, one for the totals."""
    table = aws.table(table_name)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    money: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for month in months:
        for item in query_all(
            table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": layout.rollup_pk(tenant, month)},
        ):
            bucket = layout.bucket_of_sk(str(item["sk"]))
            for name, value in item.items():
                if name in NOT_COUNTERS:
                    continue
                if name in MONEY_COUNTERS:
                    money[bucket][name] += Decimal(value)
                else:
                    counts[bucket][name] += int(value)
    totals: dict[str, int] = defaultdict(int)
    for item in query_all(
        table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": layout.total_pk(tenant)}
    ):
        for name, value in item.items():
            if name not in NOT_COUNTERS:
                totals[name] += int(value)
    return Buckets(counts=counts, money=money, totals=totals)


# -- stored reports --------------------------------------------------------------------------


def index_item(table_name: str, tenant: str, period: str, start: str) -> dict[str, Any] | None:
    item = (
        aws.table(table_name).get_item(Key={"pk": layout.reports_pk(tenant, period), "sk": start}).get("Item")
    )
    return plain(item, fractions_as_float=True) if item else None


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def store(table_name: str, bucket: str, tenant: str, doc: dict[str, Any], csv: bytes, html: str) -> None:
    """The report's document, CSV and HTML in the bucket, then its index item (with the
    figures, for restatements): a report listed is one whose document is stored."""
    s3 = aws.client("s3")
    period, start = str(doc["period"]), str(doc["start"])
    s3.put_object(
        Bucket=bucket,
        Key=layout.report_object_key(tenant, period, start),
        Body=_json(doc),
        ContentType="application/json",
    )
    s3.put_object(
        Bucket=bucket,
        Key=layout.report_object_key(tenant, period, start, "csv"),
        Body=csv,
        ContentType="text/csv; charset=utf-8",
    )
    s3.put_object(
        Bucket=bucket,
        Key=layout.report_object_key(tenant, period, start, "html"),
        Body=html.encode(),
        ContentType="text/html; charset=utf-8",
    )
    aws.table(table_name).put_item(
        Item={
            "pk": layout.reports_pk(tenant, period),
            "sk": start,
            "kind": "report",
            "report_id": doc["report_id"],
            "period": period,
            "start": start,
            "end": doc["end"],
            "generated_at": doc["generated_at"],
            "figures": json.loads(_json(doc["figures"]), parse_float=Decimal),
        }
    )


def document(bucket: str, tenant: str, period: str, start: str, suffix: str = "json") -> bytes | None:
    try:
        got = aws.client("s3").get_object(
            Bucket=bucket, Key=layout.report_object_key(tenant, period, start, suffix)
        )
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise
    return bytes(got["Body"].read())


def list_page(
    table_name: str, tenant: str, period: str, first: str, last: str, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Reports of ``period`` starting in [first, last], by start: one Query page and the
    opaque cursor of the next (checked to belong to the same list); ``ValueError`` for a
    cursor of another list."""
    pk = layout.reports_pk(tenant, period)
    items, next_cursor = query_page(
        aws.table(table_name),
        ("pk", "sk"),
        {"pk": pk},
        cursor,
        KeyConditionExpression="pk = :pk AND sk BETWEEN :lo AND :hi",
        ExpressionAttributeValues={":pk": pk, ":lo": first, ":hi": last},
        ProjectionExpression="pk, sk, report_id, #p, #s, #e",
        ExpressionAttributeNames={"#p": "period", "#s": "start", "#e": "end"},
        Limit=limit,
    )
    return [{k: str(i[k]) for k in ("report_id", "period", "start", "end")} for i in items], next_cursor


# -- late days --------------------------------------------------------------------------------


def late_days(table_name: str, tenant: str, kind: str) -> list[str]:
    items = query_all(
        aws.table(table_name),
        KeyConditionExpression="pk = :pk AND begins_with(sk, :k)",
        ExpressionAttributeValues={":pk": layout.late_pk(tenant), ":k": f"{kind}#"},
    )
    return [str(i["sk"]).split("#", 1)[1] for i in items]


def clear_late(table_name: str, tenant: str, kind: str, day: str) -> None:
    aws.table(table_name).delete_item(Key={"pk": layout.late_pk(tenant), "sk": layout.late_sk(kind, day)})
