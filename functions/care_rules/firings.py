"""Data access for the care engine's firings, once markers, frequency cap, send ledger
and activity counters (keys: ``care_rules.layout``; docs/data-model.md, patterns 27–31).

Every write that moves a firing on is conditioned on what was read, so two runs that
meet on one firing, or a run repeated after a timeout, never record it twice:

* a new event firing is a PutItem that requires the item not to exist (a redelivered
  event finds it and adds nothing);
* arming a re-armed firing (delay, inactivity) requires no firing or one armed by an
  older event (:func:`care_rules.triggers.anchor_key`), so events arriving out of order
  leave it armed by the newest; cancelling requires the firing to wait, armed before;
* :func:`record` moves a firing on in one transaction with its ledger entries and the
  day's counters, conditioned on the firing's ``step`` and ``instance``: of two runs one
  records, the other learns the firing moved on (False)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from care_rules import layout
from loyalty import aws, keys
from loyalty.commit import LostRace, optimistic
from loyalty.dynamo import cancellation_codes, is_condition_failure, query_all, transact_write
from loyalty.timeutil import iso, parse_rfc3339

Item = dict[str, Any]
PENDING, DEFERRED, DONE, CANCELLED = "pending", "deferred", "done", "cancelled"
WAITING = (PENDING, DEFERRED)
KEEP_DONE = timedelta(days=35)  # a finished firing is kept this long: a redelivered event finds it
LEDGER_DAYS = 400  # send ledger entries are kept for a year and a month


def expiry(after: datetime) -> int:
    return int((after + KEEP_DONE).timestamp())


@dataclass(frozen=True)
class NewFiring:
    tenant: str
    member: str
    rule_id: str
    version: int
    trigger: str  # event | date | delay | inactivity
    source: str
    instance: str
    due_at: datetime
    event_id: str | None = None
    anchor: str | None = None  # triggers.anchor_key of the arming event


def _item(firing: NewFiring, now: datetime) -> Item:
    due = iso(firing.due_at)
    item: Item = {
        "pk": keys.member_pk(firing.tenant, firing.member),
        "sk": layout.firing_sk(firing.rule_id, firing.source),
        "kind": "care_firing",
        "tenant_id": firing.tenant,
        "member_id": firing.member,
        "rule_id": firing.rule_id,
        "version": firing.version,
        "trigger": firing.trigger,
        "source": firing.source,
        "instance": firing.instance,
        "state": PENDING,
        "step": 0,
        "due_at": due,
        "created_at": iso(now),
        "done_actions": [],
        "expires_at": expiry(max(firing.due_at, now)),
        **layout.care_due_index(firing.tenant, firing.member, firing.rule_id, firing.source, due),
    }
    if firing.event_id:
        item["event_id"] = firing.event_id
    if firing.anchor:
        item["anchor"] = firing.anchor
    return item


def _conditional(write: Any) -> bool:
    """Run a conditional write, retried on throttling and timeouts; False when its
    condition failed (also on a retry of a write whose first reply was lost: every write
    here is one a repeat may find applied)."""

    def attempt() -> bool:
        try:
            write()
        except ClientError as err:
            if is_condition_failure(err):
                return False
            raise
        return True

    return optimistic(attempt, what="care item")


def put_new(table: str, firing: NewFiring, now: datetime) -> bool:
    """A firing of its own (event and date triggers); False when it exists already."""
    item = _item(firing, now)
    return _conditional(
        lambda: aws.table(table).put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
    )


def arm(table: str, firing: NewFiring, now: datetime) -> bool:
    """(Re-)arm the rule's one firing for the member with a newer event; False when a
    newer or the same event armed it already."""
    item = _item(firing, now)
    return _conditional(
        lambda: aws.table(table).put_item(
            Item=item,
            ConditionExpression="attribute_not_exists(pk) OR anchor < :anchor",
            ExpressionAttributeValues={":anchor": firing.anchor},
        )
    )


def cancel(table: str, tenant: str, member: str, rule_id: str, anchor: str, now: datetime) -> bool:
    """Stop a waiting delay firing armed before ``anchor``; False when none waits."""
    return _conditional(
        lambda: aws.table(table).update_item(
            Key={"pk": keys.member_pk(tenant, member), "sk": layout.firing_sk(rule_id, layout.DELAY_SOURCE)},
            UpdateExpression="SET #state = :cancelled, cancelled_at = :now REMOVE gsi1pk, gsi1sk",
            ConditionExpression="#state IN (:pending, :deferred) AND anchor < :anchor",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={
                ":cancelled": CANCELLED,
                ":now": iso(now),
                ":pending": PENDING,
                ":deferred": DEFERRED,
                ":anchor": anchor,
            },
        )
    )


def due(table: str, tenant: str, until: datetime) -> Iterator[Item]:
    """Index entries of the tenant's firings due by ``until``, shard by shard (the index is
    eventually consistent: :func:`get` reads the firing itself)."""
    for pk in layout.care_due_pks(tenant):
        yield from query_all(
            aws.table(table),
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :pk AND gsi1sk <= :until",
            ExpressionAttributeValues={":pk": pk, ":until": f"{iso(until)}#~"},
        )


def get(table: str, pk: str, sk: str) -> Item | None:
    """A consistent GetItem, retried on throttling and timeouts within the run (a transient
    fault must not count towards parking the firing)."""

    def read() -> Item | None:
        item: Item | None = (
            aws.table(table).get_item(Key={"pk": pk, "sk": sk}, ConsistentRead=True).get("Item")
        )
        return item

    return optimistic(read, what="care item")


def member_items(table: str, tenant: str, member: str) -> dict[str, Item]:
    """The member's ``#`` items (profile, stats, balance, open-ticket markers) by sort key."""
    found = query_all(
        aws.table(table),
        KeyConditionExpression="pk = :pk AND sk BETWEEN :from AND :to",
        ExpressionAttributeValues={
            ":pk": keys.member_pk(tenant, member),
            ":from": keys.MEMBER_ITEMS_FROM,
            ":to": keys.MEMBER_ITEMS_TO,
        },
        ConsistentRead=True,
    )
    return {str(item["sk"]): item for item in found}


