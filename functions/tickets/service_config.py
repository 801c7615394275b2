"""The service desk's configuration (config/service.yaml), validated: business-hours
calendars and SLA policies.

Guarantees: a validated :class:`ServiceConfig` names only known calendars, each with a
valid IANA time zone and ordered, non-overlapping opening periods, and ends its ordered
policies with a catch-all, so :func:`match_policy` always finds one (the first that
matches). Unknown keys are refused; each error names its field. Pure: no I/O.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tickets.calendar import BusinessCalendar, Period
from tickets.domain import Category, Priority

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]
Minutes = Annotated[int, Field(ge=1, le=60 * 24 * 90)]
PERIOD = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-(([01]\d|2[0-3]):([0-5]\d)|24:00)$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_period(text: str) -> Period:
    """``"09:00-12:00"`` as minutes of the day, (540, 720); the end may be ``24:00``."""
    match = PERIOD.match(text)
    if match is None:
        raise ValueError(f"period {text!r} is not HH:MM-HH:MM")
    start_text, end_text = text.split("-")
    start = int(start_text[:2]) * 60 + int(start_text[3:])
    end = int(end_text[:2]) * 60 + int(end_text[3:])
    if start >= end:
        raise ValueError(f"period {text!r} ends before it starts")
    return start, end


class HolidaySource(Strict):
    """Public holidays and make-up workdays from the ``holidays`` package."""

    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    subdiv: str | None = None


class CalendarConfig(Strict):
    time_zone: str = "UTC"
    always_open: bool = False
    hours: dict[Weekday, list[str]] = Field(default_factory=dict, description="opening periods per weekday")
    holidays: HolidaySource | None = None
    makeup_day: Weekday = Field(default="mon", description="whose hours a make-up workday or open date has")
    closed_dates: list[date] = []
    open_dates: list[date] = []

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown IANA time zone {value!r}") from error
        return value

    @field_validator("hours")
    @classmethod
    def _periods(cls, hours: dict[Weekday, list[str]]) -> dict[Weekday, list[str]]:
        for day, texts in hours.items():
            periods = [parse_period(text) for text in texts]
            for (_, end), (start, _) in zip(periods, periods[1:], strict=False):
                if start < end:
                    raise ValueError(f"{day}: periods overlap or are not in order")
        return hours

    @model_validator(mode="after")
    def _consistent(self) -> CalendarConfig:
        if self.always_open and (self.hours or self.holidays or self.closed_dates or self.open_dates):
            raise ValueError("always_open: a 24x7 calendar takes no hours, holidays or dates")
        if not self.always_open and not any(self.hours.values()):
            raise ValueError("hours: a calendar needs opening periods (or always_open)")
        both = sorted(set(self.closed_dates) & set(self.open_dates))
        if both:
            raise ValueError(f"closed_dates: {both[0]} is also in open_dates")
        return self

    def calendar(self) -> BusinessCalendar:
        if self.always_open:
            return BusinessCalendar.twenty_four_seven(self.time_zone)
        week = {
            WEEKDAYS.index(day): tuple(parse_period(t) for t in texts) for day, texts in self.hours.items()
        }
        return BusinessCalendar(
            zone=self.time_zone,
            week=week,
            country=self.holidays.country if self.holidays else None,
            subdiv=self.holidays.subdiv if self.holidays else None,
            makeup_weekday=WEEKDAYS.index(self.makeup_day),
            closed_dates=frozenset(self.closed_dates),
            open_dates=frozenset(self.open_dates),
        )


class Conditions(Strict):
    """All given conditions must hold; a condition lists the values it accepts."""

    priority: list[Priority] | None = Field(default=None, min_length=1)
    tier: list[Name] | None = Field(default=None, min_length=1)
    channel: list[Name] | None = Field(default=None, min_length=1)
    category: list[Category] | None = Field(default=None, min_length=1)

    @property
    def catch_all(self) -> bool:
        return all(v is None for v in (self.priority, self.tier, self.channel, self.category))


class Policy(Strict):
    name: Name
    version: int = Field(default=1, ge=1)
    when: Conditions = Conditions()
    calendar: Name
    first_response: Minutes = Field(description="business minutes from creation to the first public reply")
    next_reply: Minutes = Field(
        description="business minutes from a customer message to the next public reply"
    )
    resolution: Minutes = Field(description="business minutes from creation to resolved, pending excluded")

    def matches(self, priority: str, tier: str | None, channel: str, category: str) -> bool:
        when = self.when
        return (
            (when.priority is None or priority in when.priority)
            and (when.tier is None or tier in when.tier)
            and (when.channel is None or channel in when.channel)
            and (when.category is None or category in when.category)
        )


class ServiceConfig(Strict):
    calendars: dict[Name, CalendarConfig] = Field(min_length=1)
    policies: list[Policy] = Field(min_length=1)

    @model_validator(mode="after")
    def _policies(self) -> ServiceConfig:
        names = [p.name for p in self.policies]
        for index, policy in enumerate(self.policies):
            if policy.calendar not in self.calendars:
                raise ValueError(f"policies.{index}.calendar: unknown calendar {policy.calendar!r}")
            if names.index(policy.name) != index:
                raise ValueError(f"policies.{index}.name: policy {policy.name!r} is listed twice")
        last = len(self.policies) - 1
        if not self.policies[last].when.catch_all:
            raise ValueError(f"policies.{last}.when: the last policy must match everything (no conditions)")
        return self

    def calendar(self, name: str) -> BusinessCalendar:
        return self.calendars[name].calendar()


def match_policy(
    config: ServiceConfig, priority: str, tier: str | None, channel: str, category: str
) -> Policy:
    """The first policy, in the listed order, whose conditions all hold."""
    return next(p for p in config.policies if p.matches(priority, tier, channel, category))
