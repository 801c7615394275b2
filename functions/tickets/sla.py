"""A ticket's SLA targets and metrics, computed from the ticket and its timeline on the
applied policy's business calendar. Pure: no AWS, no I/O.

Guarantees (docs/tickets.md "Statuses, targets and metrics"):

* Everything is recomputed from creation: the messages give the first response and the
  next-reply episodes, the ``status`` changes give the resolution clock's pauses, so
  another policy or calendar gives the whole ticket's answer.
* The clocks count whole minutes: each instant of the timeline counts from the start of
  its minute. A due time is where a target's running business minutes reach its limit
  (``add_business_minutes`` in the running interval where the remainder runs out); it
  may lie past ``now`` while the target runs.
* ``first_response`` and ``next_reply`` are never paused; ``resolution`` is paused while
  ``pending`` or ``resolved`` (a reopen continues the clock without the resolved time).
* ``breached``: met in a later minute than the due time, or outstanding at or past it.
  A paused target with time left has no due time; one breached before its pause stays
  breached. ``active`` (running now, not met, the ticket not resolved or closed) is what
  escalates.
* Every instant out is UTC."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

from tickets import workflow
from tickets.calendar import BusinessCalendar
from tickets.domain import DONE_STATUSES, Message, Metrics, Minutes, Sla, Status, TargetState, Ticket
from tickets.service_config import Policy

MINUTE = timedelta(minutes=1)
# The resolution clock runs in these statuses (paused in pending, resolved and closed).
RUNNING: frozenset[Status] = frozenset({"new", "open", "on_hold"})

Interval = tuple[datetime, datetime]


def minute_of(at: datetime) -> datetime:
    """The start of ``at``'s minute, in UTC."""
    return at.astimezone(UTC).replace(second=0, microsecond=0)


@dataclass(frozen=True)
class Clock:
    """A target's running time: its ``intervals`` (the last ends at now while it runs),
    whether it runs ``now``, and when it was met."""

    start: datetime
    intervals: tuple[Interval, ...]
    running: bool
    achieved_at: datetime | None = None


@dataclass(frozen=True)
class Episode:
    """A next-reply episode: from the first unanswered customer message to the public
    reply that answered it (None while it waits)."""

    start: datetime
    reply: Message | None


def public_replies(ticket: Ticket) -> list[Message]:
    """The public agent replies, in time order."""
    return sorted((m for m in ticket.messages if m.kind == "reply"), key=lambda m: m.at)


def _until(start: datetime, end: datetime | None, now: datetime) -> Interval:
    """[start, end) with ``end`` the minute of a met target or else ``now``, never before start."""
    stop = minute_of(end) if end is not None else now.astimezone(UTC)
    return start, max(start, stop)


def _status_segments(ticket: Ticket) -> list[tuple[Status, datetime]]:
    """(status, since) from creation, in time order. A ticket without status history has
    been in its status since creation (a done one: new until its ``resolved_at``)."""
    created = minute_of(ticket.created_at)
    changes = workflow.status_changes(ticket.changes)
    if changes:
        return [("new", created), *((cast(Status, c.after), max(created, minute_of(c.at))) for c in changes)]
    if ticket.status in DONE_STATUSES:
        resolved = minute_of(ticket.resolved_at) if ticket.resolved_at else created
        return [("new", created), (ticket.status, max(created, resolved))]
    return [(ticket.status, created)]


def resolution_clock(ticket: Ticket, now: datetime) -> Clock:
    """The resolution clock: running while new, open or on hold."""
    segments = _status_segments(ticket)
    achieved = workflow.last_resolved(ticket)
    now_utc = now.astimezone(UTC)
    intervals: list[Interval] = []
    last = len(segments) - 1
    for index, (status, since) in enumerate(segments):
        if status not in RUNNING:
            continue
        end = segments[index + 1][1] if index < last else max(since, now_utc)
        if end > since or index == last:  # the running interval stays, even empty
            intervals.append((since, end))
    running = achieved is None and segments[-1][0] in RUNNING
    return Clock(segments[0][1], tuple(intervals), running, achieved)


def first_response_clock(ticket: Ticket, now: datetime) -> Clock:
    """From creation to the first public reply (later replies change nothing)."""
    replies = public_replies(ticket)
    achieved = replies[0].at.astimezone(UTC) if replies else None
    start = minute_of(ticket.created_at)
    return Clock(start, (_until(start, achieved, now),), achieved is None, achieved)


def episodes(ticket: Ticket) -> list[Episode]:
    """The next-reply episodes, in time order: a customer message with no episode waiting
    starts one (later customer messages leave its start); a public reply ends it."""
    found: list[Episode] = []
    waiting: datetime | None = None
    for message in sorted(ticket.messages, key=lambda m: m.at):
        if message.kind == "customer" and waiting is None:
            waiting = minute_of(message.at)
        elif message.kind == "reply" and waiting is not None:
            found.append(Episode(waiting, message))
            waiting = None
    if waiting is not None:
        found.append(Episode(waiting, None))
    return found


def episode_clock(episode: Episode, now: datetime) -> Clock:
    achieved = episode.reply.at.astimezone(UTC) if episode.reply else None
    return Clock(episode.start, (_until(episode.start, achieved, now),), achieved is None, achieved)


