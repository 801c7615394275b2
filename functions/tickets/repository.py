"""Data access for tickets: the ticket with its timeline, every change as one
transaction, the staff partition the assignment reads, the member facts a new ticket
needs, and the ticket timer index. Keys: ``tickets.layout``; access patterns:
docs/data-model.md.

Guarantees:

* a ticket and its timeline are read with one strongly consistent Query of the ticket's
  partition;
* every change is one TransactWriteItems: the ticket item conditioned on the version
  read (one more is written), its new messages and changes (each conditioned on not
  existing), its three list entries and the member's marker (the summary), the
  assignees' loads, the queue's round-robin pointer (conditioned on the value read) and
  the ``ticket.*`` events (EventsTable, deterministic ids). A lost race raises
  :class:`loyalty.commit.LostRace`, so the caller reads again and decides again;
* the timer index lists a ticket while it has a next timer (``gsi1``), and the breaching
  index while a target runs (``LIST#b`` gsi2), so a run reads only what is due."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from botocore.exceptions import ClientError

from loyalty import aws, keys
from loyalty.commit import LostRace
from loyalty.dynamo import cancellation_codes, query_all, transact_write
from loyalty.events.stored import event_item
from loyalty.staff import Staff
from loyalty.staff.repository import staff_from_item
from loyalty.timeutil import iso, local_day
from tickets import layout
from tickets.domain import DONE_STATUSES, Change, Message, Notification, Ticket
from tickets.items import Commit, change_from, list_entries, message_from, ticket_item, to_ticket


@dataclass(frozen=True)
class StaffView:
    """The tenant's staff partition: everyone on the registry, the agents' open loads and
    the queues' round-robin pointers."""

    staff: tuple[Staff, ...]
    loads: Mapping[str, int]
    pointers: Mapping[str, str]


@dataclass(frozen=True)
class MemberFacts:
    tier: str | None
    owner: str | None
    erased: bool


