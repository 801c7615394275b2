"""The SLA engine against an independent reference: a minute-by-minute simulator on a
small Europe/Berlin calendar (two periods a weekday, a short Sunday-night period that
crosses the spring DST change, Saturday closed) walks random timelines of status changes
and messages, counts each target's running business minutes and finds the minute where
the count reaches the limit. Due time, achieved time, breach, paused, active and the
business and calendar minutes must agree with ``sla.compute``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tickets import sla, workflow
from tickets.calendar import BusinessCalendar
from tickets.domain import Change, Message, MessageKind, Status, TargetState, Ticket
from tickets.service_config import Policy

pytestmark = pytest.mark.unit

BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAY = ((9 * 60, 12 * 60), (13 * 60, 17 * 60))
SUNDAY_NIGHT = ((60, 4 * 60),)  # 01:00-04:00 local: on 29 March 2026 only two real hours
CALENDAR = BusinessCalendar(zone="Europe/Berlin", week={**dict.fromkeys(range(5), WEEKDAY), 6: SUNDAY_NIGHT})
T0 = datetime(2026, 3, 26, 0, 0, tzinfo=UTC)  # Thursday; DST starts Sunday 29 March
HORIZON = 20 * 24 * 60  # minutes simulated from T0
RUNNING: frozenset[Status] = frozenset({"new", "open", "on_hold"})


def _open_by_hand(minute: int) -> bool:
    """Is the minute ``T0 + minute`` inside an opening period (by local wall time)?"""
    local = (T0 + timedelta(minutes=minute)).astimezone(BERLIN)
    of_day = local.hour * 60 + local.minute
    periods = WEEKDAY if local.weekday() < 5 else SUNDAY_NIGHT if local.weekday() == 6 else ()
    return any(start <= of_day < end for start, end in periods)


OPEN = [_open_by_hand(m) for m in range(HORIZON)]


def at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


@dataclass(frozen=True)
class Expected:
    due: int | None
    achieved: int | None
    breached: bool
    business: int
    calendar: int
    paused: bool
    active: bool


def simulate(run: list[bool], start: int, end: int | None, now: int, limit: int, live: bool) -> Expected:
    """Walk the minutes from ``start``: ``run[m]`` says whether the target runs in minute m.
    Counting stops at ``end`` (met) or ``now``; the due minute is where the count reaches
    ``limit`` (past the stop: as the target ran when it stopped)."""
    stop = end if end is not None else now
    count = elapsed = 0
    due: int | None = None
    last_run = start
    for minute in range(start, max(start, stop)):
        if run[minute]:
            elapsed += 1
            last_run = minute + 1
            if OPEN[minute]:
                count += 1
                if count == limit and due is None:
                    due = minute + 1
    carried_on = end is not None or run[now]
    if due is None and carried_on:
        reached, minute = count, (now if end is None else last_run)
        while reached < limit:
            reached += OPEN[minute]
            minute += 1
        due = minute
    if due is None:
        return Expected(None, None, False, count, elapsed, True, False)
    breached = end > due if end is not None else now >= due
    running = end is None and run[now]
    return Expected(due, end, breached, count, elapsed, end is None and not run[now], running and live)


Action = tuple[int, int]  # (minutes after the previous action, what: see ``build``)
KINDS: tuple[MessageKind, ...] = ("reply", "customer", "note")

actions = st.lists(
    st.tuples(st.one_of(st.integers(0, 90), st.integers(0, 900)), st.integers(0, 7)),
    max_size=14,
)


@dataclass
class Timeline:
    created: int
    now: int
    messages: list[tuple[int, MessageKind]]
    changes: list[tuple[int, Status, Status]]
    status_at: list[Status]  # the status in each minute (after that minute's events)
    status: Status


def build(created: int, steps: list[Action], extra: int) -> Timeline:
    """Apply the actions with the workflow's rules: 0-2 a message of that kind, 3-7 a
    change to one of the statuses allowed next (nothing on a closed ticket)."""
    status: Status = "new"
    minute = created
    messages: list[tuple[int, MessageKind]] = []
    changes: list[tuple[int, Status, Status]] = []
    for gap, what in steps:
        minute += gap
        if what < len(KINDS):  # a message (none on a closed ticket)
            kind = KINDS[what]
            if status == "closed":
                continue
            after = workflow.status_after_message(status, kind)
            messages.append((minute, kind))
        else:  # a status change to one of the allowed statuses
            allowed = sorted(workflow.TRANSITIONS[status])
            if not allowed:
                continue
            after = allowed[what % len(allowed)]
        if workflow.change_status(status, after):
            changes.append((minute, status, after))
            status = after
    now = minute + extra
    status_at: list[Status] = []
    current: Status = "new"
    pending = list(changes)
    for m in range(HORIZON):
        while pending and pending[0][0] <= m:
            current = pending.pop(0)[2]
        status_at.append(current)
    return Timeline(created, now, messages, changes, status_at, status)


def ticket_of(line: Timeline) -> Ticket:
    resolves = [m for m, _, to in line.changes if to == "resolved"]
    return Ticket(
        tenant_id="t1",
        ticket_id="TK1",
        subject="s",
        description="d",
        member_id="m1",
        member_tier=None,
        priority="normal",
        category="other",
        queue="service",
        channel="web",
        status=line.status,
        assignee=None,
        created_at=at(line.created),
        policy="p",
        policy_version=1,
        resolved_at=at(resolves[-1]) if resolves and line.status in ("resolved", "closed") else None,
        messages=tuple(Message(f"M{i}", kind, "a1", "x", at(m)) for i, (m, kind) in enumerate(line.messages)),
        changes=tuple(Change(at(m), "a1", "status", before, after) for m, before, after in line.changes),
    )


def expected_targets(line: Timeline, limits: tuple[int, int, int]) -> dict[str, Expected]:
    live = line.status not in ("resolved", "closed")
    always = [True] * HORIZON
    replies = [m for m, kind in line.messages if kind == "reply"]
    # A resolved or closed ticket's reply targets stop counting at its latest resolve.
    resolves = [m for m, _, to in line.changes if to == "resolved"]
    until = resolves[-1] if resolves and not live else line.now
    first = simulate(always, line.created, replies[0] if replies else None, until, limits[0], live)
    episodes: list[tuple[int, int | None]] = []
    waiting: int | None = None
    for m, kind in line.messages:
        if kind == "customer" and waiting is None:
            waiting = m
        elif kind == "reply" and waiting is not None:
            episodes.append((waiting, m))
            waiting = None
    if waiting is not None:
        episodes.append((waiting, None))
    replies_ = [simulate(always, s, e, until, limits[1], live) for s, e in episodes]
    if replies_:
        last = replies_[-1]
        next_reply = Expected(
            last.due,
            last.achieved,
            any(r.breached for r in replies_),
            last.business,
            last.calendar,
            False,
            last.active,
        )
    else:
        next_reply = Expected(None, None, False, 0, 0, False, False)
    run = [m >= line.created and s in RUNNING for m, s in enumerate(line.status_at)]
    end = resolves[-1] if resolves and line.status in ("resolved", "closed") else None
    resolution = simulate(run, line.created, end, line.now, limits[2], live)
    return {"first_response": first, "next_reply": next_reply, "resolution": resolution}


def as_expected(state: TargetState) -> Expected:
    def minute(value: datetime | None) -> int | None:
        return None if value is None else int((value - T0) // timedelta(minutes=1))

    return Expected(
        minute(state.due_at),
        minute(state.achieved_at),
        state.breached,
        state.business_minutes,
        state.calendar_minutes,
        state.paused,
        state.active,
    )


@settings(max_examples=60, deadline=None)
@given(
    created=st.integers(0, 3 * 24 * 60),
    steps=actions,
    extra=st.integers(0, 2000),
    limits=st.tuples(st.integers(1, 600), st.integers(1, 600), st.integers(1, 900)),
)
def test_compute_agrees_with_a_minute_by_minute_simulation(
    created: int, steps: list[Action], extra: int, limits: tuple[int, int, int]
) -> None:
    line = build(created, steps, extra)
    policy = Policy(
        name="p", calendar="c", first_response=limits[0], next_reply=limits[1], resolution=limits[2]
    )
    got = sla.compute(ticket_of(line), policy, CALENDAR, at(line.now))
    want = expected_targets(line, limits)
    assert {name: as_expected(got.target(name)) for name in want} == want  # type: ignore[arg-type]


def test_the_simulated_calendar_is_the_engine_calendar() -> None:
    """The hand-made opening check and the calendar agree on every simulated minute."""
    assert [CALENDAR.is_open(at(m)) for m in range(0, HORIZON, 7)] == OPEN[::7]
    assert sum(OPEN[3 * 24 * 60 : 4 * 24 * 60]) == 2 * 60  # Sunday 29 March: 01:00-04:00 less the lost hour
