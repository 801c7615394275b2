"""API models for service tickets: the request and response bodies of the tickets API.
Their vocabularies (priority, category, status, message kind) are the ticket rules' own
(``tickets.domain``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from loyalty.staff import IDENTIFIER_PATTERN
from tickets.domain import DEFAULT_QUEUE, Category, MessageKind, Priority, Status

MemberRef = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@/+\-]+$")]
Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN)]
Author = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Body = Annotated[str, StringConstraints(min_length=1, max_length=5000)]


class TicketIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    description: Annotated[str, StringConstraints(max_length=5000)] = ""
    member_id: MemberRef | None = None
    priority: Priority = "normal"
    category: Category = "other"
    queue: Identifier = Field(default=DEFAULT_QUEUE, description="The queue that works the ticket")


class TicketPatchIn(BaseModel):
    """What a PATCH changes: only the fields it names. ``assignee: null`` unassigns
    (the ticket is assigned again by the next timer run)."""

    model_config = ConfigDict(extra="forbid")

    status: Status | None = None
    priority: Priority | None = None
    category: Category | None = None
    assignee: Identifier | None = None
    by: Identifier | None = Field(
        default=None, description="Who made the change (a staff id), for the history"
    )


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: MessageKind = Field(
        description="reply: public agent reply; note: internal; customer: from the customer"
    )
    author: Author
    body: Body


class ReplyIn(BaseModel):
    """A public agent reply (``POST /v1/tickets/{id}/replies``, the same as kind reply)."""

    model_config = ConfigDict(extra="forbid")

    author: Author
    body: Body


class TargetOut(BaseModel):
    due_at: str | None = Field(description="When the target is (or was) due; null while not running")
    achieved_at: str | None
    breached: bool
    business_minutes: int = Field(description="Running business minutes so far (pauses excluded)")
    calendar_minutes: int = Field(description="Running elapsed minutes so far (pauses excluded)")
    paused: bool


class SlaOut(BaseModel):
    policy: str
    policy_version: int
    first_response: TargetOut
    next_reply: TargetOut
    resolution: TargetOut


class MinutesOut(BaseModel):
    business: int
    calendar: int


class MetricsOut(BaseModel):
    first_response: MinutesOut | None
    resolution: MinutesOut | None
    longest_reply_wait: MinutesOut | None
    breached: dict[str, bool]
    achieved: dict[str, bool]
    reopened: int
    one_touch: bool = Field(description="Resolved with exactly one public reply and never reopened")
    csat: int | None


class MessageOut(BaseModel):
    message_id: str
    kind: MessageKind
    author: str
    body: str
    at: str


class ChangeOut(BaseModel):
    at: str
    by: str
    field: str
    before: str | None
    after: str | None


class TicketOut(BaseModel):
    ticket_id: str
    subject: str
    description: str
    member_id: str | None
    priority: Priority
    category: Category
    queue: str
    status: Status
    assignee: str | None
    channel: str
    created_at: str
    resolved_at: str | None
    reopened: int
    csat: int | None
    sla: SlaOut
    metrics: MetricsOut
    messages: list[MessageOut]
    history: list[ChangeOut]


class TicketSummaryOut(BaseModel):
    ticket_id: str
    status: Status
    priority: Priority
    category: Category
    queue: str
    assignee: str | None
    member_id: str | None
    created_at: str
    policy: str
    next_due: str | None = Field(description="The earliest due time of a running target")
    breaching: bool = Field(description="A running target is past due or within its warning lead")
    reopened: int


class TicketPage(BaseModel):
    items: list[TicketSummaryOut]
    next_cursor: str | None
