"""Data access for an erasure beyond the profile and the events: the member's
tickets and delivery claims that held text. See the privacy map in docs/data-model.md
for every place personal data lives.

Guarantees for each ticket of the member (found through the member's ticket entries and open markers):
the ticket's subject becomes ``(erased)`` and its description empty, ``erased`` is set
and its ``version`` moves on in the same UpdateItem, so a concurrent ticket write,
conditioned on the version it read, fails, re-reads and sees the erasure. Then every
message (``MSG#``) and legacy reply (``REPLY#``), read consistently after that write
(so any message committed before it is among them), has its body emptied, and a
``customer`` message its author too. Repeating an erasure changes no text again."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from loyalty import aws, keys
from loyalty.dynamo import is_condition_failure, query_all

ERASED_SUBJECT = "(erased)"
CUSTOMER_KIND = "customer"  # a message the member wrote (tickets.domain.MessageKind)
TICKET_TEXT_PREFIXES = (keys.TICKET_MESSAGE_PREFIX, keys.TICKET_REPLY_PREFIX)


def _member_items(table: object, tenant: str, member: str, prefix: str) -> list[dict[str, object]]:
    return list(
        query_all(
            table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": keys.member_pk(tenant, member), ":prefix": prefix},
        )
    )


def _erase_ticket_item(table: Any, pk: str) -> bool:
    """The ticket's own text, with its version moved on; False when there is no ticket."""
    try:
        table.update_item(
            Key={"pk": pk, "sk": keys.TICKET_SK},
            UpdateExpression="SET subject = :subject, description = :empty, erased = :true ADD version :one",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":subject": ERASED_SUBJECT, ":empty": "", ":true": True, ":one": 1},
        )
    except ClientError as err:
        if not is_condition_failure(err):
            raise
        return False
    return True


def _erase_text_item(table: Any, pk: str, item: dict[str, Any]) -> None:
    """A message's (or legacy reply's) body, and a customer message's author."""
    blank_author = item.get("kind") == CUSTOMER_KIND
    if item.get("erased") and item.get("body") == "" and (not blank_author or item.get("author") == ""):
        return  # erased before
    expression = "SET body = :empty, erased = :true" + (", author = :empty" if blank_author else "")
    table.update_item(
        Key={"pk": pk, "sk": item["sk"]},
        UpdateExpression=expression,
        ExpressionAttributeValues={":empty": "", ":true": True},
    )


def _member_ticket_ids(table: Any, tenant: str, member: str) -> list[str]:
    """The member's tickets: their entries (``TICKET#``) and open markers (``#TICKET#``; a
    ticket opened before entries existed has only its marker)."""
    found: dict[str, None] = {}
    for prefix in (keys.MEMBER_TICKET_PREFIX, keys.TICKET_MARKER_PREFIX):
        for item in _member_items(table, tenant, member, prefix):
            found[str(item["sk"]).removeprefix(prefix)] = None
    return list(found)


def erase_tickets(table_name: str, tenant: str, member: str) -> int:
    """Blank the text of every ticket of the member (see the module docstring);
    returns how many tickets were found."""
    table = aws.table(table_name)
    erased = 0
    for ticket_id in _member_ticket_ids(table, tenant, member):
        pk = keys.ticket_pk(tenant, ticket_id)
        if not _erase_ticket_item(table, pk):
            continue
        erased += 1
        for prefix in TICKET_TEXT_PREFIXES:
            texts = query_all(
                table,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
                ExpressionAttributeValues={":pk": pk, ":prefix": prefix},
                ConsistentRead=True,
            )
            for item in texts:
                _erase_text_item(table, pk, item)
    return erased


def erase_claim_texts(table_name: str, tenant: str, member: str) -> None:
    """Delivery claims written before claims stopped keeping the subject held the
    greeting, with the member's name: remove it."""
    table = aws.table(table_name)
    for claim in _member_items(table, tenant, member, keys.CARE_CLAIM_PREFIX):
        if "subject" in claim:
            table.update_item(Key={"pk": claim["pk"], "sk": claim["sk"]}, UpdateExpression="REMOVE subject")
