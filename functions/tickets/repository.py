"""Data access for tickets: the ticket item, replies, and the SLA due index."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from loyalty import aws, keys
from loyalty.dynamo import cancellation_codes, is_condition_failure, query_all, transact_write
from tickets.logic import Ticket

TICKET_SK = "#TICKET"
_FIELDS = (
    "tenant_id",
    "ticket_id",
    "subject",
    "description",
    "member_id",
    "priority",
    "channel",
    "created_at",
    "first_response_due_at",
    "first_response_at",
    "escalated_at",
)


def _to_ticket(item: dict[str, Any]) -> Ticket:
    return Ticket(**{name: item.get(name) for name in _FIELDS})  # type: ignore[arg-type]


class TicketStore:
    def __init__(self, table_name: str) -> None:
        self._table = aws.table(table_name)

    def create(self, ticket: Ticket, day: str) -> None:
        item: dict[str, Any] = {
            "pk": keys.ticket_pk(ticket.tenant_id, ticket.ticket_id),
            "sk": TICKET_SK,
            "kind": "ticket",
            **{name: getattr(ticket, name) for name in _FIELDS if getattr(ticket, name) is not None},
            # Sparse SLA index: present only while a first response is outstanding.
            "gsi1pk": keys.due_pk(ticket.tenant_id, "ticket"),
            "gsi1sk": f"{ticket.first_response_due_at}#{ticket.ticket_id}",
            **keys.day_index(
                ticket.tenant_id, day, ticket.ticket_id, "ticket.opened", ticket.created_at, ticket.ticket_id
            ),
        }
        if ticket.member_id is None:
            self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
            return
        # The member's open-ticket marker sits among the member's '#' items, so the
        # member view counts open tickets in the same single Query.
        marker = {
            "pk": keys.member_pk(ticket.tenant_id, ticket.member_id),
            "sk": f"#TICKET#{ticket.ticket_id}",
            "kind": "open_ticket",
            "opened_at": ticket.created_at,
        }
        transact_write(
            [
                {
                    "Put": {
                        "TableName": self._table.name,
                        "Item": item,
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {"Put": {"TableName": self._table.name, "Item": marker}},
            ]
        )

    def get(self, tenant: str, ticket_id: str) -> Ticket | None:
        item = self._table.get_item(Key={"pk": keys.ticket_pk(tenant, ticket_id), "sk": TICKET_SK}).get(
            "Item"
        )
        return _to_ticket(item) if item else None

    def add_reply(self, ticket: Ticket, reply_id: str, author: str, body: str, at: str) -> None:
        pk = keys.ticket_pk(ticket.tenant_id, ticket.ticket_id)
        self._table.put_item(
            Item={
                "pk": pk,
                "sk": f"REPLY#{at}#{reply_id}",
                "kind": "reply",
                "author": author,
                "body": body,
                "at": at,
            }
        )
        try:
            self._table.update_item(
                Key={"pk": pk, "sk": TICKET_SK},
                UpdateExpression="SET first_response_at = :at REMOVE gsi1pk, gsi1sk",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(first_response_at)",
                ExpressionAttributeValues={":at": at},
            )
        except ClientError as err:
            if not is_condition_failure(err):
                raise  # an existing first response stays as it was

    def overdue(self, tenant: str, now_iso: str) -> Iterator[Ticket]:
        """Query the sparse SLA index for first responses due at or before now; each page
        read is retried on throttling and timeouts."""
        items = query_all(
            self._table,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :pk AND gsi1sk <= :now",
            ExpressionAttributeValues={":pk": keys.due_pk(tenant, "ticket"), ":now": f"{now_iso}#~"},
        )
        return (_to_ticket(item) for item in items)

    def mark_escalated(self, ticket: Ticket, at: str, day: str) -> bool:
        """Take the ticket out of the SLA index and stamp the escalation; False if
        it was answered or escalated meanwhile."""
        pk = keys.ticket_pk(ticket.tenant_id, ticket.ticket_id)
        try:
            transact_write(
                [
                    {
                        "Update": {
                            "TableName": self._table.name,
                            "Key": {"pk": pk, "sk": TICKET_SK},
                            "UpdateExpression": "SET escalated_at = :at REMOVE gsi1pk, gsi1sk",
                            "ConditionExpression": "attribute_not_exists(first_response_at) AND "
                            "attribute_not_exists(escalated_at)",
                            "ExpressionAttributeValues": {":at": at},
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table.name,
                            "Item": {
                                "pk": pk,
                                "sk": "ESCALATION",
                                "kind": "escalation",
                                "at": at,
                                **keys.day_index(
                                    ticket.tenant_id,
                                    day,
                                    ticket.ticket_id,
                                    "ticket.escalated",
                                    at,
                                    ticket.ticket_id,
                                ),
                            },
                        }
                    },
                ]
            )
        except ClientError as err:
            if cancellation_codes(err)[:1] == ["ConditionalCheckFailed"]:
                return False
            raise
        return True
