"""API models of the event intake and the timeline: the request (one event or a
batch), the per-event results and the timeline page. The event schemas
themselves are shared with every consumer of the event log
(``loyalty.events.models``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Discriminator, Field, RootModel, Tag

from loyalty.events.models import EVENT_TYPES, EventIn, Strict

__all__ = [
    "UNION_TAGS",
    "EventBatch",
    "EventIn",
    "EventResult",
    "EventStatus",
    "EventsRequest",
    "EventsResponse",
    "FieldError",
    "TimelineEvent",
    "TimelineResponse",
]

# Discriminator values pydantic puts into error locations.
UNION_TAGS = EVENT_TYPES | {"event", "batch"}


class EventBatch(Strict):
    events: list[dict[str, Any]] = Field(
        min_length=1, max_length=100, description="Up to 100 events, each shaped like a single event"
    )


def _request_kind(value: Any) -> str:
    return "batch" if isinstance(value, dict) and "events" in value else "event"


class EventsRequest(
    RootModel[
        Annotated[
            Annotated[EventIn, Tag("event")] | Annotated[EventBatch, Tag("batch")],
            Discriminator(_request_kind),
        ]
    ]
):
    """One event, or ``{"events": [...]}``."""


EventStatus = Literal["accepted", "duplicate", "conflict", "rejected"]


class FieldError(BaseModel):
    code: str
    message: str
    field: str | None = None


class EventResult(BaseModel):
    event_id: str | None
    status: EventStatus
    errors: list[FieldError] = Field(default_factory=list)
    warnings: list[FieldError] = Field(
        default_factory=list,
        description="stored, but not everything applies: currency_not_convertible (no exchange rate "
        "to the program's currency: the order earns no points and stays out of spend)",
    )


class EventsResponse(BaseModel):
    results: list[EventResult]


class TimelineEvent(BaseModel):
    event_id: str
    type: str = Field(
        description="A storefront event type, or member.stage_changed: recorded by the system "
        "(channel system) when the lifecycle stage changes with time, data {from, to}"
    )
    occurred_at: str
    channel: str
    storefront_id: str | None = Field(
        default=None, description="The storefront that sent the event (null for system events)"
    )
    data: dict[str, Any]


class TimelineResponse(BaseModel):
    events: list[TimelineEvent]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last page")
