"""API models of the staff registry. The body of a save is ``loyalty.staff.StaffMember``;
answers carry the stored person (``loyalty.staff.Staff``) with its id and version."""

from __future__ import annotations

from pydantic import BaseModel, Field

from loyalty.staff import Locale, Role, Staff


class StaffOut(BaseModel):
    staff_id: str
    name: str
    email: str
    role: Role
    queues: list[str]
    time_zone: str
    locale: Locale
    active: bool = Field(description="false: retired (kept, with its history in the audit trail)")
    version: int = Field(ge=1, description="1 on creation, one more for each change")
    saved_at: str = Field(description="When this version was saved (RFC 3339)")
    calendar: str = Field(description="The business-hours calendar the person works")
    max_open: int = Field(ge=1, description="The most open tickets the person is assigned")
    reports: list[str] = Field(description="The KPI reports emailed to the person: daily, weekly, monthly")


class StaffListOut(BaseModel):
    staff: list[StaffOut] = Field(description="The people passing the filters, by id")
    next_cursor: str | None = Field(description="More people: pass as cursor")


def staff_out(person: Staff) -> StaffOut:
    return StaffOut(
        staff_id=person.staff_id,
        name=person.name,
        email=person.email,
        role=person.role,
        queues=list(person.queues),
        time_zone=person.time_zone,
        locale=person.locale,
        active=person.active,
        version=person.version,
        saved_at=person.saved_at,
        calendar=person.calendar,
        max_open=person.max_open,
        reports=list(person.reports),
    )
