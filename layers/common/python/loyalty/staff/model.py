"""What a person on the staff registry is: the body of a save and the stored record.

Pure: no AWS. ``StaffMember`` is what an admin sends, validated whole (strict: an
unknown field is an error): a name, an email address of the usual shape, a role
(``rep``, ``agent``, ``lead``, ``manager``), at most 20 distinct queue identifiers,
an IANA time zone, a locale (``zh-CN`` or ``en``; left out, the program's),
``active`` (``false`` retires the person; nobody is ever deleted), the business-hours
``calendar`` the person works (a calendar name of config/service.yaml, default
``cn-business``) and ``max_open``, the most open tickets they are given (1 to 500,
default 20). ``Staff`` is the stored record: the same fields with the locale settled,
the id, the version (1 on creation, one more per change) and when it was saved; a
record saved before ``calendar`` and ``max_open`` existed reads with their defaults.

The calendar name is checked for its shape only: staff are saved by the care-rules
function, which does not read the service configuration. A name the configuration
does not define means the person is never on duty (tickets are never assigned to them).

A person's name and email address are personal data: they are stored on the
person's item and answered by the admin API, never logged nor put in the audit
trail (which keeps the version, role and active flag)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated, Any, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"  # staff ids and queue ids
MAX_QUEUES = 20
ROLES = ("rep", "agent", "lead", "manager")
LOCALES = ("zh-CN", "en")
FALLBACK_LOCALE = "en"  # when the program's locale is neither of LOCALES
CALENDAR_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"  # a calendar name of config/service.yaml
DEFAULT_CALENDAR = "cn-business"
DEFAULT_MAX_OPEN = 20
MAX_OPEN_LIMIT = 500

Role = Literal["rep", "agent", "lead", "manager"]
Locale = Literal["zh-CN", "en"]
ReportPeriod = Literal["daily", "weekly", "monthly"]
REPORT_PERIODS: tuple[ReportPeriod, ...] = ("daily", "weekly", "monthly")
Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN)]
# The same shape as a member's email address (loyalty.events.models).
Email = Annotated[str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


def _check_time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError("time_zone must be an IANA time zone such as Asia/Shanghai") from err
    return value


def _distinct(queues: list[str]) -> list[str]:
    if len(set(queues)) != len(queues):
        raise ValueError("queues must not repeat")
    return queues


def _distinct_periods(periods: list[ReportPeriod]) -> list[ReportPeriod]:
    if len(set(periods)) != len(periods):
        raise ValueError("reports must not repeat")
    return sorted(periods, key=REPORT_PERIODS.index)


class StaffMember(BaseModel):
    """A person on the staff registry, as an admin saves them."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    email: Email
    role: Role
    queues: Annotated[list[Identifier], Field(max_length=MAX_QUEUES), AfterValidator(_distinct)] = Field(
        default_factory=list, description="The queues the person works (tickets), at most 20"
    )
    time_zone: Annotated[
        str, StringConstraints(min_length=1, max_length=64), AfterValidator(_check_time_zone)
    ] = Field(description="IANA time zone, e.g. Asia/Shanghai")
    locale: Locale | None = Field(default=None, description="zh-CN or en; left out, the program's locale")
    active: bool = Field(default=True, description="false retires the person (never deleted)")
    calendar: Annotated[str, StringConstraints(pattern=CALENDAR_PATTERN)] = Field(
        default=DEFAULT_CALENDAR,
        description="The business-hours calendar of config/service.yaml the person works "
        "(an unknown name: never on duty)",
    )
    max_open: Annotated[int, Field(strict=True, ge=1, le=MAX_OPEN_LIMIT)] = Field(
        default=DEFAULT_MAX_OPEN, description="The most open tickets the person is assigned, 1 to 500"
    )
    reports: Annotated[list[ReportPeriod], AfterValidator(_distinct_periods)] = Field(
        default_factory=lambda: list(REPORT_PERIODS),
        description="The KPI reports a manager receives by email: daily, weekly, monthly (default all)",
    )


@dataclass(frozen=True)
class Staff:
    """A stored person: what was saved, the locale settled, with id, version and time."""

    staff_id: str
    name: str
    email: str
    role: Role
    queues: tuple[str, ...]
    time_zone: str
    locale: Locale
    active: bool
    version: int
    saved_at: str
    calendar: str = DEFAULT_CALENDAR
    max_open: int = DEFAULT_MAX_OPEN
    reports: tuple[str, ...] = REPORT_PERIODS

    def fields(self) -> dict[str, Any]:
        """What a save sets (everything but the id, version and time): equal fields
        mean a repeated save."""
        found = asdict(self)
        for name in ("staff_id", "version", "saved_at"):
            del found[name]
        found["queues"] = list(self.queues)
        found["reports"] = list(self.reports)
        return found


def settled_locale(program_locale: str) -> Locale:
    """The locale of a person saved without one: the program's, when it is one of ours."""
    return cast(Locale, program_locale if program_locale in LOCALES else FALLBACK_LOCALE)


def revise(
    before: Staff | None, staff_id: str, person: StaffMember, program_locale: str, at: str
) -> Staff | None:
    """The record a save of ``person`` stores: version 1 for a new id, the next version
    for a change; None when ``person`` equals what is stored (nothing to write)."""
    after = Staff(
        staff_id=staff_id,
        name=person.name,
        email=person.email,
        role=person.role,
        queues=tuple(person.queues),
        time_zone=person.time_zone,
        locale=person.locale or settled_locale(program_locale),
        active=person.active,
        version=1 if before is None else before.version + 1,
        saved_at=at,
        calendar=person.calendar,
        max_open=person.max_open,
        reports=tuple(person.reports),
    )
    if before is not None and before.fields() == after.fields():
        return None
    return after


def matches(
    person: Staff, role: str | None = None, queue: str | None = None, active: bool | None = None
) -> bool:
    """Whether ``person`` passes a list's filters (None: any)."""
    return (
        (role is None or person.role == role)
        and (queue is None or queue in person.queues)
        and (active is None or person.active is active)
    )
