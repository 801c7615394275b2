"""Driving the care engine through its real entry points: events posted to the API,
the stream pumped to every consumer, the care schedules run at chosen times."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from care_rules import layout
from loyalty import keys
from tests.conftest import TENANT, Env, registration

ADMIN_KEY_PREFIX = "admin-"


def post(aws: Env, *events: dict[str, Any], at: datetime | None = None) -> None:
    """Store events and deliver the stream to every consumer (a fresh pump: every record
    of the stream is delivered again, as a redelivery would)."""
    moment = at or aws.now
    aws.now = max(aws.now, moment)
    response = aws.call("POST", "/v1/events", {"events": list(events)}, at=moment)
    assert response.status == 200, response.body
    assert all(r["status"] in ("accepted", "duplicate") for r in response.json()["results"]), response.body
    aws.pump().drain()


def deliver(aws: Env, at: datetime) -> dict[str, Any]:
    aws.now = max(aws.now, at)
    result: dict[str, Any] = aws.run_job("CareRules", "care_deliver", at)
    aws.pump().drain()
    return result


def dates(aws: Env, at: datetime) -> dict[str, Any]:
    aws.now = max(aws.now, at)
    result: dict[str, Any] = aws.run_job("CareRules", "care_dates", at)
    return result


def sent(aws: Env, rule_id: str | None = None) -> list[str]:
    """Recipients of the care emails sent (of one rule), in order."""
    found = []
    for message in aws.sent_emails():
        if rule_id is None or f"X-Loyalty-Rule: {rule_id}" in message.raw_data:
            found.append(message.destinations[0])
    return found


def messages(aws: Env, rule_id: str) -> list[str]:
    return [m.raw_data for m in aws.sent_emails() if f"X-Loyalty-Rule: {rule_id}" in m.raw_data]


def ledger(aws: Env, member: str, rule_id: str | None = None, tenant: str = TENANT) -> list[dict[str, Any]]:
    """The member's send ledger, oldest first, as (outcome, reason, rule, version) rows."""
    items = aws.table("LOYALTY_TABLE").query(
        KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
        ExpressionAttributeValues={":pk": keys.member_pk(tenant, member), ":p": layout.LEDGER_PREFIX},
        ConsistentRead=True,
    )["Items"]
    return [i for i in items if rule_id is None or i["rule_id"] == rule_id]


def outcomes(aws: Env, member: str, rule_id: str) -> list[tuple[str, str | None]]:
    return [(str(i["outcome"]), i.get("reason")) for i in ledger(aws, member, rule_id)]


def put_rule(aws: Env, rule_id: str, rule: dict[str, Any], at: datetime | None = None) -> dict[str, Any]:
    from tests.conftest import API_KEY

    response = aws.call(
        "PUT", f"/v1/admin/care-rules/{rule_id}", rule, key=f"{ADMIN_KEY_PREFIX}{API_KEY}", at=at
    )
    assert response.status in (200, 201), response.body
    result: dict[str, Any] = response.json()
    from care_rules import stream

    stream.clear_rules_cache()
    return result


def disable_rule(aws: Env, rule_id: str, at: datetime | None = None) -> None:
    from tests.conftest import API_KEY

    response = aws.call(
        "DELETE", f"/v1/admin/care-rules/{rule_id}", key=f"{ADMIN_KEY_PREFIX}{API_KEY}", at=at
    )
    assert response.status == 200, response.body
    from care_rules import stream

    stream.clear_rules_cache()


def member(aws: Env, member_id: str, *, at: str = "2026-03-01T09:00:00Z", **profile: Any) -> dict[str, Any]:
    """A registration event with consent, and the profile fields given."""
    event = registration(f"reg-{member_id}", member_id, at=at, consent=profile.pop("consent", True))
    event["data"].update(profile)
    return event


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)
