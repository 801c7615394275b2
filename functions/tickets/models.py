"""API models for service tickets: the request and response bodies of the tickets API. Their
priority vocabulary is the ticket rules' own (``tickets.logic.Priority``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from tickets.logic import Priority

MemberRef = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@/+\-]+$")]


class TicketIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    description: Annotated[str, StringConstraints(max_length=5000)] = ""
    member_id: MemberRef | None = None
    priority: Priority = "normal"


class ReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    author: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    body: Annotated[str, StringConstraints(min_length=1, max_length=5000)]


class TicketOut(BaseModel):
    ticket_id: str
    subject: str
    description: str
    member_id: str | None
    priority: Priority
    status: Literal["open"]
    channel: str
    created_at: str
    first_response_due_at: str = Field(description="When the first reply is due (SLA)")
    first_response_at: str | None
    escalated_at: str | None
