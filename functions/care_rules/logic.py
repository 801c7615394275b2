"""Birthday greeting rules. Pure: no AWS here.

Guards: an email address and granted email consent are required; one greeting
per member per year (enforced by the delivery claim keyed on the year)."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from loyalty.messages import Email


def birthday_keys(day: date) -> list[str]:
    """Month-day index keys celebrated on ``day``; 29 February birthdays are
    celebrated on 28 February in years without one."""
    keys = [f"{day.month:02d}-{day.day:02d}"]
    if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
        keys.append("02-29")
    return keys


def days_to_process(last_done: date | None, today: date) -> list[date]:
    """Catch-up: every day after the last completed one, through today. A first
    run starts today: greetings are never sent for days before the program began."""
    start = today if last_done is None else last_done + timedelta(days=1)
    return [start + timedelta(days=i) for i in range((today - start).days + 1)]


def has_email_consent(profile: dict[str, Any]) -> bool:
    """The member's email consent (stored per channel as ``consent_email``); a
    withdrawal (granted false) keeps its timestamp and blocks sending."""
    consent = profile.get("consent_email") or {}
    return bool(consent.get("granted"))


@dataclass(frozen=True)
class Greeting:
    tenant_id: str
    member_id: str
    year: int
    email: Email

    @property
    def claim_key(self) -> str:
        return f"CARE#birthday#{self.year}"


def greeting_for(tenant_id: str, profile: dict[str, Any], day: date) -> Greeting | None:
    address = profile.get("email")
    if not address or not has_email_consent(profile):
        return None
    name = profile.get("name") or "there"
    text = (
        f"Happy birthday, {name}!\n\n"
        "Everyone at the store wishes you a wonderful day. Thank you for being a member.\n"
    )
    html = f"<p>Happy birthday, {_escape(name)}!</p><p>Everyone at the store wishes you a wonderful day.</p>"
    return Greeting(
        tenant_id=tenant_id,
        member_id=str(profile["member_id"]),
        year=day.year,
        email=Email(
            to=[address],
            subject=f"Happy birthday, {name}!",
            text=text,
            html=html,
            tags={"Rule": "birthday", "Tenant": tenant_id},
        ),
    )


def _escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
