"""Ticket statuses: every pair of statuses against the transition table, what each kind of
message does to each status, the reopen count and the automatic close."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from loyalty.errors import Conflict
from tickets import workflow
from tickets.domain import STATUSES, Change, MessageKind, Status, Ticket

pytestmark = pytest.mark.unit

ALLOWED: dict[Status, set[Status]] = {
    "new": {"open", "pending", "on_hold", "resolved"},
    "open": {"pending", "on_hold", "resolved"},
    "pending": {"open", "on_hold", "resolved"},
    "on_hold": {"open", "pending", "resolved"},
    "resolved": {"open", "closed"},
    "closed": set(),
}
PAIRS = [(a, b) for a in STATUSES for b in STATUSES]


@pytest.mark.parametrize(("current", "to"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_change_status_follows_the_table(current: Status, to: Status) -> None:
    if to == current:
        assert workflow.change_status(current, to) is False
    elif to in ALLOWED[current]:
        assert workflow.change_status(current, to) is True
    else:
        with pytest.raises(Conflict) as raised:
            workflow.change_status(current, to)
        assert (raised.value.code, raised.value.status, raised.value.field) == (
            "invalid_transition",
            409,
            "status",
        )


def test_the_table_has_36_pairs_with_15_changes() -> None:
    allowed = [(a, b) for a, b in PAIRS if a != b and b in workflow.TRANSITIONS[a]]
    assert len(PAIRS) == 36 and len(allowed) == 15


AFTER_MESSAGE: dict[tuple[Status, MessageKind], Status] = {
    ("new", "reply"): "open",
    ("pending", "customer"): "open",
    ("resolved", "customer"): "open",  # a reopen
}


@pytest.mark.parametrize("current", [s for s in STATUSES if s != "closed"])
@pytest.mark.parametrize("kind", ["reply", "note", "customer"])
def test_status_after_message(current: Status, kind: MessageKind) -> None:
    assert workflow.status_after_message(current, kind) == AFTER_MESSAGE.get((current, kind), current)


@pytest.mark.parametrize("kind", ["reply", "note", "customer"])
def test_no_message_on_a_closed_ticket(kind: MessageKind) -> None:
    with pytest.raises(Conflict) as raised:
        workflow.status_after_message("closed", kind)
    assert (raised.value.code, raised.value.status) == ("ticket_closed", 409)


T0 = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)


def change(minute: int, before: str, after: str, field: str = "status") -> Change:
    return Change(at=T0 + timedelta(minutes=minute), by="a1", field=field, before=before, after=after)


def test_reopen_count_counts_resolved_to_anything_but_closed() -> None:
    changes = [
        change(0, "new", "open"),
        change(1, "open", "resolved"),
        change(2, "resolved", "open"),  # 1
        change(3, "open", "resolved"),
        change(4, "resolved", "open", field="priority"),  # not a status change
        change(5, "resolved", "open"),  # 2
        change(6, "open", "pending"),
        change(7, "pending", "resolved"),
        change(8, "resolved", "closed"),  # a close is no reopen
    ]
    assert workflow.reopen_count(changes) == 2
    assert workflow.reopen_count([]) == 0


def ticket(status: Status, resolved_at: datetime | None, changes: tuple[Change, ...] = ()) -> Ticket:
    return Ticket(
        tenant_id="t1",
        ticket_id="TK1",
        subject="s",
        description="d",
        member_id=None,
        member_tier=None,
        priority="normal",
        category="other",
        queue="service",
        channel="web",
        status=status,
        assignee=None,
        created_at=T0,
        policy="default",
        policy_version=1,
        resolved_at=resolved_at,
        changes=changes,
    )


def test_close_at_is_seven_calendar_days_after_resolved() -> None:
    resolved = datetime(2026, 6, 15, 17, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    at = workflow.close_at(ticket("resolved", resolved))
    assert at is not None and at.tzinfo is UTC
    assert at == datetime(2026, 6, 22, 9, 30, tzinfo=UTC)
    assert timedelta(days=7) == workflow.AUTO_CLOSE_AFTER
    # from the history when the ticket has no resolved_at
    history = (change(0, "new", "resolved"), change(5, "resolved", "open"), change(9, "open", "resolved"))
    assert workflow.close_at(ticket("resolved", None, history)) == T0 + timedelta(days=7, minutes=9)


@pytest.mark.parametrize("status", [s for s in STATUSES if s != "resolved"])
def test_close_at_is_none_unless_resolved(status: Status) -> None:
    assert workflow.close_at(ticket(status, T0)) is None
