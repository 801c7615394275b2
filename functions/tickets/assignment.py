"""Who gets a ticket: the VIP member's owner, else the next agent of the queue in
round-robin order, else nobody for now and when to try again.

Guarantees, for one decision (``choose``), given the whole staff registry, each
person's open-ticket load and the queue's round-robin pointer:

- A *candidate* is an active ``agent`` who works the ticket's queue (it is in their
  ``queues``), is on duty now (``on_duty``) and has fewer open tickets than their
  ``max_open`` (a load not given is 0).
- A ticket of a ``gold`` or ``black`` member goes to the member's owner when the owner
  is an active agent, on duty and under their cap, whatever queues they work.
- Otherwise it goes round-robin: the first candidate, in staff-id order, whose id
  sorts after the pointer (the id assigned last), wrapping to the first. Moving the
  pointer to the chosen id (the caller stores it) gives every candidate its turn: over
  N tickets and k candidates, each gets N/k, give or take one.
- Nobody eligible: unassigned, and ``retry_at`` says when to try again. It is the
  earliest of the next opening of the calendars of the queue's active agents who are
  off duty now, and, when some of them are on duty but at their cap, 15 minutes from
  now. A queue with no active agent gets no retry (None): nothing would change.
- A person is on duty when their calendar (a name in the service configuration) is
  open now; a calendar the configuration does not define is never open, so such a
  person is neither a candidate nor a reason to retry.

Pure: no I/O. Every instant out is UTC; ``now`` must be timezone-aware.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from loyalty.staff.model import Staff
from tickets.calendar import BusinessCalendar, CalendarError
from tickets.service_config import ServiceConfig

RETRY_WHEN_FULL = timedelta(minutes=15)  # everyone on duty is at their cap: try again then
VIP_TIERS: frozenset[str] = frozenset({"gold", "black"})  # their owner gets their tickets
AGENT = "agent"

Via = Literal["owner", "round_robin"]


@dataclass(frozen=True)
class Choice:
    """The decision: ``assignee`` (a staff id; None: stays unassigned), how it was made,
    and, while unassigned, when to try again (None: no attempt planned)."""

    assignee: str | None
    via: Via | None
    retry_at: datetime | None


def _calendar(config: ServiceConfig, name: str) -> BusinessCalendar | None:
    return config.calendar(name) if name in config.calendars else None


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise CalendarError("a timezone-aware datetime is required")
    return now.astimezone(UTC)


def on_duty(person: Staff, config: ServiceConfig, now: datetime) -> bool:
    """Whether ``person``'s calendar is open at ``now`` (an unknown calendar: never)."""
    now = _aware(now)
    calendar = _calendar(config, person.calendar)
    return calendar is not None and calendar.is_open(now)


def _under_cap(person: Staff, loads: Mapping[str, int]) -> bool:
    return loads.get(person.staff_id, 0) < person.max_open


def _is_active_agent(person: Staff) -> bool:
    return person.active and person.role == AGENT


def _next_turn(candidates: Sequence[Staff], pointer: str | None) -> Staff:
    """The first candidate (by id) after ``pointer``, wrapping to the first."""
    ordered = sorted(candidates, key=lambda person: person.staff_id)
    if pointer is None:
        return ordered[0]
    return next((person for person in ordered if person.staff_id > pointer), ordered[0])


def _retry_at(
    agents: Sequence[Staff], loads: Mapping[str, int], config: ServiceConfig, now: datetime
) -> datetime | None:
    """When a ticket nobody can take now may find someone (see the module docstring)."""
    times: list[datetime] = []
    for person in agents:
        calendar = _calendar(config, person.calendar)
        if calendar is None:
            continue  # never on duty: no opening to wait for
        if calendar.is_open(now):
            if not _under_cap(person, loads):
                times.append(now + RETRY_WHEN_FULL)
            continue
        try:
            times.append(calendar.next_opening(now))
        except CalendarError:
            continue  # a calendar with no opening in sight
    return min(times, default=None)


def choose(
    queue: str,
    member_tier: str | None,
    owner: Staff | None,
    staff: Sequence[Staff],
    loads: Mapping[str, int],
    pointer: str | None,
    config: ServiceConfig,
    now: datetime,
) -> Choice:
    """Who gets a ticket of ``queue`` for a member of ``member_tier`` owned by ``owner``
    at ``now``: ``staff`` is the whole registry, ``loads`` the open tickets per staff id
    and ``pointer`` the queue's last round-robin assignee."""
    now = _aware(now)
    if (
        member_tier in VIP_TIERS
        and owner is not None
        and _is_active_agent(owner)
        and _under_cap(owner, loads)
        and on_duty(owner, config, now)
    ):
        return Choice(owner.staff_id, "owner", None)
    agents = [person for person in staff if _is_active_agent(person) and queue in person.queues]
    candidates = [p for p in agents if _under_cap(p, loads) and on_duty(p, config, now)]
    if candidates:
        return Choice(_next_turn(candidates, pointer).staff_id, "round_robin", None)
    return Choice(None, None, _retry_at(agents, loads, config, now))
