"""API output models for the member view."""

from __future__ import annotations

from pydantic import BaseModel


class PointsOut(BaseModel):
    available: int
    pending: int
    held: int
    lifetime_earned: int


class StatsOut(BaseModel):
    orders_count: int
    total_spend: str
    average_order_value: str
    first_order_at: str | None
    last_order_at: str | None


class ProfileOut(BaseModel):
    name: str | None = None
    email: str | None = None
    birthday: str | None = None
    time_zone: str | None = None
    locale: str | None = None


class MemberOut(BaseModel):
    member_id: str
    tier: str
    profile: ProfileOut | None
    points: PointsOut
    stats: StatsOut