def _due(clock: Clock, limit: int, calendar: BusinessCalendar) -> datetime | None:
    """Where the running business minutes reach ``limit``. When they do not within the
    intervals, the last interval is carried on (running now, or as the target was when
    met); None while paused with time left."""
    remaining = limit
    last_start, last_remaining = clock.start, limit
    for start, end in clock.intervals:
        counted = calendar.business_minutes_between(start, end)
        if counted >= remaining:
            return calendar.add_business_minutes(start, remaining)
        last_start, last_remaining = start, remaining
        remaining -= counted
    if clock.running or clock.achieved_at is not None:
        return calendar.add_business_minutes(last_start, last_remaining)
    return None


def measure(clock: Clock, calendar: BusinessCalendar) -> Minutes:
    """Business and elapsed whole minutes of the clock's intervals."""
    business = sum(calendar.business_minutes_between(s, e) for s, e in clock.intervals)
    elapsed = sum(int((e - s) // MINUTE) for s, e in clock.intervals)
    return Minutes(business=business, calendar=elapsed)


def target_state(
    clock: Clock, limit: int, calendar: BusinessCalendar, now: datetime, *, live: bool
) -> TargetState:
    """One target at ``now``; ``live``: the ticket is not resolved or closed (it may escalate)."""
    spent = measure(clock, calendar)
    due = _due(clock, limit, calendar)
    paused = not clock.running and clock.achieved_at is None
    if due is None:
        return TargetState(None, None, False, spent.business, spent.calendar, paused=True)
    met = clock.achieved_at
    breached = minute_of(met) > due if met is not None else now >= due
    return TargetState(
        due_at=due,
        achieved_at=clock.achieved_at,
        breached=breached,
        business_minutes=spent.business,
        calendar_minutes=spent.calendar,
        paused=paused,
        active=clock.running and live,
    )


def _next_reply(
    ticket: Ticket, limit: int, calendar: BusinessCalendar, now: datetime, live: bool
) -> TargetState:
    states = [target_state(episode_clock(e, now), limit, calendar, now, live=live) for e in episodes(ticket)]
    if not states:
        return TargetState(None, None, False, 0, 0)
    last = states[-1]
    return TargetState(
        due_at=last.due_at,
        achieved_at=last.achieved_at,
        breached=any(s.breached for s in states),
        business_minutes=last.business_minutes,
        calendar_minutes=last.calendar_minutes,
        paused=False,
        active=last.active,
    )


def stopped_at(ticket: Ticket, now: datetime) -> datetime:
    """Until when the reply targets count: ``now``, or for a resolved or closed ticket its
    latest resolve (a first response or a reply still owed then stops counting, and is
    breached only if it was due before it)."""
    if ticket.status not in DONE_STATUSES:
        return now
    resolved = workflow.last_resolved(ticket)
    return min(now, resolved) if resolved is not None else now


def compute(ticket: Ticket, policy: Policy, calendar: BusinessCalendar, now: datetime) -> Sla:
    """The ticket's SLA at ``now`` under ``policy`` on ``calendar`` (the policy's own),
    recomputed from creation."""
    live = ticket.status not in DONE_STATUSES
    until = stopped_at(ticket, now)
    return Sla(
        policy=policy.name,
        policy_version=policy.version,
        first_response=target_state(
            first_response_clock(ticket, until), policy.first_response, calendar, until, live=live
        ),
        next_reply=_next_reply(ticket, policy.next_reply, calendar, until, live),
        resolution=target_state(resolution_clock(ticket, now), policy.resolution, calendar, now, live=live),
    )


def longest_reply_wait(ticket: Ticket, calendar: BusinessCalendar, now: datetime) -> Minutes | None:
    """The longest wait from an unanswered customer message to the public reply that
    answered it (a wait still open counts to now), by business then calendar minutes."""
    waits = [measure(episode_clock(e, now), calendar) for e in episodes(ticket)]
    return max(waits, key=lambda m: (m.business, m.calendar), default=None)


def _achieved(state: TargetState) -> Minutes | None:
    if state.achieved_at is None:
        return None
    return Minutes(business=state.business_minutes, calendar=state.calendar_minutes)


def metrics(ticket: Ticket, sla: Sla, calendar: BusinessCalendar, now: datetime) -> Metrics:
    """The ticket's figures at ``now``: first response and resolution (None until met),
    the longest reply wait, breached and achieved per target, reopens, one-touch, CSAT."""
    targets = {
        "first_response": sla.first_response,
        "next_reply": sla.next_reply,
        "resolution": sla.resolution,
    }
    reopened = workflow.reopen_count(ticket.changes)
    one_touch = ticket.status in DONE_STATUSES and len(public_replies(ticket)) == 1 and reopened == 0
    return Metrics(
        first_response=_achieved(sla.first_response),
        resolution=_achieved(sla.resolution),
        longest_reply_wait=longest_reply_wait(ticket, calendar, stopped_at(ticket, now)),
        breached={name: state.breached for name, state in targets.items()},
        achieved={name: state.achieved_at is not None for name, state in targets.items()},
        reopened=reopened,
        one_touch=one_touch,
        csat=ticket.csat,
    )
