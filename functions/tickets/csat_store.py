"""Data access for ticket ratings: the one conditional write that stores a CSAT answer
on the ticket item.

Guarantees: a rating is stored with one UpdateItem of the ticket (``SET csat, csat_at,
csat_event_id ADD version :one``) conditioned on the ticket existing, belonging to the
answer's member and holding no answer at or after this one's instant. So the latest
answer wins whatever the delivery order, a redelivered or replayed answer changes
nothing, and the version moves on with every stored rating (a concurrent ticket write,
conditioned on the version it read, re-reads and keeps the rating). A failed condition
is not an error: the ticket as it stood (returned with the failure) says why
(``tickets.csat.refusal``)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from loyalty import aws, keys
from loyalty.dynamo import is_condition_failure
from tickets.csat import CsatAnswer, Refusal, refusal
from tickets.layout import TICKET_SK


def ticket_key(tenant: str, ticket_id: str) -> dict[str, str]:
    return {"pk": keys.ticket_pk(tenant, ticket_id), "sk": TICKET_SK}


def _string(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name)
    return str(value["S"]) if isinstance(value, dict) and "S" in value else None


def record_answer(table_name: str, answer: CsatAnswer) -> Refusal | None:
    """Store ``answer`` on its ticket; None when stored, else why not."""
    try:
        aws.table(table_name).update_item(
            Key=ticket_key(answer.tenant_id, answer.ticket_id),
            UpdateExpression="SET csat = :score, csat_at = :at, csat_event_id = :event ADD version :one",
            ConditionExpression=(
                "attribute_exists(pk) AND member_id = :member"
                " AND (attribute_not_exists(csat_at) OR csat_at < :at)"
            ),
            ExpressionAttributeValues={
                ":score": answer.score,
                ":at": answer.at,
                ":event": answer.event_id,
                ":member": answer.member_id,
                ":one": 1,
            },
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as err:
        if not is_condition_failure(err):
            raise
        old = err.response.get("Item") or {}
        return refusal(answer, bool(old), _string(old, "member_id"))
    return None