def profile(table: str, tenant: str, member: str) -> Item:
    """The member's profile as it is now (consistent): the consent read just before a send."""
    return get(table, keys.member_pk(tenant, member), keys.PROFILE_SK) or {}


def event(events_table: str, tenant: str, event_id: str) -> Item | None:
    return get(events_table, keys.event_pk(tenant, event_id), keys.EVENT_SK)


# Once markers and the frequency cap ---------------------------------------------------


# How long a once marker outlives the time it was taken, by its period's kind: past the
# period's end (DynamoDB's TTL then removes it); ``ever`` and ``match`` markers are kept.
ONCE_KEPT = {"day": 3, "week": 9, "month": 33, "year": 368}


def hold_once(
    table: str, tenant: str, member: str, rule_id: str, period: str, instance: str, at: str
) -> bool:
    """Take the rule's send for ``period``; True when this firing holds it (also when it
    took it before, in an earlier attempt)."""
    item: Item = {
        "pk": keys.member_pk(tenant, member),
        "sk": layout.once_sk(rule_id, period),
        "kind": "care_once",
        "holder": instance,
        "at": at,
    }
    kept = ONCE_KEPT.get(period.split(":", 1)[0])
    if kept is not None:
        item["expires_at"] = int((parse_rfc3339(at) + timedelta(days=kept)).timestamp())
    return _conditional(
        lambda: aws.table(table).put_item(
            Item=item,
            ConditionExpression="attribute_not_exists(pk) OR holder = :mine",
            ExpressionAttributeValues={":mine": instance},
        )
    )


def forget_match(table: str, tenant: str, member: str, rule_id: str) -> None:
    """The member no longer matches: the next match may act again."""
    key = {"pk": keys.member_pk(tenant, member), "sk": layout.once_sk(rule_id, "match")}
    optimistic(lambda: aws.table(table).delete_item(Key=key), what="care item")


def cap_record(table: str, tenant: str, member: str) -> tuple[dict[str, str], int]:
    """The member's recent marketing emails (instance -> member-local day) and the version."""
    item = get(table, keys.member_pk(tenant, member), layout.CAP_SK) or {}
    return {str(k): str(v) for k, v in (item.get("sent") or {}).items()}, int(item.get("version", 0))


