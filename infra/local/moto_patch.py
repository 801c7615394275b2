"""Faster TransactWriteItems and Query for moto, used by the local stack and the tests.

moto 5.2 deep-copies every table a transaction touches so it can roll back,
which makes each transaction cost time in proportion to the table's size
(measured: ~60 ms at 3,000 items, ~230 ms with a stream). DynamoDB semantics
allow a cheaper equivalent: a transaction may touch each item only once, so
every condition can be checked against the current items first, and only then
are the writes applied. Should a write still fail (an invalid update
expression), the touched items are restored from per-item snapshots.

Behaviour visible to clients is unchanged: same validation errors, same
TransactionCanceledException with per-item CancellationReasons.

Queries read one partition, as in DynamoDB: a table Query its own partition,
an index Query the items filed under its hash value in a per-table map kept
up to date on every put and update (moto itself looks at every item)."""

from __future__ import annotations

import copy
import threading
from collections import defaultdict
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table

_ORIGINAL = DynamoDBBackend.transact_write_items
_ORIGINAL_QUERY = Table.query
_ORIGINAL_INIT = Table.__init__
_ORIGINAL_PUT = Table.put_item
_ORIGINAL_UPDATE = DynamoDBBackend.update_item


def _key_of(backend: DynamoDBBackend, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    if op_type != "Put":
        return dict(op["Key"])
    table = backend.get_table(op["TableName"])
    attrs = op["Item"]
    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = attrs[table.range_key_attr]
    return key


Planned = tuple[str, dict[str, Any], dict[str, Any]]  # (operation type, operation, key)
Reason = tuple[Any, Any, Any]  # a CancellationReason: (code, message, old item)


def fast_transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    seen: set[tuple[str, str]] = set()
    plan: list[Planned] = []
    reasons: list[Reason] = []
    for item in transact_items:
        planned = _plan(self, item, seen)
        plan.append(planned)
        reasons.append(_check(self, planned))
    if any(code is not None for code, _, _ in reasons):
        raise TransactionCanceledException(reasons)

    snapshots = [
        (op["TableName"], key, copy.deepcopy(self.get_item(op["TableName"], key))) for _, op, key in plan
    ]
    try:
        for planned in plan:
            _write(self, planned)
    except Exception:
        for table_name, key, before in snapshots:
            if before is None:
                self.delete_item(table_name, key)
            else:
                self.put_item(table_name, before.to_json()["Attributes"])
        raise


def _plan(backend: DynamoDBBackend, item: dict[str, Any], seen: set[tuple[str, str]]) -> Planned:
    """One transaction item's operation and key, refused as DynamoDB refuses it:
    more than one operation, an unknown one, or an item touched twice."""
    if len(item) > 1:
        raise TransactWriteSingleOpException
    op_type, op = next(iter(item.items()))
    if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
        raise ValueError("Unsupported transaction operation")
    key = _key_of(backend, op_type, op)
    marker = (str(op["TableName"]), str(dict(sorted(key.items()))))
    if marker in seen:
        raise MultipleTransactionsException()
    seen.add(marker)
    return op_type, op, key


def _check(backend: DynamoDBBackend, planned: Planned) -> Reason:
    """The cancellation reason of one item against the current items: none, or
    its failed condition (with the old item when the request asks for it)."""
    _, op, key = planned
    current = backend.get_item(op["TableName"], key)
    condition = op.get("ConditionExpression")
    if condition is None:
        return None, None, None
    expr = get_filter_expression(
        condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
    )
    if expr.expr(current):
        return None, None, None
    old = None
    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
        old = current.to_json()["Attributes"]
    return "ConditionalCheckFailed", "The conditional request failed", old


def _write(backend: DynamoDBBackend, planned: Planned) -> None:
    """Apply one checked item (a ConditionCheck writes nothing)."""
    op_type, op, key = planned
    names = op.get("ExpressionAttributeNames") or {}
    values = op.get("ExpressionAttributeValues") or {}
    if op_type == "Put":
        backend.put_item(
            op["TableName"],
            op["Item"],
            expression_attribute_names=names,
            expression_attribute_values=values,
        )
    elif op_type == "Delete":
        backend.delete_item(
            op["TableName"], key, expression_attribute_names=names, expression_attribute_values=values
        )
    elif op_type == "Update":
        backend.update_item(
            op["TableName"],
            key,
            update_expression=op["UpdateExpression"],
            expression_attribute_names=names,
            expression_attribute_values=values,
        )


class _IndexMap:
    """Primary keys of a table's items filed by the value of each index's hash
    attribute. Entries are only ever added: an item that was deleted, or whose
    index value changed, is skipped or filtered out by moto's own key check."""

    def __init__(self, table: Table) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, dict[Any, set[tuple[Any, Any]]]] = {
            index.schema_key_attrs[0]: defaultdict(set) for index in table.all_indexes()
        }

    def add(self, item: Any) -> None:
        with self._lock:
            for attribute, buckets in self._buckets.items():
                value = item.attrs.get(attribute)
                if value is not None:
                    buckets[value].add((item.hash_key, item.range_key))

    def keys(self, attribute: str, value: Any) -> list[tuple[Any, Any]] | None:
        """None for an attribute not mapped (an index added after the table was created)."""
        with self._lock:
            buckets = self._buckets.get(attribute)
            return None if buckets is None else list(buckets.get(value, ()))


