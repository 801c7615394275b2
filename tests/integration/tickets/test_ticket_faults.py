"""Tickets under the faults AWS produces and moto does not (``tests.faults``): collisions
with other transactions, throttling, timeouts and lost replies on every DynamoDB call of
the tickets API and the timer job. Whatever the faults, each request is applied once,
each notice is sent once, and the loads match the tickets."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import Env
from tests.faults import Faults
from tests.integration.tickets.ticket_helpers import SHANGHAI_MORNING, desk_team, get, levels, tick

pytestmark = pytest.mark.integration


@contextmanager
def _faults(seed: int, functions: set[str]) -> Iterator[Faults]:
    faults = Faults(rate=0.3, seed=seed, functions=functions).install()
    try:
        yield faults
    finally:
        faults.uninstall()


def _until_done(aws: Env, method: str, path: str, body: Any, at: Any, key: str) -> Any:
    """A storefront's retry loop: the same request, the same Idempotency-Key, until it is
    answered (503, 429 and a request still in progress are retried a second later)."""
    for n in range(20):
        response = aws.call(
            method, path, body, at=at + timedelta(seconds=n), headers={"Idempotency-Key": key}
        )
        retry = response.status >= 500 or response.status == 429
        if response.status == 409 and response.json()["error"]["code"] == "request_in_progress":
            retry = True
        if not retry:
            return response
    raise AssertionError("never answered")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_requests_apply_once_under_faults(aws: Env, seed: int) -> None:
    desk_team(aws)
    opened = aws.now + SHANGHAI_MORNING
    with _faults(seed, {"TicketsApi"}) as faults:
        tickets = [
            _until_done(
                aws, "POST", "/v1/tickets", {"subject": f"t{n}", "priority": "high"}, opened, f"open-{n}"
            ).json()
            for n in range(4)
        ]
        for n, ticket in enumerate(tickets):
            path = f"/v1/tickets/{ticket['ticket_id']}"
            for m, kind in enumerate(("reply", "customer", "note")):
                body = {"kind": kind, "author": "agent-a", "body": f"{kind} {m}"}
                at = opened + timedelta(minutes=10 + m)
                assert _until_done(aws, "POST", f"{path}/messages", body, at, f"msg-{n}-{m}").status == 201
            patched = _until_done(
                aws, "PATCH", path, {"status": "pending"}, opened + timedelta(minutes=20), f"p-{n}"
            )
            assert patched.status == 200
    assert sum(faults.injected.values()) > 0
    for ticket in tickets:
        found = get(aws, ticket["ticket_id"])
        assert [m["kind"] for m in found["messages"]] == ["reply", "customer", "note"]
        assert [h["after"] for h in found["history"] if h["field"] == "status"] == ["open", "pending"]
    assignees = Counter(get(aws, t["ticket_id"])["assignee"] for t in tickets)
    loads = {
        item["sk"].removeprefix("LOAD#"): int(item["open"])
        for item in aws.table("LOYALTY_TABLE").query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
            ExpressionAttributeValues={":pk": "T#demo#STAFF", ":p": "LOAD#"},
        )["Items"]
    }
    assert {k: v for k, v in loads.items() if v} == dict(assignees)
    assert assignees == Counter({"agent-a": 2, "agent-b": 2})  # round-robin held under collisions


@pytest.mark.parametrize("seed", [4, 5])
def test_notices_are_sent_once_under_faults(aws: Env, seed: int) -> None:
    desk_team(aws)
    opened = aws.now + SHANGHAI_MORNING
    ticket = aws.call("POST", "/v1/tickets", {"subject": "Lost", "priority": "urgent"}, at=opened).json()
    from loyalty import jobs

    with _faults(seed, {"TicketsEscalation"}) as faults:
        for minutes in range(40, 200, 5):
            with suppress(jobs.JobFailed):  # a failed item is recorded and retried by the next run
                tick(aws, opened + timedelta(minutes=minutes))
    assert sum(faults.injected.values()) > 0
    tick(aws, opened + timedelta(hours=4))
    sent = Counter(level for _, level in levels(aws, ticket["ticket_id"]))
    assert sent == Counter(
        {"first_response warning": 1, "first_response breach": 1, "first_response managers": 2}
    )
