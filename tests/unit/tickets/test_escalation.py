"""Escalation levels: notices at exact instants on cn-business (warning 15 wall minutes
before the due time, managers 120 business minutes after it, across a weekend and the
lunch break), only active targets, re-arming by a moved due time, late checks, the
ticket timer, recipients per level and the emails and events of a notice."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from loyalty.staff.model import Staff
from tickets import escalation
from tickets.calendar import BusinessCalendar
from tickets.domain import Notification, Sla, TargetState, Ticket

pytestmark = pytest.mark.unit

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = ((9 * 60, 12 * 60), (13 * 60, 18 * 60))
CN = BusinessCalendar(zone="Asia/Shanghai", week=dict.fromkeys(range(5), DAY), country="CN")
IDLE = TargetState(due_at=None, achieved_at=None, breached=False, business_minutes=0, calendar_minutes=0)


def sh(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


def running(due_at: datetime) -> TargetState:
    return TargetState(
        due_at=due_at, achieved_at=None, breached=False, business_minutes=10, calendar_minutes=10, active=True
    )


def sla(**targets: TargetState) -> Sla:
    states = {"first_response": IDLE, "next_reply": IDLE, "resolution": IDLE, **targets}
    return Sla(policy="default", policy_version=3, **states)


def ticket(**changes: object) -> Ticket:
    base = Ticket(
        tenant_id="acme",
        ticket_id="tk_0001",
        subject="Parcel never arrived",
        description="The courier says delivered",
        member_id="m-1",
        member_tier="silver",
        priority="high",
        category="delivery",
        queue="service",
        channel="web",
        status="open",
        assignee="agent-1",
        created_at=sh(10, 9, 9),
        policy="default",
        policy_version=3,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def person(staff_id: str, role: str, *, queues: tuple[str, ...] = ("service",), **more: object) -> Staff:
    fields: dict[str, object] = {
        "staff_id": staff_id,
        "name": staff_id,
        "email": f"{staff_id}@example.com",
        "role": role,
        "queues": queues,
        "time_zone": "Asia/Shanghai",
        "locale": "en",
        "active": True,
        "version": 1,
        "saved_at": "2026-01-01T00:00:00.000Z",
        **more,
    }
    return Staff(**fields)  # type: ignore[arg-type]


def by_level(found: list[Notification]) -> dict[str, datetime]:
    return {f"{n.target}/{n.level}": n.send_at for n in found}


# -- notices -------------------------------------------------------------------------


def test_a_breach_late_on_friday_reaches_managers_on_monday() -> None:
    found = escalation.notices(sla(first_response=running(sh(10, 16, 17, 30))), CN)
    assert by_level(found) == {
        "first_response/warning": sh(10, 16, 17, 15),
        "first_response/breach": sh(10, 16, 17, 30),
        "first_response/managers": sh(10, 19, 10, 30),  # 30 min on Friday, 90 on Monday
    }
    assert all(n.send_at.tzinfo is UTC and n.due_at.tzinfo is UTC for n in found)
    assert [n.level for n in found] == ["warning", "breach", "managers"]


def test_managers_skip_the_lunch_break_and_the_warning_does_not() -> None:
    found = by_level(escalation.notices(sla(resolution=running(sh(10, 8, 11, 0))), CN))
    assert found["resolution/managers"] == sh(10, 8, 14, 0)  # 11:00-12:00, then 13:00-14:00
    found = by_level(escalation.notices(sla(resolution=running(sh(10, 8, 13, 5))), CN))
    assert found["resolution/warning"] == sh(10, 8, 12, 50)  # wall clock, inside the break
    assert found["resolution/managers"] == sh(10, 8, 15, 5)


def test_the_working_saturday_counts_for_managers() -> None:
    found = by_level(escalation.notices(sla(first_response=running(sh(10, 9, 17, 30))), CN))
    assert found["first_response/managers"] == sh(10, 10, 10, 30)  # Saturday 10 October works


def test_managers_skip_national_day() -> None:
    found = by_level(escalation.notices(sla(next_reply=running(sh(9, 30, 17, 0))), CN))
    assert found["next_reply/managers"] == sh(10, 8, 10, 0)  # 1-7 October closed


def test_a_due_time_at_closing_time_reaches_managers_two_hours_into_the_next_day() -> None:
    found = by_level(escalation.notices(sla(resolution=running(sh(10, 16, 18, 0))), CN))
    assert found["resolution/managers"] == sh(10, 19, 11, 0)


def test_only_active_targets_have_notices() -> None:
    due = sh(10, 9, 15, 0)
    achieved = replace(running(due), achieved_at=sh(10, 9, 14, 0), active=False)
    paused = replace(running(due), due_at=None, paused=True, active=False)
    inactive_with_due = replace(running(due), active=False)
    active_without_due = replace(running(due), due_at=None)
    states = sla(first_response=achieved, next_reply=paused, resolution=inactive_with_due)
    assert escalation.notices(states, CN) == []
    assert escalation.notices(sla(resolution=active_without_due), CN) == []
    both = escalation.notices(sla(first_response=running(due), resolution=running(sh(10, 9, 16, 0))), CN)
    assert [(n.target, n.level) for n in both] == [
        ("first_response", "warning"),
        ("first_response", "breach"),
        ("resolution", "warning"),
        ("resolution", "breach"),
        ("first_response", "managers"),
        ("resolution", "managers"),
    ]


def test_the_claim_does_not_depend_on_the_zone_of_the_due_time() -> None:
    local = escalation.notices(sla(resolution=running(sh(10, 9, 15, 0))), CN)
    utc = escalation.notices(sla(resolution=running(sh(10, 9, 15, 0).astimezone(UTC))), CN)
    assert [n.claim for n in local] == [n.claim for n in utc]
    assert local[0].claim == "resolution#warning#2026-10-09T07:00:00+00:00"


def test_a_moved_due_time_rearms_its_notices() -> None:
    before = escalation.notices(sla(resolution=running(sh(10, 9, 10, 0))), CN)
    sent = {n.claim for n in escalation.due_notices(before, set(), sh(10, 9, 10, 0))}
    assert len(sent) == 2  # warning and breach of the old due time
    # a pause moved the due time: the same levels are claimed again for the new due time
    after = escalation.notices(sla(resolution=running(sh(10, 9, 15, 0))), CN)
    assert not {n.claim for n in after} & sent
    due = escalation.due_notices(after, sent, sh(10, 9, 15, 0))
    assert [(n.level, n.due_at) for n in due] == [("warning", sh(10, 9, 15, 0)), ("breach", sh(10, 9, 15, 0))]


# -- due notices and the timer -------------------------------------------------------


def test_a_late_check_sends_every_past_level_once() -> None:
    found = escalation.notices(sla(first_response=running(sh(10, 16, 17, 30))), CN)
    assert escalation.due_notices(found, set(), sh(10, 16, 17, 14)) == []
    late = escalation.due_notices(found, set(), sh(10, 19, 11, 0))  # the schedule was down
    assert [n.level for n in late] == ["warning", "breach", "managers"]
    sent = {n.claim for n in late}
    assert escalation.due_notices(found, sent, sh(10, 19, 11, 0)) == []
    assert escalation.due_notices(found, sent, sh(10, 26, 11, 0)) == []
    partly = escalation.due_notices(found, set(), sh(10, 19, 10, 29))
    assert [n.level for n in partly] == ["warning", "breach"]


def test_a_notice_is_due_at_its_exact_send_time() -> None:
    found = escalation.notices(sla(first_response=running(sh(10, 9, 17, 30))), CN)
    assert [n.level for n in escalation.due_notices(found, set(), sh(10, 9, 17, 15))] == ["warning"]
    just_before = sh(10, 9, 17, 15) - timedelta(microseconds=1)
    assert escalation.due_notices(found, set(), just_before) == []


def test_the_timer_is_the_earliest_unsent_notice_assignment_or_close() -> None:
    found = escalation.notices(sla(first_response=running(sh(10, 9, 17, 30))), CN)
    now = sh(10, 9, 16, 0)
    assert escalation.timer_at(found, set(), now, assign_at=None, close_at=None) == sh(10, 9, 17, 15)
    assert escalation.timer_at(found, set(), now, assign_at=sh(10, 9, 16, 30), close_at=None) == sh(
        10, 9, 16, 30
    )
    assert escalation.timer_at(found, set(), now, assign_at=None, close_at=sh(10, 9, 16, 45)) == sh(
        10, 9, 16, 45
    )
    warned = {found[0].claim}
    assert escalation.timer_at(found, warned, now, assign_at=None, close_at=None) == sh(10, 9, 17, 30)
    every = {n.claim for n in found}
    assert escalation.timer_at(found, every, now, assign_at=None, close_at=None) is None
    assert escalation.timer_at(found, every, now, assign_at=None, close_at=sh(10, 16, 9)) == sh(10, 16, 9)
    result = escalation.timer_at([], set(), now, assign_at=sh(10, 9, 16, 30), close_at=None)
    assert result is not None and result.tzinfo is UTC


def test_a_past_unsent_notice_makes_the_timer_now() -> None:
    found = escalation.notices(sla(first_response=running(sh(10, 9, 17, 30))), CN)
    now = sh(10, 9, 18, 0)
    assert escalation.timer_at(found, set(), now, assign_at=None, close_at=None) == now
    sent = {n.claim for n in found if n.level != "managers"}
    assert escalation.timer_at(found, sent, now, assign_at=None, close_at=None) == sh(10, 10, 10, 30)
    past = escalation.timer_at([], set(), now, assign_at=sh(10, 9, 16, 0), close_at=None)
    assert past == now


# -- recipients ----------------------------------------------------------------------

STAFF = (
    person("agent-1", "agent", locale="zh-CN"),
    person("agent-2", "agent", active=False),
    person("lead-1", "lead"),
    person("lead-2", "lead", locale="zh-CN"),
    person("lead-3", "lead", queues=("returns",)),
    person("lead-4", "lead", active=False),
    person("lead-5", "lead", email="LEAD-1@example.com"),  # the same address as lead-1
    person("boss-1", "manager", queues=()),
    person("boss-2", "manager", active=False),
    person("agent-3", "agent", email="boss-1@example.com"),
)
TENANT_EMAILS = ("escalations@example.com", "Boss-1@Example.com")


def notice(level: str) -> Notification:
    due = sh(10, 9, 15, 0).astimezone(UTC)
    return Notification(target="first_response", level=level, due_at=due, send_at=due)  # type: ignore[arg-type]


def test_a_warning_goes_to_the_assignee() -> None:
    got = escalation.recipients(notice("warning"), ticket(), STAFF, TENANT_EMAILS)
    assert got == [("agent-1@example.com", "zh-CN")]


@pytest.mark.parametrize("assignee", [None, "agent-2", "nobody"])
def test_a_warning_without_an_active_assignee_goes_to_the_queue_leads(assignee: str | None) -> None:
    got = escalation.recipients(notice("warning"), ticket(assignee=assignee), STAFF, TENANT_EMAILS)
    assert got == [("lead-1@example.com", "en"), ("lead-2@example.com", "zh-CN")]


def test_a_breach_goes_to_the_active_leads_of_the_queue_once_each() -> None:
    got = escalation.recipients(notice("breach"), ticket(), STAFF, TENANT_EMAILS)
    assert got == [("lead-1@example.com", "en"), ("lead-2@example.com", "zh-CN")]
    got = escalation.recipients(notice("breach"), ticket(queue="returns"), STAFF, TENANT_EMAILS)
    assert got == [("lead-3@example.com", "en")]
    assert escalation.recipients(notice("breach"), ticket(queue="vip"), STAFF, TENANT_EMAILS) == []


def test_managers_are_the_active_managers_and_the_tenant_addresses() -> None:
    got = escalation.recipients(notice("managers"), ticket(), STAFF, TENANT_EMAILS, default_locale="zh-CN")
    assert got == [("boss-1@example.com", "en"), ("escalations@example.com", "zh-CN")]
    got = escalation.recipients(notice("managers"), ticket(), STAFF, TENANT_EMAILS, default_locale="fr")
    assert got[1] == ("escalations@example.com", "en")


# -- email and event -----------------------------------------------------------------


@pytest.mark.parametrize("level", ["warning", "breach", "managers"])
@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_the_subject_names_the_ticket_the_target_and_the_level(level: str, locale: str) -> None:
    message = escalation.email(ticket(), notice(level), ["a@example.com"], locale, sla=sla(), calendar=CN)
    assert message.subject.startswith("[tk_0001] ")
    assert f"first_response {level}" in message.subject
    assert message.to == ["a@example.com"]
    assert message.tags == {"Rule": "ticket-escalation", "Tenant": "acme"}


def test_the_subjects_in_each_locale() -> None:
    en = escalation.email(ticket(), notice("breach"), ["a@example.com"], "en", sla=sla())
    zh = escalation.email(ticket(), notice("breach"), ["a@example.com"], "zh-CN", sla=sla())
    assert en.subject == "[tk_0001] first_response breach: past due"
    assert zh.subject == "[tk_0001] 首次响应 已超时 (first_response breach)"


def test_the_body_gives_the_facts_in_the_calendar_zone() -> None:
    message = escalation.email(ticket(), notice("breach"), ["a@example.com"], "en", sla=sla(), calendar=CN)
    for line in (
        "Ticket: tk_0001",
        "Priority: high",
        "Queue: service",
        "SLA policy: default v3",
        "Due: 2026-10-09 15:00 (Asia/Shanghai)",
        "Subject: Parcel never arrived",
    ):
        assert line in message.text.splitlines()
    assert "courier" not in message.text
    zh = escalation.email(ticket(), notice("breach"), ["a@example.com"], "zh-CN", sla=sla(), calendar=CN)
    assert "到期时间: 2026-10-09 15:00 (Asia/Shanghai)" in zh.text
    utc = escalation.email(ticket(), notice("breach"), ["a@example.com"], "en", sla=sla())
    assert "Due: 2026-10-09 07:00 (UTC)" in utc.text


def test_an_erased_ticket_email_has_no_subject_line() -> None:
    erased = ticket(erased=True)
    for locale in ("en", "zh-CN"):
        message = escalation.email(erased, notice("breach"), ["a@example.com"], locale, sla=sla())
        assert "Parcel" not in message.text and "Parcel" not in message.subject


def test_the_event_id_is_deterministic_and_distinct_per_claim() -> None:
    found = escalation.notices(
        sla(first_response=running(sh(10, 9, 15)), resolution=running(sh(10, 9, 15))), CN
    )
    ids = [escalation.event_id(ticket(), n) for n in found]
    assert ids == [escalation.event_id(ticket(), n) for n in found]
    assert len(set(ids)) == 6
    assert all(i.startswith("tkesc-") and len(i) == 38 for i in ids)
    moved = escalation.notices(sla(first_response=running(sh(10, 9, 16))), CN)
    assert not {escalation.event_id(ticket(), n) for n in moved} & set(ids)
    other = ticket(ticket_id="tk_0002")
    assert escalation.event_id(other, found[0]) != ids[0]


def test_the_event_data_has_identifiers_only() -> None:
    assert escalation.event_data(ticket(), notice("managers")) == {
        "ticket_id": "tk_0001",
        "target": "first_response",
        "level": "managers",
        "due_at": "2026-10-09T07:00:00.000Z",
    }
