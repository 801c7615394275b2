"""API models for members: the profile update and the 360 view."""

from __future__ import annotations

from pydantic import BaseModel, Field

from loyalty.events.models import ConsentIn, MemberData


class MemberUpdate(MemberData):
    """PUT body: any subset of the profile fields; absent fields stay as they were."""


class ConsentOut(BaseModel):
    granted: bool
    at: str
    source: str | None = None


class ProfileOut(BaseModel):
    email: str | None = None
    phone: str | None = None
    name: str | None = None
    birthday: str | None = None
    time_zone: str | None = None
    locale: str | None = None
    owner: str | None = None
    consent: dict[str, ConsentOut] = Field(default_factory=dict)
    registered_at: str | None = None


class ExpiringOut(BaseModel):
    points: int
    expires_on: str


class PointsOut(BaseModel):
    available: int
    pending: int
    held: int
    lifetime_earned: int
    expiring: list[ExpiringOut] = Field(
        default_factory=list, description="lots expiring within the notice window, soonest first"
    )


class StatsOut(BaseModel):
    orders_count: int
    total_spend: str
    average_order_value: str
    first_order_at: str | None
    last_order_at: str | None
    orders_last_30_days: int


class RfmOut(BaseModel):
    recency: int = Field(ge=1, le=5)
    frequency: int = Field(ge=1, le=5)
    monetary: int = Field(ge=1, le=5)
    segment: str


class MemberOut(BaseModel):
    member_id: str
    erased: bool = Field(description="Personal data was erased on request")
    profile: ProfileOut
    tier: str
    points: PointsOut
    stats: StatsOut
    rfm: RfmOut | None
    lifecycle_stage: str
    tags: list[str]
    open_tickets: int


__all__ = ["ConsentIn", "MemberOut", "MemberUpdate"]
