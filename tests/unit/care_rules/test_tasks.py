"""Care tasks: a task closes once (a repeat is a no-op, another close a conflict), open
is no target, overdue means open past the due time; activity ranges are program-local
days, bounded; counters sum by outcome and by reason."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import get_args
from zoneinfo import ZoneInfo

import pytest

from care_rules import layout, tasks
from care_rules.task_models import Outcome
from care_rules.tasks import MemberSummary, Task, TaskClosed
from loyalty.errors import Conflict, ValidationFailed

pytestmark = pytest.mark.unit
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")


def _task(**changes: object) -> Task:
    fields: dict[str, object] = {
        "task_id": "ct-1",
        "tenant_id": "demo",
        "member_id": "m-1",
        "assignee": "rep-1",
        "rule_id": "win-back-90d",
        "rule_version": 2,
        "title": "Call the member",
        "status": "open",
        "due_at": "2026-03-12T09:00:00.000Z",
        "created_at": "2026-03-09T09:00:00.000Z",
        "summary": MemberSummary(
            tier="gold", last_order_at="2025-11-01T10:00:00.000Z", lifetime_spend="1250.00", open_tickets=1
        ),
        "assigned_by": "owner",
    }
    return Task(**{**fields, **changes})  # type: ignore[arg-type]


def test_closing_an_open_task_is_its_next_version() -> None:
    closed = tasks.close(_task(), "done", "called, will visit", NOW, "key-1")
    assert (closed.status, closed.outcome, closed.closed_at, closed.closed_by, closed.version) == (
        "done",
        "called, will visit",
        "2026-03-10T12:00:00.000Z",
        "key-1",
        2,
    )
    assert closed.summary == _task().summary and closed.due_at == _task().due_at
    assert tasks.close(_task(), "dismissed", None, NOW).status == "dismissed"


def test_closing_again_the_same_way_is_a_no_op() -> None:
    closed = tasks.close(_task(), "done", "called", NOW, "key-1")
    later = NOW + timedelta(hours=1)
    assert tasks.close(closed, "done", "called", later, "key-2") is closed


@pytest.mark.parametrize(("status", "outcome"), [("dismissed", "called"), ("done", "something else")])
def test_a_closed_task_refuses_another_close(status: str, outcome: str) -> None:
    closed = tasks.close(_task(), "done", "called", NOW)
    with pytest.raises(TaskClosed) as refused:
        tasks.close(closed, status, outcome, NOW)
    assert isinstance(refused.value, Conflict)
    assert (refused.value.status, refused.value.code, refused.value.field) == (409, "task_closed", "status")


@pytest.mark.parametrize("status", ["open", "closed", ""])
def test_open_or_anything_else_is_not_a_target(status: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        tasks.close(_task(), status, None, NOW)
    assert refused.value.field == "status"


def test_an_outcome_is_at_most_500_characters() -> None:
    assert tasks.close(_task(), "done", "x" * 500, NOW).outcome == "x" * 500
    with pytest.raises(ValidationFailed) as refused:
        tasks.close(_task(), "done", "x" * 501, NOW)
    assert refused.value.field == "outcome"


def test_overdue_is_open_with_the_due_time_passed() -> None:
    due = datetime(2026, 3, 12, 9, 0, tzinfo=UTC)
    task = _task()
    assert not tasks.is_overdue(task, due - timedelta(milliseconds=1))
    assert not tasks.is_overdue(task, due)
    assert tasks.is_overdue(task, due + timedelta(milliseconds=1))
    closed = tasks.close(task, "done", None, NOW)
    assert not tasks.is_overdue(closed, due + timedelta(days=30))


def test_activity_days_are_program_local_and_default_to_the_last_30_days() -> None:
    assert tasks.activity_days(None, None, NOW, BERLIN) == tasks.DayRange(date(2026, 2, 8), date(2026, 3, 10))
    late = datetime(2026, 3, 10, 23, 30, tzinfo=UTC)  # already the 11th in Berlin
    assert tasks.activity_days(None, None, late, BERLIN).last == date(2026, 3, 11)
    chosen = tasks.activity_days("2026-03-01T23:30:00Z", "2026-03-05", NOW, BERLIN)
    assert chosen == tasks.DayRange(date(2026, 3, 2), date(2026, 3, 5))
    one_day = tasks.activity_days("2026-03-05T08:00:00+08:00", "2026-03-05T08:00:00+08:00", NOW, BERLIN)
    assert one_day == tasks.DayRange(date(2026, 3, 5), date(2026, 3, 5))
    assert tasks.activity_days("2025-02-03", "2026-03-10", NOW, BERLIN).first == date(2025, 2, 3)  # 400 days


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("2025-02-02", "2026-03-10", "from"),  # 401 days apart
        ("2026-03-06", "2026-03-05", "from"),  # reversed
        ("yesterday", None, "from"),
        (None, "2026-13-01", "to"),
        (None, "2026-03-05T10:00:00", "to"),  # no offset
    ],
)
def test_bad_activity_ranges_are_refused(start: str | None, end: str | None, field: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        tasks.activity_days(start, end, NOW, BERLIN)
    assert refused.value.field == field


def test_counters_sum_by_outcome_and_reason_over_items() -> None:
    counted = tasks.sum_activity(
        [
            {"pk": "x", "sk": "2026-03-01", "c_sent": 3, "c_skipped": 2, "c_skipped_consent": 2},
            {"pk": "y", "sk": "2026-03-02", "c_skipped": 1, "c_skipped_frequency_cap": 1, "c_task": 4},
            {"pk": "z", "sk": "2026-03-02", "c_deferred": 1, "c_deferred_quiet_hours": 1, "c_other": 9},
        ]
    )
    assert counted.outcomes == {"sent": 3, "deferred": 1, "skipped": 3, "task": 4, "points": 0, "event": 0}
    assert counted.reasons == {
        **dict.fromkeys(layout.REASONS, 0),
        "consent": 2,
        "frequency_cap": 1,
        "quiet_hours": 1,
    }


def test_the_api_names_every_outcome_of_the_ledger() -> None:
    assert get_args(Outcome) == layout.OUTCOMES
    assert set(get_args(tasks.TaskStatus)) == set(layout.TASK_STATUSES)
