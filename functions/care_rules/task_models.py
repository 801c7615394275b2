"""API models of care tasks, the member's send ledger and a rule's activity. Answers
carry ids, titles, figures and times, never a member's personal data."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from care_rules import tasks
from care_rules.tasks import Activity, LedgerEntry, Task, TaskStatus

Outcome = Literal["sent", "deferred", "skipped", "task", "points", "event"]


class TaskPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: tasks.ClosedStatus = Field(description="done or dismissed (a closed task stays closed)")
    outcome: str | None = Field(
        default=None, max_length=tasks.MAX_OUTCOME, description="What came of it, free text"
    )


class MemberSummaryOut(BaseModel):
    tier: str | None
    last_order_at: str | None = Field(description="The member's last order when the task was created")
    lifetime_spend: str = Field(description="Decimal string, the program's currency")
    open_tickets: int


class TaskOut(BaseModel):
    task_id: str
    member_id: str
    assignee: str = Field(description="The staff id the task is for")
    assigned_by: Literal["owner", "fallback"] = Field(
        description="owner: the member's owner; fallback: the rule's fallback"
    )
    rule_id: str
    rule_version: int
    title: str
    status: TaskStatus
    due_at: str
    created_at: str
    closed_at: str | None
    closed_by: str | None = Field(description="The key id of the storefront key that closed the task")
    outcome: str | None
    overdue: bool = Field(description="Open with its due time passed")
    summary: MemberSummaryOut


class TasksOut(BaseModel):
    tasks: list[TaskOut]
    next_cursor: str | None = Field(description="More tasks: pass as cursor")


class LedgerEntryOut(BaseModel):
    rule_id: str
    version: int = Field(description="The rule's version that fired")
    at: str
    outcome: Outcome
    reason: str | None = Field(description="Why a send was skipped or deferred; null for a firing")
    action_type: Literal["email", "task", "points", "event"] | None
    task_id: str | None = Field(description="The care task an outcome task created")


class LedgerOut(BaseModel):
    entries: list[LedgerEntryOut] = Field(description="Newest first")
    next_cursor: str | None = Field(description="More entries: pass as cursor")


class ActivityOut(BaseModel):
    rule_id: str
    from_: str = Field(alias="from", description="First program-local day counted (YYYY-MM-DD)")
    to: str = Field(description="Last program-local day counted (YYYY-MM-DD), inclusive")
    outcomes: dict[str, int] = Field(description="Ledger entries by outcome, every outcome")
    reasons: dict[str, int] = Field(description="Ledger entries by reason, every reason, over all outcomes")

    model_config = ConfigDict(populate_by_name=True)


def task_out(task: Task, now: datetime) -> TaskOut:
    return TaskOut(
        task_id=task.task_id,
        member_id=task.member_id,
        assignee=task.assignee,
        assigned_by=task.assigned_by,
        rule_id=task.rule_id,
        rule_version=task.rule_version,
        title=task.title,
        status=task.status,
        due_at=task.due_at,
        created_at=task.created_at,
        closed_at=task.closed_at,
        closed_by=task.closed_by,
        outcome=task.outcome,
        overdue=tasks.is_overdue(task, now),
        summary=MemberSummaryOut(
            tier=task.summary.tier,
            last_order_at=task.summary.last_order_at,
            lifetime_spend=task.summary.lifetime_spend,
            open_tickets=task.summary.open_tickets,
        ),
    )


def entry_out(entry: LedgerEntry) -> LedgerEntryOut:
    return LedgerEntryOut.model_validate(
        {
            "rule_id": entry.rule_id,
            "version": entry.version,
            "at": entry.at,
            "outcome": entry.outcome,
            "reason": entry.reason,
            "action_type": entry.action_type,
            "task_id": entry.task_id,
        }
    )


def activity_out(rule_id: str, first: str, last: str, counted: Activity) -> ActivityOut:
    return ActivityOut.model_validate(
        {
            "rule_id": rule_id,
            "from": first,
            "to": last,
            "outcomes": counted.outcomes,
            "reasons": counted.reasons,
        }
    )
