"""Data access for an erasure beyond the profile and the events: the member's
tickets (subject, description, replies) and delivery claims that held text.
See the privacy map in docs/data-model.md for every place personal data lives."""

from __future__ import annotations

from loyalty import aws, keys
from loyalty.dynamo import query_all

ERASED_SUBJECT = "(erased)"


def _member_items(table: object, tenant: str, member: str, prefix: str) -> list[dict[str, object]]:
    return list(
        query_all(
            table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": keys.member_pk(tenant, member), ":prefix": prefix},
        )
    )


def erase_tickets(table_name: str, tenant: str, member: str) -> int:
    """Blank the subject, description and replies of every ticket of the member
    (found through the member's ticket markers); returns how many tickets."""
    table = aws.table(table_name)
    markers = _member_items(table, tenant, member, keys.TICKET_MARKER_PREFIX)
    for marker in markers:
        pk = keys.ticket_pk(tenant, str(marker["sk"]).removeprefix(keys.TICKET_MARKER_PREFIX))
        table.update_item(
            Key={"pk": pk, "sk": keys.TICKET_SK},
            UpdateExpression="SET subject = :subject, description = :empty, erased = :true",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":subject": ERASED_SUBJECT, ":empty": "", ":true": True},
        )
        replies = query_all(
            table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :reply)",
            ExpressionAttributeValues={":pk": pk, ":reply": keys.TICKET_REPLY_PREFIX},
        )
        for reply in replies:
            table.update_item(
                Key={"pk": pk, "sk": reply["sk"]},
                UpdateExpression="SET body = :empty, erased = :true",
                ExpressionAttributeValues={":empty": "", ":true": True},
            )
    return len(markers)


def erase_claim_texts(table_name: str, tenant: str, member: str) -> None:
    """Delivery claims written before claims stopped keeping the subject held the
    greeting, with the member's name: remove it."""
    table = aws.table(table_name)
    for claim in _member_items(table, tenant, member, keys.CARE_CLAIM_PREFIX):
        if "subject" in claim:
            table.update_item(Key={"pk": claim["pk"], "sk": claim["sk"]}, UpdateExpression="REMOVE subject")
