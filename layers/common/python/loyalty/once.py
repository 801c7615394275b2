"""Send an email at most once per business key.

A claim item is written with a conditional put before sending; a redelivered
or re-run job finds the claim and sends nothing. If sending fails the claim is
removed again and the error re-raised, so the next run retries and the failure
reaches the function's dead-letter queue instead of vanishing."""

from __future__ import annotations

from datetime import datetime

from botocore.exceptions import ClientError

from loyalty import aws, emailer
from loyalty.dynamo import is_condition_failure
from loyalty.timeutil import iso


def deliver_once(table_name: str, pk: str, sk: str, sender: str, email: emailer.Email, now: datetime) -> bool:
    """True when this call sent the email, False when it had already been sent."""
    table = aws.table(table_name)
    try:
        table.put_item(
            Item={"pk": pk, "sk": sk, "kind": "delivery", "claimed_at": iso(now), "subject": email.subject},
            ConditionExpression="attribute_not_exists(pk)",
        )
    except ClientError as err:
        if is_condition_failure(err):
            return False
        raise
    try:
        message_id = emailer.send(sender, email)
    except Exception:
        table.delete_item(Key={"pk": pk, "sk": sk})
        raise
    table.update_item(
        Key={"pk": pk, "sk": sk},
        UpdateExpression="SET sent_at = :at, message_id = :id",
        ExpressionAttributeValues={":at": iso(now), ":id": message_id},
    )
    return True
