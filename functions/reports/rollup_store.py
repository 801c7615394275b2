"""Data access for the rollups: a member's rollup state (one Query and one GetItem) and
the one transaction that stores a change of it with the counters it moves.

Guarantees:

* **All or nothing.** A change of a member's state (its order days, an order, its
  registration, a survey answer) and every counter it moves commit in one
  TransactWriteItems, conditioned on the member's ``#HEAD`` version as read, so two
  writers of one member never both apply a change computed from the same state
  (:class:`LostRace`: read again and recompute).
* **Once.** A survey answer is counted under a marker conditioned on its absence
  (:class:`AlreadyCounted`); order and registration changes are idempotent by state.
* Counters are added (``ADD``), never set, so writers of other members meeting on one
  counter item never overwrite each other; a member's share always lands in the same
  shard."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from loyalty import aws
from loyalty.commit import LostRace
from loyalty.dynamo import cancellation_codes, query_all, transact_write
from reports import layout
from reports.orders import Amounts, Change, MemberState, OrderState, Placed, Refund

MAX_ITEMS = 100  # TransactWriteItems' limit


class AlreadyCounted(Exception):
    """The survey answer was counted before."""


class TooLarge(RuntimeError):
    """A change would move more items than one transaction holds."""


def _month(day: date) -> str:
    return day.isoformat()[:7]


def load_member(table_name: str, tenant: str, member: str) -> MemberState:
    """``#HEAD``, ``#REG`` and every ``D<month>`` item: one Query (sort keys below ``E``)."""
    items = query_all(
        aws.table(table_name),
        KeyConditionExpression="pk = :pk AND sk < :e",
        ExpressionAttributeValues={":pk": layout.member_pk(tenant, member), ":e": layout.SURVEY_PREFIX},
    )
    version, registration, days = 0, None, {}
    for item in items:
        sk = str(item["sk"])
        if sk == layout.HEAD_SK:
            version = int(item["version"])
        elif sk == layout.REGISTRATION_SK:
            registration = (str(item["key"]), date.fromisoformat(str(item["day"])))
        elif sk.startswith(layout.MONTH_PREFIX):
            month = sk.removeprefix(layout.MONTH_PREFIX)
            for dd, count in (item.get("days") or {}).items():
                if int(count):
                    days[date.fromisoformat(f"{month}-{dd}")] = int(count)
    return MemberState(version, registration, days)