def _index_map(table: Any) -> _IndexMap | None:
    return getattr(table, "_loyalty_index_map", None)


def indexed_init(self: Table, *args: Any, **kwargs: Any) -> None:
    _ORIGINAL_INIT(self, *args, **kwargs)
    self._loyalty_index_map = _IndexMap(self)  # type: ignore[attr-defined]


def indexed_put_item(self: Table, *args: Any, **kwargs: Any) -> Any:
    item = _ORIGINAL_PUT(self, *args, **kwargs)
    index_map = _index_map(self)
    if index_map is not None:
        index_map.add(item)
    return item


def indexed_update_item(self: DynamoDBBackend, table_name: str, *args: Any, **kwargs: Any) -> Any:
    item = _ORIGINAL_UPDATE(self, table_name, *args, **kwargs)
    index_map = _index_map(self.get_table(table_name))
    if index_map is not None and item is not None:
        index_map.add(item)
    return item


def fast_query(
    self: Table,
    hash_key: Any,
    range_comparison: Any,
    range_objs: Any,
    limit: Any,
    exclusive_start_key: Any,
    scan_index_forward: Any,
    projection_expressions: Any,
    index_name: str | None = None,
    *args: Any,
    **kwargs: Any,
) -> Any:
    """moto's Query starts from every item of the table, sorted (O(n log n) per
    call, however small the partition). DynamoDB reads one partition; so does
    this: a key Query sees only its partition's items, an index Query the items
    filed under its hash value (moto still filters and sorts the matches)."""
    range_keyed = self.range_key_attr is not None

    def lookup(hash_value: Any, range_value: Any) -> Any:
        stored = self.items.get(hash_value)
        if stored is None or not range_keyed:
            return stored
        return stored.get(range_value)

    def candidates() -> list[Any]:
        if index_name is None and hash_key is not None and range_keyed:
            return list(self.items.get(hash_key, {}).values())
        index_map = _index_map(self)
        index = {i.name: i for i in self.all_indexes()}.get(index_name or "")
        if hash_key is not None and index_map is not None and index is not None:
            filed = index_map.keys(index.schema_key_attrs[0], hash_key)
            if filed is not None:
                return [item for item in (lookup(h, r) for h, r in filed) if item is not None]
        return [
            item for stored in self.items.values() for item in (stored.values() if range_keyed else [stored])
        ]

    return _ORIGINAL_QUERY(
        _PartitionView(self, candidates),  # type: ignore[arg-type]
        hash_key,
        range_comparison,
        range_objs,
        limit,
        exclusive_start_key,
        scan_index_forward,
        projection_expressions,
        index_name,
        *args,
        **kwargs,
    )


class _PartitionView:
    """The table as moto's query sees it, with ``all_items`` narrowed; every
    other attribute is the table's own (a per-call view: safe across threads)."""

    def __init__(self, table: Table, candidates: Any) -> None:
        object.__setattr__(self, "_table", table)
        object.__setattr__(self, "all_items", candidates)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)


def install() -> None:
    """Idempotent: replaces moto's implementations in this process."""
    DynamoDBBackend.transact_write_items = fast_transact_write_items  # type: ignore[method-assign]
    Table.query = fast_query  # type: ignore[method-assign]
    Table.__init__ = indexed_init  # type: ignore[method-assign]
    Table.put_item = indexed_put_item  # type: ignore[method-assign]
    DynamoDBBackend.update_item = indexed_update_item  # type: ignore[method-assign]


def uninstall() -> None:
    DynamoDBBackend.transact_write_items = _ORIGINAL  # type: ignore[method-assign]
    Table.query = _ORIGINAL_QUERY  # type: ignore[method-assign]
    Table.__init__ = _ORIGINAL_INIT  # type: ignore[method-assign]
    Table.put_item = _ORIGINAL_PUT  # type: ignore[method-assign]
    DynamoDBBackend.update_item = _ORIGINAL_UPDATE  # type: ignore[method-assign]
