"""SLA targets and metrics pinned the way Zammad's escalation specs pin them: on the shipped
``cn-business`` calendar (lunch break, evenings, weekends, the 2026 National Day and its
working Saturday) and on a Europe/Berlin calendar across both 2026 DST changes; a customer
reply while pending, pauses before and after a breach, a reopen, a policy change part-way,
first response counting once, next-reply episodes and a note that touches nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from tickets import sla
from tickets.calendar import BusinessCalendar
from tickets.domain import Change, Message, MessageKind, Minutes, Status, TargetState, Ticket
from tickets.service_config import Policy, ServiceConfig, match_policy

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
CONFIG = ServiceConfig.model_validate(yaml.safe_load((ROOT / "config" / "service.yaml").read_text()))
CN = CONFIG.calendar("cn-business")
POLICY = {p.name: p for p in CONFIG.policies}
DEFAULT, URGENT = POLICY["default"], POLICY["urgent"]  # 240/480/1440 and 60/120/480
SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
DE = BusinessCalendar(zone="Europe/Berlin", week=dict.fromkeys(range(5), ((9 * 60, 18 * 60),)), country="DE")
HOUR = Policy(name="hour", calendar="de", first_response=60, next_reply=60, resolution=60)


def sh(month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=SHANGHAI)


def be(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BERLIN)


def ticket(
    created: datetime,
    status: Status = "new",
    messages: tuple[tuple[datetime, MessageKind], ...] = (),
    statuses: tuple[tuple[datetime, Status], ...] = (),
    resolved_at: datetime | None = None,
    csat: int | None = None,
) -> Ticket:
    """A ticket whose status history goes from ``new`` through ``statuses``."""
    changes, before = [], "new"
    for at, after in statuses:
        changes.append(Change(at=at, by="a1", field="status", before=before, after=after))
        before = after
    assert before == status or not statuses
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
        status=status,
        assignee=None,
        created_at=created,
        policy="default",
        policy_version=1,
        resolved_at=resolved_at,
        csat=csat,
        messages=tuple(Message(f"M{i}", kind, "a1", "b", at) for i, (at, kind) in enumerate(messages)),
        changes=tuple(changes),
    )


# --- business hours on cn-business -------------------------------------------------------


@pytest.mark.parametrize(
    ("created", "due"),
    [
        (sh(6, 15, 12, 30), sh(6, 15, 14, 0)),  # Monday, in the lunch break: starts at 13:00
        (sh(6, 15, 20, 0), sh(6, 16, 10, 0)),  # Monday evening: starts Tuesday 09:00
        (sh(6, 12, 20, 0), sh(6, 15, 10, 0)),  # Friday evening: starts Monday 09:00
        (sh(6, 15, 11, 30), sh(6, 15, 13, 30)),  # 30 minutes before lunch, 30 after
    ],
)
def test_first_response_outside_hours_starts_at_the_next_opening(created: datetime, due: datetime) -> None:
    state = sla.compute(ticket(created), URGENT, CN, created).first_response
    assert state == TargetState(due, None, False, 0, 0, active=True)
    assert state.due_at is not None and state.due_at.tzinfo is UTC


def test_first_response_met_exactly_at_the_due_minute_is_not_breached() -> None:
    created = sh(6, 15, 9, 0)  # urgent: due 10:00
    for reply, breached in (
        (sh(6, 15, 10, 0), False),
        (sh(6, 15, 10, 0, 59), False),
        (sh(6, 15, 10, 1), True),
    ):
        state = sla.compute(
            ticket(created, "open", ((reply, "reply"),)), URGENT, CN, sh(6, 15, 12)
        ).first_response
        assert (state.due_at, state.achieved_at, state.breached) == (sh(6, 15, 10), reply, breached)


def test_outstanding_is_breached_from_the_due_instant() -> None:
    created = sh(6, 15, 9, 0)
    assert not sla.compute(ticket(created), URGENT, CN, sh(6, 15, 9, 59, 59)).first_response.breached
    state = sla.compute(ticket(created), URGENT, CN, sh(6, 15, 10, 0))
    assert state.first_response.breached and state.first_response.active
    assert (state.first_response.business_minutes, state.first_response.calendar_minutes) == (60, 60)


def test_first_response_counts_once_and_a_note_does_not_count() -> None:
    created = sh(6, 15, 9, 0)
    messages: tuple[tuple[datetime, MessageKind], ...] = (
        (sh(6, 15, 9, 20), "note"),
        (sh(6, 15, 13, 30), "reply"),  # 180 + 30 business minutes, 270 elapsed
        (sh(6, 15, 16, 0), "reply"),
    )
    got = sla.compute(ticket(created, "open", messages), DEFAULT, CN, sh(6, 17, 9)).first_response
    assert got == TargetState(sh(6, 15, 14, 0), sh(6, 15, 13, 30), False, 210, 270)
    only_first = sla.compute(ticket(created, "open", messages[:2]), DEFAULT, CN, sh(6, 17, 9)).first_response
    assert only_first == got


def test_a_note_touches_nothing() -> None:
    created = sh(6, 15, 9, 0)
    base: tuple[tuple[datetime, MessageKind], ...] = ((sh(6, 15, 10), "customer"), (sh(6, 15, 11), "reply"))
    with_notes = (*base, (sh(6, 15, 12, 30), "note"), (sh(6, 15, 9, 5), "note"))
    now = sh(6, 16, 9)
    plain, noted = ticket(created, "open", base), ticket(created, "open", with_notes)
    assert sla.compute(noted, DEFAULT, CN, now) == sla.compute(plain, DEFAULT, CN, now)
    assert sla.metrics(noted, sla.compute(noted, DEFAULT, CN, now), CN, now) == sla.metrics(
        plain, sla.compute(plain, DEFAULT, CN, now), CN, now
    )


# --- pending: pauses, a customer reply, breaches --------------------------------------------


def test_a_customer_reply_while_pending_reopens_the_clocks() -> None:
    created = sh(6, 15, 9, 0)  # Monday
    messages: tuple[tuple[datetime, MessageKind], ...] = (
        (sh(6, 15, 10), "reply"),
        (sh(6, 15, 14), "customer"),
    )
    statuses: tuple[tuple[datetime, Status], ...] = (
        (sh(6, 15, 10), "open"),
        (sh(6, 15, 10, 30), "pending"),
        (sh(6, 15, 14), "open"),  # moved by the customer's message
    )
    paused = ticket(created, "pending", messages[:1], statuses[:2])
    while_pending = sla.compute(paused, DEFAULT, CN, sh(6, 15, 13, 59))
    assert while_pending.resolution == TargetState(None, None, False, 90, 90, paused=True)
    assert while_pending.next_reply == TargetState(None, None, False, 0, 0)

    resumed = sla.compute(ticket(created, "open", messages, statuses), DEFAULT, CN, sh(6, 15, 15))
    # 480 business minutes from Monday 14:00: 240 on Monday, 180 + 60 on Tuesday
    assert resumed.next_reply == TargetState(sh(6, 16, 14), None, False, 60, 60, active=True)
    # resolution: 90 minutes before the pause, 1350 left from 14:00: Mon 240, Tue 480, Wed 480, Thu 150
    assert resumed.resolution == TargetState(sh(6, 18, 11, 30), None, False, 150, 150, active=True)
    # the due time moved by exactly the paused business minutes (10:30-12:00 and 13:00-14:00)
    unpaused = sla.compute(ticket(created, "open", messages[:1], statuses[:1]), DEFAULT, CN, sh(6, 15, 15))
    assert unpaused.resolution.due_at == sh(6, 17, 18)
    moved_by = CN.business_minutes_between(sh(6, 15, 10, 30), sh(6, 15, 14))
    assert moved_by == 150
    assert resumed.resolution.due_at == CN.add_business_minutes(sh(6, 17, 18), moved_by)


def test_a_pause_before_the_breach_holds_the_time_left() -> None:
    created = sh(6, 15, 9, 0)  # urgent resolution 480: due Monday 18:00
    statuses: tuple[tuple[datetime, Status], ...] = ((sh(6, 15, 17), "pending"),)
    paused = sla.compute(ticket(created, "pending", (), statuses), URGENT, CN, sh(6, 16, 10))
    assert paused.resolution == TargetState(None, None, False, 420, 480, paused=True)
    back = ticket(created, "open", (), (*statuses, (sh(6, 16, 10), "open")))
    assert sla.compute(back, URGENT, CN, sh(6, 16, 10, 30)).resolution == TargetState(
        sh(6, 16, 11), None, False, 450, 510, active=True
    )


def test_a_pause_after_the_breach_stays_breached() -> None:
    created = sh(6, 15, 9, 0)
    statuses: tuple[tuple[datetime, Status], ...] = ((sh(6, 16, 9, 30), "pending"),)
    state = sla.compute(ticket(created, "pending", (), statuses), URGENT, CN, sh(6, 16, 10)).resolution
    assert state == TargetState(sh(6, 15, 18), None, True, 510, 1470, paused=True, active=False)


# --- reopen ------------------------------------------------------------------------------------


def test_a_reopen_continues_the_clock_without_the_resolved_time() -> None:
    created = sh(6, 15, 9, 0)
    messages: tuple[tuple[datetime, MessageKind], ...] = (
        (sh(6, 15, 9, 30), "reply"),
        (sh(6, 16, 10), "customer"),
    )
    statuses: tuple[tuple[datetime, Status], ...] = (
        (sh(6, 15, 9, 30), "open"),
        (sh(6, 15, 10), "resolved"),
        (sh(6, 16, 10), "open"),  # the customer's message reopens it
    )
    once = ticket(created, "resolved", messages[:1], statuses[:2], resolved_at=sh(6, 15, 10))
    done = sla.compute(once, DEFAULT, CN, sh(6, 16, 9))
    assert done.resolution == TargetState(sh(6, 17, 18), sh(6, 15, 10), False, 60, 60)
    first = sla.metrics(once, done, CN, sh(6, 16, 9))
    assert (first.resolution, first.reopened, first.one_touch) == (Minutes(60, 60), 0, True)

    reopened = ticket(created, "open", messages, statuses)
    state = sla.compute(reopened, DEFAULT, CN, sh(6, 16, 11))
    # 1380 left from Tuesday 10:00: Tue 420, Wed 480, Thu 480
    assert state.resolution == TargetState(sh(6, 18, 18), None, False, 120, 120, active=True)
    assert state.next_reply == TargetState(sh(6, 17, 10), None, False, 60, 60, active=True)
    again = ticket(
        created, "resolved", messages, (*statuses, (sh(6, 16, 11), "resolved")), resolved_at=sh(6, 16, 11)
    )
    figures = sla.metrics(again, sla.compute(again, DEFAULT, CN, sh(6, 16, 12)), CN, sh(6, 16, 12))
    assert (figures.resolution, figures.reopened, figures.one_touch) == (Minutes(120, 120), 1, False)
    assert sla.public_replies(again) == [again.messages[0]]


# --- the 2026 National Day and its working Saturday ------------------------------------------


def test_the_national_day_holiday_holds_the_clock() -> None:
    # Wed 30 Sep 17:00: 60 minutes that day; 1-7 October closed (the 4th a Sunday);
    # Thursday 8 October is a working day: 180 more by 12:00
    created = sh(9, 30, 17, 0)
    state = sla.compute(ticket(created), DEFAULT, CN, sh(10, 8, 9, 0)).first_response
    assert state == TargetState(sh(10, 8, 12, 0), None, False, 60, 8 * 24 * 60 - 8 * 60, active=True)
    assert state.due_at == datetime(2026, 10, 8, 4, 0, tzinfo=UTC)


def test_the_working_saturday_after_national_day_counts() -> None:
    created = sh(10, 9, 17, 30)  # Friday 9 October; Saturday 10 October is a make-up workday
    state = sla.compute(ticket(created), URGENT, CN, created).first_response
    assert state.due_at == sh(10, 10, 9, 30) == datetime(2026, 10, 10, 1, 30, tzinfo=UTC)


# --- DST on Europe/Berlin --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("created", "due", "elapsed"),
    [
        (be(3, 27, 17, 30), be(3, 30, 9, 30), 63 * 60),  # spring forward: the weekend lost an hour
        (be(10, 23, 17, 30), be(10, 26, 9, 30), 65 * 60),  # fall back: the weekend gained one
    ],
)
def test_dst_keeps_wall_clock_hours(created: datetime, due: datetime, elapsed: int) -> None:
    open_ = sla.compute(ticket(created), HOUR, DE, created).first_response
    assert open_.due_at == due.astimezone(UTC)
    met = sla.compute(ticket(created, "open", ((due, "reply"),)), HOUR, DE, due).first_response
    assert (met.breached, met.business_minutes, met.calendar_minutes) == (False, 60, elapsed)


# --- policy change part-way ------------------------------------------------------------------


def test_a_policy_change_part_way_applies_from_creation() -> None:
    created = sh(6, 15, 9, 0)
    normal = ticket(created)
    now = sh(6, 15, 11, 0)
    policy = match_policy(CONFIG, "normal", None, "web", "other")
    assert policy.name == "default"
    before = sla.compute(normal, policy, CN, now)
    assert before.first_response == TargetState(sh(6, 15, 14), None, False, 120, 120, active=True)

    urgent = replace(
        normal,
        priority="urgent",
        policy="urgent",
        changes=(Change(at=now, by="a1", field="priority", before="normal", after="urgent"),),
    )
    policy = match_policy(CONFIG, urgent.priority, None, "web", "other")
    after = sla.compute(urgent, policy, CN, now)
    assert (after.policy, after.policy_version) == ("urgent", 1)
    # the urgent hour counts from creation: due at 10:00, already past at 11:00
    assert after.first_response == TargetState(sh(6, 15, 10), None, True, 120, 120, active=True)
    assert after.resolution == TargetState(sh(6, 15, 18), None, False, 120, 120, active=True)


# --- next reply episodes ---------------------------------------------------------------------


def test_next_reply_episodes() -> None:
    created = sh(6, 15, 9, 0)
    messages: tuple[tuple[datetime, MessageKind], ...] = (
        (sh(6, 15, 9, 30), "reply"),
        (sh(6, 15, 10), "customer"),  # an episode starts
        (sh(6, 15, 11), "customer"),  # same episode: the start stays
        (sh(6, 15, 12, 30), "reply"),  # 120 business, 150 elapsed: due 11:00, late
        (sh(6, 16, 9), "customer"),
        (sh(6, 16, 9, 10), "reply"),  # on time
    )
    one = Policy(name="p", calendar="cn-business", first_response=60, next_reply=60, resolution=2000)
    open_ticket = ticket(created, "open", messages[:3])
    running = sla.compute(open_ticket, one, CN, sh(6, 15, 11, 30)).next_reply
    assert running == TargetState(sh(6, 15, 11), None, True, 90, 90, active=True)

    answered = ticket(created, "open", messages)
    now = sh(6, 16, 15)
    state = sla.compute(answered, one, CN, now)
    # the last episode shows; any episode breached is a breach
    assert state.next_reply == TargetState(sh(6, 16, 10), sh(6, 16, 9, 10), True, 10, 10)
    figures = sla.metrics(answered, state, CN, now)
    assert figures.longest_reply_wait == Minutes(120, 150)
    assert figures.breached == {"first_response": False, "next_reply": True, "resolution": False}
    assert figures.achieved == {"first_response": True, "next_reply": True, "resolution": False}
    assert figures.first_response == Minutes(30, 30)

    waiting = ticket(created, "open", (*messages, (sh(6, 16, 11), "customer")))
    figures = sla.metrics(waiting, sla.compute(waiting, one, CN, sh(6, 17, 9)), CN, sh(6, 17, 9))
    assert figures.longest_reply_wait == Minutes(360, 1320)  # the open wait counts to now
    assert figures.achieved["next_reply"] is False


def test_no_episode_yet() -> None:
    state = sla.compute(ticket(sh(6, 15, 9)), DEFAULT, CN, sh(6, 15, 10))
    assert state.next_reply == TargetState(None, None, False, 0, 0, paused=False, active=False)
    figures = sla.metrics(ticket(sh(6, 15, 9)), state, CN, sh(6, 15, 10))
    assert (figures.first_response, figures.resolution, figures.longest_reply_wait) == (None, None, None)


# --- done tickets ------------------------------------------------------------------------------


def test_a_closed_ticket_escalates_nothing_and_its_figures_stop_at_the_resolve() -> None:
    created = sh(6, 15, 9, 0)
    statuses: tuple[tuple[datetime, Status], ...] = (
        (sh(6, 15, 9), "on_hold"),
        (sh(6, 15, 11), "resolved"),
        (sh(6, 22, 11), "closed"),
    )
    closed = ticket(created, "closed", ((sh(6, 15, 10), "customer"),), statuses, sh(6, 15, 11), csat=4)
    state = sla.compute(closed, DEFAULT, CN, sh(6, 23, 9))
    assert not any(state.target(t).active for t in ("first_response", "next_reply", "resolution"))
    # Never answered, but resolved at 11:00 before its 14:00 due time: it stopped counting then.
    assert state.first_response == TargetState(sh(6, 15, 14), None, False, 120, 120)
    assert state.next_reply.business_minutes == 60  # the 10:00 customer message waited until 11:00
    assert state.resolution == TargetState(sh(6, 17, 18), sh(6, 15, 11), False, 120, 120)
    figures = sla.metrics(closed, state, CN, sh(6, 23, 9))
    assert (figures.resolution, figures.one_touch, figures.csat) == (Minutes(120, 120), False, 4)


def test_without_status_history_the_status_holds_since_creation() -> None:
    created = sh(6, 15, 9, 0)
    legacy_open = sla.compute(ticket(created, "open"), URGENT, CN, sh(6, 15, 10)).resolution
    assert legacy_open == TargetState(sh(6, 15, 18), None, False, 60, 60, active=True)
    legacy_done = ticket(created, "resolved", resolved_at=sh(6, 15, 9, 45))
    assert sla.compute(legacy_done, URGENT, CN, sh(6, 15, 10)).resolution == TargetState(
        sh(6, 15, 18), sh(6, 15, 9, 45), False, 45, 45
    )


def test_a_later_breach_of_resolution_counts_when_resolved_late() -> None:
    created = sh(6, 15, 9, 0)
    statuses: tuple[tuple[datetime, Status], ...] = ((sh(6, 16, 9, 1), "resolved"),)
    late = ticket(created, "resolved", (), statuses, resolved_at=sh(6, 16, 9, 1))
    state = sla.compute(late, URGENT, CN, sh(6, 16, 10)).resolution
    assert state == TargetState(sh(6, 15, 18), sh(6, 16, 9, 1), True, 481, 24 * 60 + 1)
    assert sla.compute(late, URGENT, CN, sh(6, 16, 10)).first_response.due_at == sh(6, 15, 10)


def test_longest_reply_wait_is_the_longest_in_business_minutes() -> None:
    messages: tuple[tuple[datetime, MessageKind], ...] = (
        (sh(6, 15, 10), "customer"),
        (sh(6, 15, 12, 30), "reply"),  # 120 business, 150 elapsed
        (sh(6, 15, 17, 50), "customer"),
        (sh(6, 16, 9, 5), "reply"),  # 15 business, 915 elapsed
    )
    answered = ticket(sh(6, 15, 9), "open", messages)
    now = sh(6, 16, 10)
    figures = sla.metrics(answered, sla.compute(answered, DEFAULT, CN, now), CN, now)
    assert figures.longest_reply_wait == Minutes(120, 150)


def test_one_touch_needs_exactly_one_public_reply() -> None:
    statuses: tuple[tuple[datetime, Status], ...] = ((sh(6, 15, 10), "open"), (sh(6, 15, 11), "resolved"))
    for replies, one_touch in ((1, True), (2, False), (0, False)):
        messages = tuple((sh(6, 15, 10, i), "reply") for i in range(replies))
        done = ticket(sh(6, 15, 9), "resolved", messages, statuses, sh(6, 15, 11))  # type: ignore[arg-type]
        figures = sla.metrics(done, sla.compute(done, DEFAULT, CN, sh(6, 15, 12)), CN, sh(6, 15, 12))
        assert figures.one_touch is one_touch
    still_open = ticket(sh(6, 15, 9), "open", ((sh(6, 15, 10), "reply"),), statuses[:1])
    figures = sla.metrics(still_open, sla.compute(still_open, DEFAULT, CN, sh(6, 15, 12)), CN, sh(6, 15, 12))
    assert figures.one_touch is False
