"""Counts the DynamoDB requests each Lambda function makes and prices them in
capacity units, from the real requests and the real item sizes.

moto does not compute consumed capacity (it answers a constant), so the meter
applies DynamoDB's published sizing rules to what was actually sent and read:

- item size: attribute names plus values (strings by UTF-8 length, numbers at
  about one byte per two significant digits plus one, 1 byte for booleans and
  nulls, 3 bytes plus 1 per element of overhead for lists and maps);
- reads: 4 KB units, half a unit when eventually consistent, a Query summed
  over the items it returned, a BatchGetItem rounded per item, transactional
  reads twice;
- writes: 1 KB units of the larger of the item before and after, transactional
  writes (condition checks included) twice; each global secondary index the
  item enters, changes in or leaves costs its own write (projection ALL: the
  item plus 100 bytes), a move of the index key a delete as well.

Simplified, and said so in docs/performance.md: a refused conditional write is
priced like a successful one; failed transactions are not priced separately.

The meter reads items before and after each write through its own client,
outside the count. Calls are attributed to the function whose handler is
running (infra.local.runtime.current_function); calls outside handlers (the
local stream pump, the benchmark's own set-up) are not counted."""

from __future__ import annotations

import base64
import json
import math
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from threading import Lock
from typing import Any

from botocore.client import BaseClient

from infra.local.runtime import current_function

Item = dict[str, Any]
_suspended: ContextVar[bool] = ContextVar("meter_suspended", default=False)


def _value_size(value: dict[str, Any]) -> int:
    (kind, content), *_ = value.items()
    if kind == "S":
        return len(content.encode())
    if kind == "N":
        digits = Decimal(content).normalize().as_tuple().digits
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(base64.b64decode(content))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in content)
    if kind == "NS":
        return sum(_value_size({"N": n}) for n in content)
    if kind == "BS":
        return sum(len(base64.b64decode(b)) for b in content)
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in content)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + _value_size(v) for k, v in content.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: Item | None) -> int:
    """DynamoDB's size of an item in its wire (typed) form."""
    if not item:
        return 0
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / 4096))
    return float(units) if consistent else units / 2


def write_units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


@dataclass
class Usage:
    """What one function consumed over a window."""

    calls: Counter[str] = field(default_factory=Counter)
    read_units: float = 0.0
    write_units: float = 0.0
    index_write_units: float = 0.0
    items_read: int = 0
    bytes_read: int = 0
    items_written: int = 0

    def add(self, other: Usage) -> None:
        self.calls.update(other.calls)
        self.read_units += other.read_units
        self.write_units += other.write_units
        self.index_write_units += other.index_write_units
        self.items_read += other.items_read
        self.bytes_read += other.bytes_read
        self.items_written += other.items_written

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": sum(self.calls.values()),
            "calls": dict(sorted(self.calls.items())),
            "read_units": self.read_units,
            "write_units": self.write_units,
            "index_write_units": self.index_write_units,
            "items_read": self.items_read,
            "bytes_read": self.bytes_read,
            "items_written": self.items_written,
        }


@dataclass(frozen=True)
class TableShape:
    keys: tuple[str, ...]
    indexes: tuple[tuple[tuple[str, ...], str], ...]  # (key attributes, projection type)


