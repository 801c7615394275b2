"""DynamoDB helpers shared by the data-access modules."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from loyalty import aws, cursor
from loyalty.commit import optimistic

_SERIALIZER = TypeSerializer()


def _wire(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _SERIALIZER.serialize(v) for k, v in values.items() if v is not None}


def plain(value: Any, *, fractions_as_float: bool = False) -> Any:
    """A stored value with DynamoDB's Decimals turned back into plain numbers:
    integral ones become int; the others stay exact Decimals, or become floats
    where the value was a JSON number and goes back out as one."""
    if isinstance(value, dict):
        return {k: plain(v, fractions_as_float=fractions_as_float) for k, v in value.items()}
    if isinstance(value, list | set):
        return [plain(v, fractions_as_float=fractions_as_float) for v in value]
    if isinstance(value, Decimal):
        if value == value.to_integral_value():
            return int(value)
        return float(value) if fractions_as_float else value
    return value


def transact_write(items: list[dict[str, Any]]) -> None:
    """TransactWriteItems taking plain Python values, like the Table resource does.

    Each entry is ``{"Put" | "Update" | "Delete" | "ConditionCheck": {...}}`` with
    ``Item``/``Key``/``ExpressionAttributeValues`` as Python values."""
    wire = []
    for entry in items:
        ((op, body),) = entry.items()
        body = dict(body)
        for field in ("Item", "Key", "ExpressionAttributeValues"):
            if field in body:
                body[field] = _wire(body[field])
        wire.append({op: body})
    aws.client("dynamodb").transact_write_items(TransactItems=wire)


def is_condition_failure(err: ClientError) -> bool:
    return err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def cancellation_codes(err: ClientError) -> list[str | None]:
    """Per-item reason codes of a cancelled transaction (None where the item was fine)."""
    if err.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        raise err
    codes: list[str | None] = []
    for reason in err.response.get("CancellationReasons") or []:
        code = reason.get("Code")
        codes.append(None if code in (None, "None") else str(code))
    return codes


def query_all(table: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every item a Query matches, page by page; each page read is retried on
    throttling and timeouts (a scheduled run reading an index should not fail
    for one busy page)."""
    while True:
        page = optimistic(lambda: table.query(**kwargs), what="query")
        yield from page["Items"]
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def query_page(
    table: Any, page_keys: tuple[str, ...], bound: dict[str, str], start: str | None, **kwargs: Any
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of a Query and the opaque cursor for the next. ``start`` is a cursor
    from an earlier page, checked to belong to the same partition (``bound``: the
    partition key's name and value); ``page_keys`` are the key attributes it carries."""
    start_key = cursor.decode(start, page_keys, bound)
    if start_key is not None:
        kwargs["ExclusiveStartKey"] = start_key
    page = table.query(**kwargs)
    last = page.get("LastEvaluatedKey")
    return page["Items"], cursor.encode({k: last[k] for k in page_keys} if last else None)
