"""Care tasks as the people working them see them, and the send ledger and its activity
counters as they are read. Pure: no AWS here.

A care task is work for a person on the staff registry about one member, created by a
rule's ``task`` action: the member, the rule and version that fired, a title, a due
time and a short member summary as of its creation. It is ``open`` until its assignee
closes it as ``done`` or ``dismissed``, once: closing it again with the same status and
outcome changes nothing (a repeated request writes nothing), and any other close of a
closed task is refused (``TaskClosed``, a 409). An open task whose due time has passed
is overdue.

A ledger entry records one firing or skip of a rule for a member. Activity is counted
per program-local day: a range of timestamps selects the whole days they fall on, at
most ``MAX_ACTIVITY_DAYS`` apart."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from care_rules.layout import OUTCOMES, REASONS
from loyalty.errors import Conflict, ValidationFailed
from loyalty.timeutil import iso, local_day, parse_rfc3339

TaskStatus = Literal["open", "done", "dismissed"]
ClosedStatus = Literal["done", "dismissed"]
AssignedBy = Literal["owner", "fallback"]
CLOSED_STATUSES: tuple[str, ...] = ("done", "dismissed")
MAX_OUTCOME = 500  # characters of a task's outcome
MAX_ACTIVITY_DAYS = 400  # the longest activity range, in days between its first and last
DEFAULT_ACTIVITY_DAYS = 30  # days before ``to`` that ``from`` defaults to


class MemberSummary(BaseModel):
    """The member as the task's creation found them: tier, last order (RFC 3339),
    lifetime spend (a decimal string in the program's currency) and open tickets."""

    model_config = ConfigDict(frozen=True)

    tier: str | None
    last_order_at: str | None
    lifetime_spend: str
    open_tickets: int


class Task(BaseModel):
    model_config = ConfigDict(frozen=True)

    task_id: str
    tenant_id: str
    member_id: str
    assignee: str  # a staff id
    rule_id: str
    rule_version: int
    title: str
    status: TaskStatus
    due_at: str  # RFC 3339 UTC
    created_at: str
    summary: MemberSummary
    assigned_by: AssignedBy  # the member's owner, or the rule's fallback
    version: int = 1
    closed_at: str | None = None
    closed_by: str | None = None  # the key id of the storefront key that closed it
    outcome: str | None = None  # what came of it, free text


class TaskClosed(Conflict):
    """The task is closed already, with another status or outcome."""

    code = "task_closed"


def is_overdue(task: Task, now: datetime) -> bool:
    """Open with its due time before ``now``."""
    return task.status == "open" and parse_rfc3339(task.due_at) < now


def close(task: Task, status: str, outcome: str | None, at: datetime, by: str | None = None) -> Task:
    """``task`` closed as ``status`` (``done`` or ``dismissed``) with ``outcome`` at ``at``
    by the key ``by``: the next version. The task itself when it is closed that way
    already (nothing to write); ``TaskClosed`` when it is closed otherwise."""
    if status not in CLOSED_STATUSES:
        raise ValidationFailed("status must be done or dismissed", field="status")
    if outcome is not None and len(outcome) > MAX_OUTCOME:
        raise ValidationFailed(f"outcome must be at most {MAX_OUTCOME} characters", field="outcome")
    if task.status != "open":
        if task.status == status and task.outcome == outcome:
            return task
        raise TaskClosed(f"the task is {task.status} already", field="status")
    closed: dict[str, Any] = {
        "status": cast(ClosedStatus, status),
        "outcome": outcome,
        "closed_at": iso(at),
        "closed_by": by,
        "version": task.version + 1,
    }
    return task.model_copy(update=closed)


# The send ledger and activity ------------------------------------------------------


@dataclass(frozen=True)
class LedgerEntry:
    """One firing or skip of a rule for a member."""

    rule_id: str
    version: int  # the rule's version that fired
    at: str
    outcome: str  # one of layout.OUTCOMES
    reason: str | None  # one of layout.REASONS, None for a firing
    action_type: str | None  # email, task, points or event; None when no action ran
    task_id: str | None  # the task an outcome ``task`` created


@dataclass(frozen=True)
class DayRange:
    first: date
    last: date


def _day(text: str, name: str, tz: ZoneInfo) -> date:
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        return local_day(parse_rfc3339(text), tz)
    except ValueError as err:
        raise ValidationFailed(
            f"{name} must be a date (YYYY-MM-DD) or an RFC 3339 timestamp", field=name
        ) from err


def activity_days(start: str | None, end: str | None, now: datetime, tz: ZoneInfo) -> DayRange:
    """The program-local days from ``start`` through ``end`` (dates, or timestamps that
    select their whole day); ``end`` defaults to today, ``start`` to 30 days before it."""
    last = _day(end, "to", tz) if end else local_day(now, tz)
    first = _day(start, "from", tz) if start else last - timedelta(days=DEFAULT_ACTIVITY_DAYS)
    if first > last:
        raise ValidationFailed("from must not be after to", field="from")
    if (last - first).days > MAX_ACTIVITY_DAYS:
        raise ValidationFailed(f"from and to may be at most {MAX_ACTIVITY_DAYS} days apart", field="from")
    return DayRange(first, last)


@dataclass(frozen=True)
class Activity:
    outcomes: dict[str, int]  # every outcome, 0 when none
    reasons: dict[str, int]  # every reason over every outcome, 0 when none


def _counter(name: str) -> tuple[str, str | None] | None:
    """The outcome and reason a counter attribute counts; None for other attributes."""
    for outcome in OUTCOMES:
        if name == f"c_{outcome}":
            return outcome, None
        prefix = f"c_{outcome}_"
        if name.startswith(prefix) and name[len(prefix) :] in REASONS:
            return outcome, name[len(prefix) :]
    return None


def sum_activity(counters: Iterable[Mapping[str, Any]]) -> Activity:
    """The sum of activity counter items (any shards and days)."""
    outcomes = dict.fromkeys(OUTCOMES, 0)
    reasons = dict.fromkeys(REASONS, 0)
    for item in counters:
        for name, value in item.items():
            counted = _counter(name)
            if counted is None:
                continue
            outcome, reason = counted
            if reason is None:
                outcomes[outcome] += int(value)
            else:
                reasons[reason] += int(value)
    return Activity(outcomes, reasons)
