"""The storefront event schemas: what a storefront may send to the event log, one
model per event type, each with its ``data``. Intake validates requests with
them and the API documents them; the stored form of an event is
``loyalty.events.stored.StoredEvent``. Strict: an unknown field is an error.
Money is a decimal string, never a float.

``EventIn`` is the union of every event a storefront may send, discriminated by
``type``; ``EVENT_TYPES`` names them. Events the system records itself
(``member.stage_changed``, points notices) are not among them: a storefront
cannot send one."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from loyalty.timeutil import Timestamp
from loyalty.types import Currency, Identifier, Money

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
    granted: bool = Field(description="false records a withdrawal; its timestamp is kept")
    at: Timestamp
    source: Channel | None = None


def _check_birthday(value: str | None) -> str | None:
    if value is None:
        return value
    year = 2000 if value.startswith("--") else int(value[:4])  # 2000: a leap year admits --02-29
    try:
        date(year, int(value[-5:-3]), int(value[-2:]))
    except ValueError as err:
        raise ValueError("birthday is not a calendar date") from err
    return value


def _check_time_zone(value: str | None) -> str | None:
    if value is None:
        return value
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError("time_zone must be an IANA time zone such as Europe/Berlin") from err
    return value


Email = Annotated[str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Phone = Annotated[str, StringConstraints(pattern=r"^\+[1-9]\d{6,14}$")]


class MemberData(Strict):
    """Profile fields; absent fields are left as they were."""

    email: Email | None = None
    phone: Phone | None = Field(default=None, description="E.164, e.g. +4915112345678")
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    birthday: Annotated[Birthday | None, AfterValidator(_check_birthday)] = Field(
        default=None, description="YYYY-MM-DD, or --MM-DD without a year"
    )
    time_zone: Annotated[
        Annotated[str, StringConstraints(max_length=64)] | None, AfterValidator(_check_time_zone)
    ] = None
    locale: Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")] | None = None
    consent: dict[Literal["email", "sms"], ConsentIn] | None = None
    owner: Identifier | None = Field(default=None, description="The sales rep who cares for this member")


class OrderCancelledData(Strict):
    order_id: Identifier
    reason: Annotated[str, StringConstraints(max_length=200)] | None = None


class PageViewedData(Strict):
    url: Annotated[str, StringConstraints(min_length=1, max_length=2048)]
    title: Annotated[str, StringConstraints(max_length=300)] | None = None
    referrer: Annotated[str, StringConstraints(max_length=2048)] | None = None


class CartItem(Strict):
    sku: Identifier
    quantity: int = Field(ge=0, le=10_000)
    unit_price: Money


class CartUpdatedData(Strict):
    cart_id: Identifier
    currency: Currency
    items: list[CartItem] = Field(default_factory=list, max_length=500)


class ReviewSubmittedData(Strict):
    review_id: Identifier
    sku: Identifier | None = None
    rating: int = Field(ge=1, le=5)
    text: Annotated[str, StringConstraints(max_length=5000)] | None = None


class SurveyAnsweredData(Strict):
    survey_id: Identifier
    kind: Literal["nps", "csat"]
    score: int = Field(description="NPS 0-10, CSAT 1-5")
    ticket_id: Identifier | None = None
    comment: Annotated[str, StringConstraints(max_length=5000)] | None = None

    @model_validator(mode="after")
    def _score_in_scale(self) -> SurveyAnsweredData:
        low, high = (0, 10) if self.kind == "nps" else (1, 5)
        if not low <= self.score <= high:
            raise ValueError(f"{self.kind} score must be from {low} to {high}")
        return self


class ReferralCompletedData(Strict):
    referral_id: Identifier
    referred_member_id: Identifier


class EventBase(Strict):
    event_id: Identifier = Field(
        description="Client-unique id; resending it is safe. Ids starting with sys: are reserved"
    )
    occurred_at: Timestamp = Field(description="RFC 3339 with offset")
    member_id: Identifier
    channel: Channel


class OrderPlaced(EventBase):
    type: Literal["order.placed"]
    data: OrderPlacedData


class OrderRefunded(EventBase):
    type: Literal["order.refunded"]
    data: OrderRefundedData


class OrderCancelled(EventBase):
    type: Literal["order.cancelled"]
    data: OrderCancelledData


class MemberRegistered(EventBase):
    type: Literal["member.registered"]
    data: MemberData


class MemberUpdated(EventBase):
    type: Literal["member.updated"]
    data: MemberData


class PageViewed(EventBase):
    type: Literal["page.viewed"]
    data: PageViewedData


class CartUpdated(EventBase):
    type: Literal["cart.updated"]
    data: CartUpdatedData


class ReviewSubmitted(EventBase):
    type: Literal["review.submitted"]
    data: ReviewSubmittedData


class SurveyAnswered(EventBase):
    type: Literal["survey.answered"]
    data: SurveyAnsweredData


class ReferralCompleted(EventBase):
    type: Literal["referral.completed"]
    data: ReferralCompletedData


EVENT_MODELS = (
    MemberRegistered,
    MemberUpdated,
    OrderPlaced,
    OrderRefunded,
    OrderCancelled,
    PageViewed,
    CartUpdated,
    ReviewSubmitted,
    SurveyAnswered,
    ReferralCompleted,
)
EventIn = Annotated[
    MemberRegistered
    | MemberUpdated
    | OrderPlaced
    | OrderRefunded
    | OrderCancelled
    | PageViewed
    | CartUpdated
    | ReviewSubmitted
    | SurveyAnswered
    | ReferralCompleted,
    Field(discriminator="type"),
]
EVENT_TYPES = frozenset(get_args(model.model_fields["type"].annotation)[0] for model in EVENT_MODELS)