class Meter:
    def __init__(self, session: Any) -> None:
        self._session = session
        self._lock = Lock()
        self._usage: dict[str, Usage] = {}
        self._original: Any = None

    # -- installing -------------------------------------------------------------------
    def install(self) -> None:
        meter = self
        original = BaseClient._make_request
        self._original = original

        def _make_request(client: Any, operation_model: Any, request_dict: Any, request_context: Any) -> Any:
            function = current_function.get()
            if function is None or _suspended.get() or client.meta.service_model.service_name != "dynamodb":
                return original(client, operation_model, request_dict, request_context)
            request = json.loads(request_dict["body"] or b"{}")
            before = meter._before(operation_model.name, request)
            http, parsed = original(client, operation_model, request_dict, request_context)
            response = json.loads(http.content or b"{}") if http.status_code == 200 else {}
            meter._record(function, operation_model.name, request, response, before)
            return http, parsed

        BaseClient._make_request = _make_request  # type: ignore[method-assign]

    def uninstall(self) -> None:
        if self._original is not None:
            BaseClient._make_request = self._original  # type: ignore[method-assign]

    # -- windows --------------------------------------------------------------------------
    @contextmanager
    def window(self) -> Iterator[dict[str, Usage]]:
        """Usage per function of what ran inside the block."""
        with self._lock:
            self._usage = {}
        result: dict[str, Usage] = {}
        yield result
        with self._lock:
            result.update(self._usage)
            self._usage = {}

    # -- table facts (outside the count) -----------------------------------------------
    @cache  # noqa: B019 - one meter per benchmark run
    def _client(self) -> Any:
        return self._session.client("dynamodb")

    @cache  # noqa: B019 - table shapes do not change during a run
    def _shape(self, table: str) -> TableShape:
        token = _suspended.set(True)
        try:
            described = self._client().describe_table(TableName=table)["Table"]
        finally:
            _suspended.reset(token)
        indexes = tuple(
            (
                tuple(k["AttributeName"] for k in index["KeySchema"]),
                index["Projection"]["ProjectionType"],
            )
            for index in described.get("GlobalSecondaryIndexes", [])
        )
        return TableShape(tuple(k["AttributeName"] for k in described["KeySchema"]), indexes)

    def _stored(self, table: str, key: Item) -> Item | None:
        token = _suspended.set(True)
        try:
            raw = self._client()._make_api_call(
                "GetItem", {"TableName": table, "Key": key, "ConsistentRead": True}
            )
        finally:
            _suspended.reset(token)
        item: Item | None = raw.get("Item")
        return _typed(item) if item is not None else None

    # -- pricing --------------------------------------------------------------------------
    def _writes(self, operation: str, request: dict[str, Any]) -> list[tuple[str, Item, bool]]:
        """(table, key, transactional) of each item the request writes."""

        def key_of(table: str, item: Item) -> Item:
            return {name: item[name] for name in self._shape(table).keys}

        if operation == "PutItem":
            return [(request["TableName"], key_of(request["TableName"], request["Item"]), False)]
        if operation in ("UpdateItem", "DeleteItem"):
            return [(request["TableName"], request["Key"], False)]
        if operation == "BatchWriteItem":
            writes = []
            for table, requests in request["RequestItems"].items():
                for entry in requests:
                    if "PutRequest" in entry:
                        writes.append((table, key_of(table, entry["PutRequest"]["Item"]), False))
                    else:
                        writes.append((table, entry["DeleteRequest"]["Key"], False))
            return writes
        if operation == "TransactWriteItems":
            writes = []
            for entry in request["TransactItems"]:
                (kind, body), *_ = entry.items()
                key = key_of(body["TableName"], body["Item"]) if kind == "Put" else body["Key"]
                writes.append((body["TableName"], key, True))
            return writes
        return []

    def _before(self, operation: str, request: dict[str, Any]) -> list[tuple[str, Item, bool, Item | None]]:
        writes = self._writes(operation, request)
        return [(table, key, tx, self._stored(table, key)) for table, key, tx in writes]

    def _record(
        self,
        function: str,
        operation: str,
        request: dict[str, Any],
        response: dict[str, Any],
        before: list[tuple[str, Item, bool, Item | None]],
    ) -> None:
        usage = Usage()
        usage.calls[operation] += 1
        consistent = bool(request.get("ConsistentRead"))
        if operation == "GetItem":
            size = item_size(response.get("Item"))
            usage.read_units += read_units(size, consistent)
            usage.items_read += 1 if response.get("Item") else 0
            usage.bytes_read += size
        elif operation == "BatchGetItem":
            for table, wanted in request["RequestItems"].items():
                found = response.get("Responses", {}).get(table, [])
                sizes = [item_size(item) for item in found]
                misses = len(wanted["Keys"]) - len(found)
                strong = bool(wanted.get("ConsistentRead"))
                usage.read_units += sum(read_units(s, strong) for s in sizes) + misses * read_units(0, strong)
                usage.items_read += len(found)
                usage.bytes_read += sum(sizes)
        elif operation in ("Query", "Scan"):
            sizes = [item_size(item) for item in response.get("Items", [])]
            usage.read_units += read_units(sum(sizes), consistent)
            usage.items_read += len(sizes)
            usage.bytes_read += sum(sizes)
        elif operation == "TransactGetItems":
            for got in response.get("Responses", []):
                size = item_size(got.get("Item"))
                usage.read_units += 2 * read_units(size, True)
                usage.items_read += 1 if got.get("Item") else 0
                usage.bytes_read += size
        for table, key, transactional, old in before:
            new = self._stored(table, key)
            factor = 2 if transactional else 1
            usage.write_units += factor * write_units(max(item_size(old), item_size(new)))
            usage.index_write_units += self._index_units(table, old, new)
            usage.items_written += 1
        with self._lock:
            self._usage.setdefault(function, Usage()).add(usage)

    def _index_units(self, table: str, old: Item | None, new: Item | None) -> float:
        units = 0.0
        shape = self._shape(table)
        for keys, projection in shape.indexes:
            old_in = old is not None and all(k in old for k in keys)
            new_in = new is not None and all(k in new for k in keys)
            if new_in and old != new:
                assert new is not None
                projected = new if projection == "ALL" else {k: new[k] for k in (*shape.keys, *keys)}
                units += write_units(item_size(projected) + 100)
            if old_in and (not new_in or any(old.get(k) != (new or {}).get(k) for k in keys)):  # type: ignore[union-attr]
                units += 1  # the old index entry is deleted
        return units


def _typed(item: Item) -> Item:
    """A low-level client answer back to wire form (bytes to base64)."""
    return json.loads(json.dumps(item, default=_wire))


def _wire(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, set):
        return sorted(value)
    raise TypeError(type(value))
