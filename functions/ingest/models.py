"""API models for storefront events. Money is a decimal string, never a float."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    RootModel,
    StringConstraints,
    Tag,
)

Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@/+\-]+$")
]
Money = Annotated[str, StringConstraints(pattern=r"^\d{1,12}(\.\d{1,4})?$")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Birthday = Annotated[str, StringConstraints(pattern=r"^(\d{4}|-)-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")]
Channel = Literal["web", "app", "store", "service"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrderItem(Strict):
    sku: Identifier
    category: Annotated[str, StringConstraints(max_length=64)] | None = None
    quantity: int = Field(ge=1, le=10_000)
    unit_price: Money


class OrderPlacedData(Strict):
    order_id: Identifier
    currency: Currency
    total: Money
    items: list[OrderItem] = Field(default_factory=list, max_length=500)


class OrderRefundedData(Strict):
    order_id: Identifier
    refund_id: Identifier
    amount: Money
    currency: Currency | None = None


class ConsentIn(Strict):
    granted: bool
    at: AwareDatetime
    source: Channel | None = None


class MemberData(Strict):
    email: Annotated[str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = (
        None
    )
    name: Annotated[str, StringConstraints(max_length=200)] | None = None
    birthday: Birthday | None = Field(default=None, description="YYYY-MM-DD, or --MM-DD without a year")
    time_zone: Annotated[str, StringConstraints(max_length=64)] | None = None
    locale: Annotated[str, StringConstraints(max_length=35)] | None = None
    consent: dict[Literal["email", "sms"], ConsentIn] | None = None


class EventBase(Strict):
    event_id: Identifier = Field(description="Client-unique id; resending it is safe")
    occurred_at: AwareDatetime = Field(description="RFC 3339 with offset")
    member_id: Identifier
    channel: Channel


class OrderPlaced(EventBase):
    type: Literal["order.placed"]
    data: OrderPlacedData


class OrderRefunded(EventBase):
    type: Literal["order.refunded"]
    data: OrderRefundedData


class MemberRegistered(EventBase):
    type: Literal["member.registered"]
    data: MemberData


class MemberUpdated(EventBase):
    type: Literal["member.updated"]
    data: MemberData


EventIn = Annotated[
    OrderPlaced | OrderRefunded | MemberRegistered | MemberUpdated, Field(discriminator="type")
]


EVENT_TYPES = frozenset({"order.placed", "order.refunded", "member.registered", "member.updated"})
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


class EventsResponse(BaseModel):
    results: list[EventResult]