def save_cap(table: str, tenant: str, member: str, sent: dict[str, str], version: int) -> None:
    """Store the cap's record conditioned on the version read (LostRace: read again)."""
    condition = "attribute_not_exists(pk)" if version == 0 else "version = :v"
    values = {} if version == 0 else {":v": version}
    try:
        aws.table(table).put_item(
            Item={
                "pk": keys.member_pk(tenant, member),
                "sk": layout.CAP_SK,
                "kind": "care_cap",
                "sent": sent,
                "version": version + 1,
            },
            ConditionExpression=condition,
            **({"ExpressionAttributeValues": values} if values else {}),
        )
    except ClientError as err:
        if is_condition_failure(err):
            raise LostRace("the member's frequency cap changed since it was read") from err
        raise


# Progress, ledger and counters --------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One line of the send ledger."""

    outcome: str
    reason: str | None = None
    action: int | None = None
    action_type: str | None = None
    task_id: str | None = None


def ledger_item(firing: Item, entry: Entry, at: datetime, n: int) -> Item:
    stamp = iso(at)
    item: Item = {
        "pk": firing["pk"],
        "sk": layout.ledger_sk(stamp, str(firing["rule_id"]), n, str(firing["instance"])),
        "kind": "care_ledger",
        "tenant_id": firing["tenant_id"],
        "member_id": firing["member_id"],
        "rule_id": firing["rule_id"],
        "version": int(firing["version"]),
        "at": stamp,
        "outcome": entry.outcome,
        "source": firing["instance"],
        "expires_at": int(time.time()) + LEDGER_DAYS * 86_400,
    }
    for name in ("reason", "action", "action_type", "task_id"):
        value = getattr(entry, name)
        if value is not None:
            item[name] = value
    return item


def _counter_update(table: str, firing: Item, entries: list[Entry], day: str) -> Item:
    totals: dict[str, int] = {}
    for entry in entries:
        for name in layout.counter_names(entry.outcome, entry.reason):
            totals[name] = totals.get(name, 0) + 1
    names = {f"#c{i}": name for i, name in enumerate(totals)}
    values = {f":c{i}": count for i, count in enumerate(totals.values())}
    shard = keys.shard_of(str(firing["member_id"]), layout.CARE_SHARDS)
    return {
        "Update": {
            "TableName": table,
            "Key": {
                "pk": layout.activity_pk(str(firing["tenant_id"]), str(firing["rule_id"]), shard),
                "sk": day,
            },
            "UpdateExpression": "ADD " + ", ".join(f"{n} :{n[1:]}" for n in names),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
    }


def record(
    table: str, firing: Item, changes: Item, entries: list[Entry], at: datetime, day: str, *, waiting: bool
) -> bool:
    """Move ``firing`` on: set ``changes`` and the next ``step``, append ``entries`` to the
    ledger and add them to the day's counters, in one transaction. ``waiting`` keeps it in
    the due index (at ``changes['due_at']``); otherwise it leaves it. False when the
    firing moved on since it was read."""
    step = int(firing.get("step", 0))
    sets = {**changes, "step": step + 1}
    names = {f"#f{i}": name for i, name in enumerate(sets)}
    values: Item = {f":f{i}": value for i, value in enumerate(sets.values())}
    expression = "SET " + ", ".join(f"#f{i} = :f{i}" for i in range(len(sets)))
    if waiting:
        due_at = str(changes["due_at"])
        index = layout.care_due_index(
            str(firing["tenant_id"]),
            str(firing["member_id"]),
            str(firing["rule_id"]),
            str(firing["source"]),
            due_at,
        )
        values[":ipk"], values[":isk"] = index["gsi1pk"], index["gsi1sk"]
        expression += ", gsi1pk = :ipk, gsi1sk = :isk"
    else:
        expression += " REMOVE gsi1pk, gsi1sk"
    values.update({":step": step, ":instance": firing["instance"]})
    operations: list[Item] = [
        {
            "Update": {
                "TableName": table,
                "Key": {"pk": firing["pk"], "sk": firing["sk"]},
                "UpdateExpression": expression,
                "ConditionExpression": "step = :step AND instance = :instance",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        }
    ]
    for n, entry in enumerate(entries):
        number = entry.action if entry.action is not None else 90 + n
        operations.append(
            {
                "Put": {
                    "TableName": table,
                    "Item": ledger_item(firing, entry, at, number),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        )
    if entries:
        operations.append(_counter_update(table, firing, entries, day))
    try:
        optimistic(lambda: transact_write(operations), what="care firing")
    except ClientError as err:
        if "ConditionalCheckFailed" in cancellation_codes(err):
            return False
        raise
    return True