class TicketStore:
    def __init__(self, table_name: str, events_table_name: str | None = None) -> None:
        self.table_name = table_name
        self.events_table_name = events_table_name
        self._table = aws.table(table_name)

    def load(self, tenant: str, ticket_id: str) -> Ticket | None:
        """The ticket with its messages and changes: one consistent Query of its partition."""
        items = query_all(
            self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": keys.ticket_pk(tenant, ticket_id)},
            ConsistentRead=True,
        )
        main: dict[str, Any] | None = None
        messages: list[tuple[str, int, Message]] = []
        changes: list[Change] = []
        for item in items:
            sk = str(item["sk"])
            if sk == layout.TICKET_SK:
                main = item
            elif sk.startswith((layout.MESSAGE_PREFIX, layout.LEGACY_REPLY_PREFIX)):
                message = message_from(item)
                messages.append((str(item["at"]), int(item.get("seq", 0)), message))
            elif sk.startswith(layout.CHANGE_PREFIX):
                changes.append(change_from(item))
        ordered = [message for _, _, message in sorted(messages, key=lambda entry: entry[:2])]
        return None if main is None else to_ticket(main, ordered, changes)

    def commit(
        self,
        before: Ticket | None,
        after: Ticket,
        messages: Sequence[Message],
        changes: Sequence[Change],
        loads: Mapping[str, int],
        commit: Commit,
        tz: ZoneInfo,
    ) -> Ticket:
        """Write ``after`` (version one more than ``before``'s) and everything that goes
        with it, in one transaction; LostRace when the ticket or a pointer moved."""
        stored = after.__class__(**{**after.__dict__, "version": (before.version if before else 0) + 1})
        put: dict[str, Any] = {
            "TableName": self.table_name,
            "Item": ticket_item(stored, tz, commit.timer_at, commit.report),
        }
        if before is None:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "version = :read AND attribute_exists(pk)"
            put["ExpressionAttributeValues"] = {":read": before.version}
        ops: list[dict[str, Any]] = [{"Put": put}]
        ops += self._timeline_ops(stored, messages, changes)
        ops += [
            {"Put": {"TableName": self.table_name, "Item": e}}
            for e in list_entries(stored, commit.summary, commit.warn_at)
        ]
        if stored.member_id:
            ops += self._member_ops(stored, commit.summary)
        ops += self._load_ops(stored.tenant_id, loads, commit.cap)
        if commit.pointer is not None:
            ops.append(self._pointer_op(stored.tenant_id, *commit.pointer))
        ops += self._breach_ops(stored, commit.breaches, tz)
        for event in commit.events:
            ops.append({"Put": {"TableName": self.events_table_name, "Item": event_item(event)}})
        try:
            transact_write(ops)
        except ClientError as err:
            if "ConditionalCheckFailed" in cancellation_codes(err):
                raise LostRace(f"ticket {after.ticket_id} changed since it was read") from err
            raise
        return stored

    def _member_ops(self, ticket: Ticket, summary: dict[str, Any]) -> list[dict[str, Any]]:
        """The member's entry for every ticket (``TICKET#``: lists and erasure) and, while the
        ticket is not done, its open marker among the member's '#' items (``#TICKET#``: the
        member view counts them in the Query it makes anyway, so it reads open tickets only)."""
        pk = keys.member_pk(ticket.tenant_id, str(ticket.member_id))
        entry = {
            "pk": pk,
            "sk": f"{keys.MEMBER_TICKET_PREFIX}{ticket.ticket_id}",
            "kind": "member_ticket",
            **summary,
        }
        ops: list[dict[str, Any]] = [{"Put": {"TableName": self.table_name, "Item": entry}}]
        marker_key = {"pk": pk, "sk": keys.ticket_marker_sk(ticket.ticket_id)}
        if ticket.status in DONE_STATUSES:
            ops.append({"Delete": {"TableName": self.table_name, "Key": marker_key}})
        else:
            marker = {
                **marker_key,
                "kind": "open_ticket",
                "status": ticket.status,
                "opened_at": iso(ticket.created_at),
            }
            ops.append({"Put": {"TableName": self.table_name, "Item": marker}})
        return ops

    def _timeline_ops(
        self, ticket: Ticket, messages: Sequence[Message], changes: Sequence[Change]
    ) -> list[dict[str, Any]]:
        pk = keys.ticket_pk(ticket.tenant_id, ticket.ticket_id)
        ops: list[dict[str, Any]] = []
        first_message = len(ticket.messages) - len(messages)
        for n, message in enumerate(messages, start=first_message):
            item = {
                "seq": n,  # its place on the ticket: messages of one instant keep their order
                "pk": pk,
                "sk": layout.message_sk(iso(message.at), message.message_id),
                "kind": message.kind,  # reply, note or customer (a legacy REPLY# item: reply)
                "message_id": message.message_id,
                "author": message.author,
                "body": message.body,
                "at": iso(message.at),
            }
            ops.append(
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": item,
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
        first = len(ticket.changes) - len(changes)
        for n, change in enumerate(changes, start=first):
            item = {
                "pk": pk,
                "sk": layout.change_sk(iso(change.at), n),
                "kind": "ticket_change",
                "at": iso(change.at),
                "by": change.by,
                "field": change.field,
                **({"before": change.before} if change.before is not None else {}),
                **({"after": change.after} if change.after is not None else {}),
            }
            ops.append(
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": item,
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
        return ops

    def _breach_ops(
        self, ticket: Ticket, breaches: Sequence[Notification], tz: ZoneInfo
    ) -> list[dict[str, Any]]:
        """A record per breach notice, listed in the activity index on its day (the daily
        report counts ``ticket.escalated``)."""
        pk = keys.ticket_pk(ticket.tenant_id, ticket.ticket_id)
        ops: list[dict[str, Any]] = []
        for notice in breaches:
            at = iso(notice.send_at)
            day = local_day(notice.send_at, tz).isoformat()
            item = {
                "pk": pk,
                "sk": layout.breach_sk(notice.claim),
                "kind": "ticket_breach",
                "target": notice.target,
                "at": at,
                **keys.day_index(
                    ticket.tenant_id, day, ticket.ticket_id, "ticket.escalated", at, ticket.ticket_id
                ),
            }
            ops.append({"Put": {"TableName": self.table_name, "Item": item}})
        return ops

    def _load_ops(
        self, tenant: str, loads: Mapping[str, int], cap: tuple[str, int] | None
    ) -> list[dict[str, Any]]:
        """The moved loads; an automatic assignment's agent gains one only while under their
        cap (a ticket given to them meanwhile fails the condition: the caller decides again)."""
        ops: list[dict[str, Any]] = []
        for staff_id, delta in sorted(loads.items()):
            if not delta:
                continue
            update: dict[str, Any] = {
                "TableName": self.table_name,
                "Key": {"pk": keys.staff_pk(tenant), "sk": layout.load_sk(staff_id)},
                "UpdateExpression": "SET kind = :kind ADD #open :n",
                "ExpressionAttributeNames": {"#open": "open"},
                "ExpressionAttributeValues": {":kind": "agent_load", ":n": delta},
            }
            if cap is not None and cap[0] == staff_id and delta > 0:
                update["ConditionExpression"] = "attribute_not_exists(#open) OR #open < :cap"
                update["ExpressionAttributeValues"][":cap"] = cap[1]
            ops.append({"Update": update})
        return ops

    def _pointer_op(self, tenant: str, queue: str, before: str | None, after: str) -> dict[str, Any]:
        update: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": {"pk": keys.staff_pk(tenant), "sk": layout.round_robin_sk(queue)},
            "UpdateExpression": "SET kind = :kind, #last = :after",
            "ExpressionAttributeNames": {"#last": "last"},
            "ExpressionAttributeValues": {":kind": "round_robin", ":after": after},
        }
        if before is None:
            update["ConditionExpression"] = "attribute_not_exists(#last)"
        else:
            update["ConditionExpression"] = "#last = :before"
            update["ExpressionAttributeValues"][":before"] = before
        return {"Update": update}

    def staff_view(self, tenant: str) -> StaffView:
        """The staff partition in one Query: people, loads and pointers."""
        staff: list[Staff] = []
        loads: dict[str, int] = {}
        pointers: dict[str, str] = {}
        items = query_all(
            self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": keys.staff_pk(tenant)},
            ConsistentRead=True,
        )
        for item in items:
            sk = str(item["sk"])
            if sk.startswith(keys.STAFF_PREFIX):
                staff.append(staff_from_item(item))
            elif sk.startswith(layout.LOAD_PREFIX):
                loads[sk.removeprefix(layout.LOAD_PREFIX)] = int(item.get("open", 0))
            elif sk.startswith(layout.ROUND_ROBIN_PREFIX):
                pointers[sk.removeprefix(layout.ROUND_ROBIN_PREFIX)] = str(item["last"])
        return StaffView(tuple(staff), loads, pointers)

    def member_facts(self, tenant: str, member: str) -> MemberFacts:
        """The member's tier, owner and erasure stamp: two GetItems."""
        pk = keys.member_pk(tenant, member)
        profile = (
            self._table.get_item(
                Key={"pk": pk, "sk": keys.PROFILE_SK},
                ProjectionExpression="#o, erased_at",
                ExpressionAttributeNames={"#o": "owner"},
            ).get("Item")
            or {}
        )
        balance = (
            self._table.get_item(Key={"pk": pk, "sk": keys.BALANCE_SK}, ProjectionExpression="tier").get(
                "Item"
            )
            or {}
        )
        return MemberFacts(
            tier=str(balance["tier"]) if balance.get("tier") else None,
            owner=str(profile["owner"]) if profile.get("owner") else None,
            erased=bool(profile.get("erased_at")),
        )

    def timers_due(self, tenant: str, now: datetime) -> Iterator[str]:
        """The ids of the tickets whose timer is at or before ``now`` (the timer index)."""
        items = query_all(
            self._table,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :pk AND gsi1sk <= :now",
            ExpressionAttributeValues={
                ":pk": keys.due_pk(tenant, layout.TIMER_KIND),
                ":now": f"{iso(now)}#~",
            },
        )
        return (str(item["ticket_id"]) for item in items)
