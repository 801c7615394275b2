"""Send an email at most once per business key, and never leave it unsent.

A delivery claim item (``pk``/``sk`` given by the caller) moves through two
states:

* ``claimed``: written with a conditional put (``attribute_not_exists(pk)``)
  before sending. It carries a random ``claim_token`` and ``lease_until``, the
  wall-clock instant until which the claiming invocation may still send.
* ``sent``: ``sent_at`` and the SES ``message_id`` are set after SES accepted
  the message. A sent claim is never sent again.

A claim still ``claimed`` after its lease belongs to an invocation that ended
between claiming and recording the send (a crash, a timeout): the lease
(:data:`LEASE`) is longer than any scheduled function's timeout. A later run
takes such a claim over with an update conditioned on the token it read and on
``sent_at`` being absent, then sends: of two runs taking over at once, one wins.
A live claim held by another run is left alone (:attr:`Delivery.IN_FLIGHT`);
the caller keeps the item due, and a later run finds it sent or expired.

A failed send releases the claim (a delete conditioned on this call's token)
and re-raises, so the next attempt claims again at once. If the release itself
fails, the lease runs out and a later run takes the claim over.

The lease is measured on the wall clock: it bounds how long a real invocation
may hold a claim, while the schedule's time (``now``, stamped as
``claimed_at``/``sent_at``) may be simulated and may jump.

One gap remains, and SES offers no idempotency key to close it: when SES
accepted a message but its reply was lost, the send counts as failed and a
later attempt sends again."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import BotoCoreError, ClientError

from loyalty import aws, emailer
from loyalty.commit import LostRace, optimistic
from loyalty.dynamo import is_condition_failure
from loyalty.timeutil import iso, parse_rfc3339

LEASE = timedelta(minutes=10)  # longer than any scheduled function's timeout (300 s)
CLAIMED = "claimed"
SENT = "sent"

_DESERIALIZER = TypeDeserializer()


class Delivery(StrEnum):
    SENT = "sent"  # this call sent the email
    ALREADY_SENT = "already_sent"  # an earlier run sent it
    IN_FLIGHT = "in_flight"  # another run holds a live claim: keep the item due


def lease_clock() -> datetime:
    # Wall clock: a lease bounds the real time an invocation may hold a claim; the schedule's
    # (possibly simulated) time can stand still or jump.
    return datetime.now(UTC)


def deliver(table_name: str, pk: str, sk: str, sender: str, email: emailer.Email, now: datetime) -> Delivery:
    """Send ``email`` once for the claim ``pk``/``sk``; ``now`` is the run's (schedule) time."""
    return perform(table_name, pk, sk, lambda: emailer.send(sender, email), now)


def perform(table_name: str, pk: str, sk: str, act: Callable[[], str], now: datetime) -> Delivery:
    """Run ``act`` (a send that answers its message id: an email, an event published to a
    bus) once for the claim ``pk``/``sk``, with the guarantees above."""
    table = aws.table(table_name)
    key = {"pk": pk, "sk": sk}
    token = uuid.uuid4().hex
    held = optimistic(lambda: _claim(table, key, token, now), what="delivery claim")
    if held is not None:
        return held
    try:
        message_id = act()
    except Exception:
        _release(table, key, token)
        raise
    optimistic(lambda: _mark_sent(table, key, message_id, now), what="delivery claim")
    return Delivery.SENT


def _claim(table: Any, key: dict[str, str], token: str, now: datetime) -> Delivery | None:
    """None when this call now holds the claim; otherwise why it may not send."""
    lease_until = iso(lease_clock() + LEASE)
    try:
        table.put_item(
            Item={
                **key,
                "kind": "delivery",
                "state": CLAIMED,
                "claim_token": token,
                "claimed_at": iso(now),
                "lease_until": lease_until,
            },
            ConditionExpression="attribute_not_exists(pk)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        return None
    except ClientError as err:
        if not is_condition_failure(err):
            raise
        old = _old_item(err) or table.get_item(Key=key, ConsistentRead=True).get("Item")
    if old is None:
        raise LostRace  # released meanwhile: claim again
    if old.get("sent_at") or old.get("state") == SENT:
        return Delivery.ALREADY_SENT
    if old.get("claim_token") == token:
        return None  # this call's own write, applied before its reply was lost
    if lease_clock() < _lease_end(old):
        return Delivery.IN_FLIGHT
    # Expired: the holder ended without recording a send. Take over, once.
    previous = old.get("claim_token")
    condition = "attribute_not_exists(sent_at) AND " + (
        "claim_token = :old" if previous else "attribute_not_exists(claim_token)"
    )
    values: dict[str, Any] = {
        ":claimed": CLAIMED,
        ":token": token,
        ":at": iso(now),
        ":lease": lease_until,
        ":one": 1,
    }
    if previous:
        values[":old"] = previous
    try:
        table.update_item(
            Key=key,
            UpdateExpression="SET #state = :claimed, claim_token = :token, claimed_at = :at, "
            "lease_until = :lease ADD takeovers :one",
            ConditionExpression=condition,
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues=values,
        )
    except ClientError as err:
        if is_condition_failure(err):
            raise LostRace from err  # another run took it over or sent it: re-read
        raise
    return None


def _lease_end(claim: dict[str, Any]) -> datetime:
    if claim.get("lease_until"):
        return parse_rfc3339(str(claim["lease_until"]))
    # A claim written before claims had leases: its claim time starts the lease.
    return parse_rfc3339(str(claim["claimed_at"])) + LEASE


def _old_item(err: ClientError) -> dict[str, Any] | None:
    wire = err.response.get("Item")
    if not wire:
        return None
    return {name: _DESERIALIZER.deserialize(value) for name, value in wire.items()}


def _mark_sent(table: Any, key: dict[str, str], message_id: str, now: datetime) -> None:
    # Unconditional: the message went out, whoever holds the claim now.
    table.update_item(
        Key=key,
        UpdateExpression="SET #state = :sent, sent_at = :at, message_id = :id REMOVE lease_until",
        ExpressionAttributeNames={"#state": "state"},
        ExpressionAttributeValues={":sent": SENT, ":at": iso(now), ":id": message_id},
    )


def _release(table: Any, key: dict[str, str], token: str) -> None:
    """Give the claim up after a failed send, unless someone else holds it by now. Best
    effort: a claim left behind expires with its lease."""
    with contextlib.suppress(ClientError, BotoCoreError):
        table.delete_item(
            Key=key,
            ConditionExpression="claim_token = :token AND attribute_not_exists(sent_at)",
            ExpressionAttributeValues={":token": token},
        )