def _amount(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def load_order(table_name: str, tenant: str, member: str, order_id: str) -> OrderState:
    item = (
        aws.table(table_name)
        .get_item(Key={"pk": layout.member_pk(tenant, member), "sk": layout.order_sk(order_id)})
        .get("Item")
    )
    if not item:
        return OrderState(order_id)
    placed = item.get("placed")
    return OrderState(
        order_id=order_id,
        placed=None
        if not placed
        else Placed(str(placed["key"]), date.fromisoformat(str(placed["day"])), _amount(placed.get("total"))),
        cancelled=bool(item.get("cancelled")),
        refunds={
            str(rid): Refund(str(r["key"]), date.fromisoformat(str(r["day"])), _amount(r.get("amount")))
            for rid, r in (item.get("refunds") or {}).items()
        },
    )


def order_item(pk: str, order: OrderState) -> dict[str, Any]:
    item: dict[str, Any] = {"pk": pk, "sk": layout.order_sk(order.order_id), "kind": "rollup_order"}
    if order.placed:
        item["placed"] = {
            "key": order.placed.key,
            "day": order.placed.day.isoformat(),
            **({} if order.placed.total is None else {"total": str(order.placed.total)}),
        }
    if order.cancelled:
        item["cancelled"] = True
    if order.refunds:
        item["refunds"] = {
            rid: {
                "key": r.key,
                "day": r.day.isoformat(),
                **({} if r.amount is None else {"amount": str(r.amount)}),
            }
            for rid, r in order.refunds.items()
        }
    return item


def _month_items(pk: str, before: dict[date, int], after: dict[date, int]) -> list[dict[str, Any]]:
    """A Put of each month whose counted days changed (a Delete when none are left)."""
    changed = {_month(d) for d in set(before) | set(after) if before.get(d) != after.get(d)}
    out: list[dict[str, Any]] = []
    for month in sorted(changed):
        days = {d.isoformat()[8:]: n for d, n in after.items() if _month(d) == month}
        key = {"pk": pk, "sk": layout.member_month_sk(month)}
        if days:
            out.append({"Put": {"Item": {**key, "kind": "rollup_days", "days": days}}})
        else:
            out.append({"Delete": {"Key": key}})
    return out


def counter_updates(
    table_name: str, tenant: str, member: str, counts: Amounts, source: str = layout.EVENTS_SOURCE
) -> list[dict[str, Any]]:
    by_bucket: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for (bucket, name), value in counts.items():
        by_bucket[bucket][name] = value
    out: list[dict[str, Any]] = []
    for bucket, values in sorted(by_bucket.items()):
        names = {f"#n{i}": name for i, name in enumerate(values)}
        adds = {f":v{i}": value for i, value in enumerate(values.values())}
        out.append(
            {
                "Update": {
                    "TableName": table_name,
                    "Key": layout.counter_key(tenant, bucket, member, source),
                    "UpdateExpression": "SET #kind = :kind ADD "
                    + ", ".join(f"#n{i} :v{i}" for i in range(len(values))),
                    "ExpressionAttributeNames": {"#kind": "kind", **names},
                    "ExpressionAttributeValues": {":kind": "rollup", **adds},
                }
            }
        )
    return out


def commit(table_name: str, tenant: str, member: str, before: MemberState, change: Change) -> None:
    """Store ``change`` over ``before``; :class:`LostRace` when the member changed since it
    was read, :class:`AlreadyCounted` for a survey answer counted before."""
    pk = layout.member_pk(tenant, member)
    ops: list[dict[str, Any]] = []
    if change.survey_event is not None:
        ops.append(
            {
                "Put": {
                    "Item": {"pk": pk, "sk": layout.survey_sk(change.survey_event), "kind": "rollup_survey"},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        )
    else:
        condition = "attribute_not_exists(pk)" if before.version == 0 else "version = :v"
        ops.append(
            {
                "Update": {
                    "Key": {"pk": pk, "sk": layout.HEAD_SK},
                    "UpdateExpression": "SET version = :n, kind = :k",
                    "ConditionExpression": condition,
                    "ExpressionAttributeValues": {":n": before.version + 1, ":k": "rollup_head"}
                    | ({} if before.version == 0 else {":v": before.version}),
                }
            }
        )
    if change.days is not None:
        ops += _month_items(pk, before.days, change.days)
    if change.order is not None:
        ops.append({"Put": {"Item": order_item(pk, change.order)}})
    if change.registration is not None:
        key, registered = change.registration
        item = {"pk": pk, "sk": layout.REGISTRATION_SK, "kind": "rollup_registration", "key": key}
        ops.append({"Put": {"Item": item | {"day": registered.isoformat()}}})
    ops += counter_updates(table_name, tenant, member, change.counts)
    for kind, day in change.late:
        late = {"pk": layout.late_pk(tenant), "sk": layout.late_sk(kind, day), "kind": "rollup_late"}
        ops.append({"Put": {"Item": late}})
    if len(ops) > MAX_ITEMS:
        raise TooLarge(f"a rollup change of {len(ops)} items")
    for op in ops:
        next(iter(op.values())).setdefault("TableName", table_name)
    try:
        transact_write(ops)
    except ClientError as err:
        codes = cancellation_codes(err)
        if codes and codes[0] == "ConditionalCheckFailed":
            if change.survey_event is not None:
                raise AlreadyCounted from err
            raise LostRace from err
        raise
