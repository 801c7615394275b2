"""The ticket timer job: escalation levels sent once each, re-armed when a due time
moves; assignment round-robin, to a VIP's owner, and at the next shift; resolved
tickets closed after seven days; the timeline's ticket events."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import Env
from tests.integration.tickets.ticket_helpers import (
    SHANGHAI_MORNING,
    desk_team,
    get,
    levels,
    message,
    open_ticket,
    patch,
    put_staff,
    tick,
    timeline,
)

pytestmark = pytest.mark.integration


def test_levels_climb_once_each_to_the_minute(aws: Env) -> None:
    desk_team(aws)
    opened = aws.now + SHANGHAI_MORNING  # Wednesday 09:00 Shanghai
    ticket = open_ticket(aws, at=opened, priority="urgent", member_id="m-1")
    tid = ticket["ticket_id"]
    assert ticket["assignee"] == "agent-a"
    assert ticket["sla"]["first_response"]["due_at"] == "2026-03-11T02:00:00.000Z"  # 10:00 Shanghai
    minute = timedelta(minutes=1)
    tick(aws, opened + timedelta(minutes=44))
    assert levels(aws, tid) == []
    tick(aws, opened + timedelta(minutes=45))
    assert levels(aws, tid) == [("agent-a@staff.example", "first_response warning")]
    for n in range(1, 15):  # every minute until the breach: nothing new
        tick(aws, opened + timedelta(minutes=45) + n * minute)
    assert len(levels(aws, tid)) == 1
    tick(aws, opened + timedelta(hours=1))
    assert levels(aws, tid)[1:] == [("lead-1@staff.example", "first_response breach")]
    tick(aws, opened + timedelta(hours=2, minutes=59))
    assert len(levels(aws, tid)) == 2
    at_managers = opened + timedelta(hours=3)  # 10:00 + 120 business minutes = 12:00
    first = tick(aws, at_managers)
    again = tick(aws, at_managers)  # a redelivered invocation
    assert (first["notices"], again["notices"]) == (1, 0)
    assert sorted(levels(aws, tid)[2:]) == [
        ("boss-1@staff.example", "first_response managers"),
        ("lead@demo.example", "first_response managers"),
    ]
    events = timeline(aws, "m-1")
    assert sorted(
        (e["data"]["target"], e["data"]["level"]) for e in events if e["type"] == "ticket.escalated"
    ) == [
        ("first_response", "breach"),
        ("first_response", "managers"),
        ("first_response", "warning"),
    ]
    assert all("subject" not in e["data"] for e in events)


def test_a_late_run_sends_every_level_due_once(aws: Env) -> None:
    desk_team(aws)
    opened = aws.now + SHANGHAI_MORNING
    ticket = open_ticket(aws, at=opened, priority="urgent")
    tick(aws, opened + timedelta(hours=4))  # the schedule was down until 13:00
    tick(aws, opened + timedelta(hours=4, minutes=1))
    assert sorted(level for _, level in levels(aws, ticket["ticket_id"])) == [
        "first_response breach",
        "first_response managers",
        "first_response managers",
        "first_response warning",
    ]


def test_an_answered_target_is_not_escalated(aws: Env) -> None:
    desk_team(aws)
    opened = aws.now + SHANGHAI_MORNING
    ticket = open_ticket(aws, at=opened, priority="urgent")
    message(aws, ticket["ticket_id"], "reply", opened + timedelta(minutes=30))
    for minutes in (45, 60, 180):
        tick(aws, opened + timedelta(minutes=minutes))
    assert levels(aws, ticket["ticket_id"]) == []


def test_a_due_time_moved_by_a_pause_re_arms_its_notices(aws: Env) -> None:
    desk_team(aws)
    opened = aws.now + SHANGHAI_MORNING
    tid = open_ticket(aws, at=opened, priority="urgent", member_id="m-1")["ticket_id"]
    message(aws, tid, "reply", opened + timedelta(minutes=5))  # first response met
    # Resolution (480 business minutes) is due at 18:00: warned at 17:45.
    tick(aws, opened + timedelta(hours=8, minutes=45))
    assert levels(aws, tid) == [("agent-a@staff.example", "resolution warning")]
    patch(aws, tid, opened + timedelta(hours=8, minutes=50), status="pending")  # 10 minutes left
    tick(aws, opened + timedelta(hours=9))  # the old due time passes while paused: no breach
    assert len(levels(aws, tid)) == 1
    back = message(aws, tid, "customer", opened + timedelta(days=1))  # Thursday 09:00
    assert back["sla"]["resolution"]["due_at"] == "2026-03-12T01:10:00.000Z"  # 09:10: the 10 minutes left
    tick(aws, opened + timedelta(days=1, minutes=1))  # the new warning (08:55) is due at once
    assert levels(aws, tid)[1:] == [("agent-a@staff.example", "resolution warning")]
    tick(aws, opened + timedelta(days=1, minutes=10))
    assert levels(aws, tid)[2:] == [("lead-1@staff.example", "resolution breach")]


def test_round_robin_skips_the_off_duty_and_the_full(aws: Env) -> None:
    desk_team(aws)
    put_staff(aws, "agent-c", "agent", max_open=1)
    put_staff(aws, "agent-night", "agent", calendar="24x7", active=False)
    opened = aws.now + SHANGHAI_MORNING
    assignees = [open_ticket(aws, at=opened + timedelta(minutes=n))["assignee"] for n in range(6)]
    # agent-c takes one ticket and is then at its cap of 1
    assert assignees == ["agent-a", "agent-b", "agent-c", "agent-a", "agent-b", "agent-a"]


def test_a_vip_ticket_goes_to_the_members_owner(aws: Env) -> None:
    desk_team(aws)
    put_staff(aws, "agent-z", "agent", queues=("vip-desk",))
    table = aws.table("LOYALTY_TABLE")
    table.put_item(
        Item={"pk": "T#demo#M#m-gold", "sk": "#PROFILE", "member_id": "m-gold", "owner": "agent-z"}
    )
    table.put_item(Item={"pk": "T#demo#M#m-gold", "sk": "#BALANCE", "tier": "gold"})
    opened = aws.now + SHANGHAI_MORNING
    vip = open_ticket(aws, at=opened, member_id="m-gold")
    assert (vip["assignee"], vip["sla"]["policy"]) == ("agent-z", "vip")
    assert vip["sla"]["first_response"]["due_at"] == "2026-03-11T01:30:00.000Z"  # 30 minutes
    table.put_item(Item={"pk": "T#demo#M#m-gold", "sk": "#BALANCE", "tier": "silver"})
    assert open_ticket(aws, at=opened, member_id="m-gold")["assignee"] == "agent-a"


def test_a_ticket_opened_at_night_waits_for_the_next_shift(aws: Env) -> None:
    desk_team(aws)
    ticket = open_ticket(aws)  # 20:00 Shanghai
    assert ticket["assignee"] is None
    tick(aws, aws.now + timedelta(hours=12, minutes=59))
    assert get(aws, ticket["ticket_id"])["assignee"] is None
    result = tick(aws, aws.now + SHANGHAI_MORNING)
    assert result["assigned"] == 1
    after = get(aws, ticket["ticket_id"])
    assert after["assignee"] == "agent-a"
    assert after["history"][-1] == {
        "at": "2026-03-11T01:00:00.000Z",
        "by": "system",
        "field": "assignee",
        "before": None,
        "after": "agent-a",
    }


def test_a_resolved_ticket_closes_after_seven_days_and_emits_resolved_once(aws: Env) -> None:
    desk_team(aws)
    opened = aws.now + SHANGHAI_MORNING
    tid = open_ticket(aws, at=opened, member_id="m-1")["ticket_id"]
    message(aws, tid, "reply", opened + timedelta(minutes=5))
    resolved_at = opened + timedelta(hours=1)
    patch(aws, tid, resolved_at, status="resolved")
    patch(aws, tid, resolved_at + timedelta(minutes=1), status="resolved")  # a repeat changes nothing
    tick(aws, resolved_at + timedelta(days=6, hours=23))
    assert get(aws, tid)["status"] == "resolved"
    assert tick(aws, resolved_at + timedelta(days=7))["closed"] == 1
    closed = get(aws, tid)
    assert closed["status"] == "closed" and closed["history"][-1]["by"] == "system"
    assert closed["metrics"]["one_touch"] is True
    assert [e["type"] for e in timeline(aws, "m-1")].count("ticket.resolved") == 1


def test_an_agent_filled_meanwhile_is_not_given_one_more(aws: Env) -> None:
    """Two storefronts open tickets at once: the cap holds although both read a free slot."""
    import boto3

    from infra.local.runtime import current_function
    from loyalty import aws as loyalty_aws

    desk_team(aws)
    put_staff(aws, "agent-a", "agent", locale="en", max_open=1)
    table = aws.table("LOYALTY_TABLE")
    raced: list[str] = []

    def fill_agent_a(model: Any, **kwargs: Any) -> None:
        # Another ticket takes agent-a's only slot between this request's read and its commit.
        if current_function.get() == "TicketsApi" and not raced:
            raced.append(model.name)
            table.put_item(Item={"pk": "T#demo#STAFF", "sk": "LOAD#agent-a", "kind": "agent_load", "open": 1})

    events = boto3._get_default_session().events
    events.register("before-call.dynamodb.TransactWriteItems", fill_agent_a)
    loyalty_aws.reset()
    try:
        ticket = open_ticket(aws, at=aws.now + SHANGHAI_MORNING)
    finally:
        events.unregister("before-call.dynamodb.TransactWriteItems", fill_agent_a)
        loyalty_aws.reset()
    assert raced and ticket["assignee"] == "agent-b"  # the commit for agent-a failed its cap: decided again
    load = table.get_item(Key={"pk": "T#demo#STAFF", "sk": "LOAD#agent-a"})["Item"]["open"]
    assert load == 1


def test_a_rejected_notice_holds_back_neither_the_assignment_nor_the_notices_sent(aws: Env) -> None:
    from loyalty import jobs
    from tests.integration.ses_faults import rejecting

    desk_team(aws)
    ticket = open_ticket(aws, priority="urgent")  # 20:00 Shanghai: waits for the 09:00 shift
    late = aws.now + SHANGHAI_MORNING + timedelta(hours=4)  # the schedule was down until 13:00
    with rejecting(lambda to, raw: "lead-1@staff.example" in to), pytest.raises(jobs.JobFailed):
        tick(aws, late)
    after = get(aws, ticket["ticket_id"], at=late)
    assert after["assignee"] == "agent-a"
    assert levels(aws, ticket["ticket_id"]) == [("agent-a@staff.example", "first_response warning")]
    tick(aws, late + timedelta(minutes=1))  # SES accepts again: the breach, then the managers
    assert sorted(levels(aws, ticket["ticket_id"])) == [
        ("agent-a@staff.example", "first_response warning"),
        ("boss-1@staff.example", "first_response managers"),
        ("lead-1@staff.example", "first_response breach"),
        ("lead@demo.example", "first_response managers"),
    ]
