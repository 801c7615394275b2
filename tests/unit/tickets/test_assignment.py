"""Who gets a ticket: the gold/black member's owner when on duty and under the cap,
else round-robin over the queue's on-duty agents under their cap (fair as the pointer
moves), else unassigned with the next attempt at the next shift (the next morning, the
next working day after a holiday, the working Saturday 10 October 2026) or in 15
minutes when everyone on duty is full; an unknown calendar is never on duty. Built on
the shipped config/service.yaml."""

from __future__ import annotations

import copy
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.definitions import SERVICE_CONFIG_FILE
from loyalty.staff import Staff
from tickets.assignment import RETRY_WHEN_FULL, VIP_TIERS, Choice, choose, on_duty
from tickets.calendar import CalendarError
from tickets.service_config import ServiceConfig

pytestmark = pytest.mark.unit

SHIPPED: dict[str, Any] = yaml.safe_load(Path(SERVICE_CONFIG_FILE).read_text())
CONFIG = ServiceConfig.model_validate(SHIPPED)
SHANGHAI = ZoneInfo("Asia/Shanghai")
QUEUE = "service"


def sh(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


TUESDAY_10 = sh(3, 10, 10)  # Tuesday 10 March 2026, 10:00 in Shanghai: on duty
TUESDAY_NIGHT = sh(3, 10, 22)


def agent(
    staff_id: str,
    *,
    role: str = "agent",
    queues: tuple[str, ...] = (QUEUE,),
    active: bool = True,
    calendar: str = "cn-business",
    max_open: int = 20,
) -> Staff:
    return Staff(
        staff_id=staff_id,
        name="Name",
        email="n@shop.example",
        role=role,  # type: ignore[arg-type]
        queues=queues,
        time_zone="Asia/Shanghai",
        locale="en",
        active=active,
        version=1,
        saved_at="2026-03-01T00:00:00.000Z",
        calendar=calendar,
        max_open=max_open,
    )


def pick(
    staff: list[Staff],
    now: datetime = TUESDAY_10,
    *,
    loads: dict[str, int] | None = None,
    pointer: str | None = None,
    tier: str | None = None,
    owner: Staff | None = None,
    config: ServiceConfig = CONFIG,
) -> Choice:
    return choose(QUEUE, tier, owner, staff, loads or {}, pointer, config, now)


def test_the_interface_constants() -> None:
    assert timedelta(minutes=15) == RETRY_WHEN_FULL
    assert frozenset({"gold", "black"}) == VIP_TIERS


@pytest.mark.parametrize(
    ("pointer", "expected"),
    [
        (None, "b"),
        ("a", "b"),  # "a" is not a candidate: the next one after it
        ("b", "d"),
        ("c", "d"),
        ("d", "f"),
        ("f", "b"),  # the last: wraps to the first
        ("zz", "b"),  # a pointer past every id wraps too
    ],
)
def test_round_robin_takes_the_first_candidate_after_the_pointer(pointer: str | None, expected: str) -> None:
    staff = [agent("f"), agent("b"), agent("d"), agent("a", active=False)]  # any order
    assert pick(staff, pointer=pointer) == Choice(expected, "round_robin", None)


@settings(max_examples=60, deadline=None)
@given(
    k=st.integers(min_value=1, max_value=8),
    tickets=st.integers(min_value=0, max_value=80),
    start=st.one_of(st.none(), st.text(alphabet="abcdefghij-0123456789", min_size=1, max_size=6)),
)
def test_round_robin_is_fair_as_the_pointer_advances(k: int, tickets: int, start: str | None) -> None:
    staff = [agent(f"agent-{n:02d}", max_open=500) for n in range(k)]
    pointer = start
    given_out: Counter[str] = Counter()
    for _ in range(tickets):
        choice = pick(staff, pointer=pointer, loads=dict(given_out))
        assert choice.via == "round_robin" and choice.assignee is not None
        given_out[choice.assignee] += 1
        pointer = choice.assignee
    counts = [given_out[person.staff_id] for person in staff]
    assert sum(counts) == tickets
    assert all(tickets // k <= count <= -(-tickets // k) for count in counts), counts


@pytest.mark.parametrize(
    ("excluded", "loads", "why"),
    [
        (agent("a-1", active=False), {}, "retired"),
        (agent("a-1", role="lead"), {}, "a lead"),
        (agent("a-1", role="rep"), {}, "a rep"),
        (agent("a-1", role="manager"), {}, "a manager"),
        (agent("a-1", queues=("returns",)), {}, "another queue"),
        (agent("a-1", queues=()), {}, "no queue"),
        (agent("a-1", max_open=3), {"a-1": 3}, "at the cap"),
        (agent("a-1", max_open=3), {"a-1": 7}, "over the cap"),
        (agent("a-1", calendar="mars-shift"), {}, "an unknown calendar"),
    ],
)
def test_who_is_never_a_candidate(excluded: Staff, loads: dict[str, int], why: str) -> None:
    # "a-1" sorts first: it would be chosen if it were a candidate
    choice = pick([excluded, agent("z-ok", max_open=3)], loads={**loads, "z-ok": 2})
    assert choice == Choice("z-ok", "round_robin", None), why


def test_a_candidate_just_under_the_cap_is_chosen() -> None:
    assert pick([agent("a-1", max_open=3)], loads={"a-1": 2}).assignee == "a-1"
    assert pick([agent("a-1", max_open=1)]).assignee == "a-1"  # no load given: 0


def test_an_off_duty_agent_is_skipped_for_one_on_a_24x7_calendar() -> None:
    staff = [agent("a-day"), agent("b-always", calendar="24x7")]
    assert pick(staff, TUESDAY_10).assignee == "a-day"
    assert pick(staff, TUESDAY_10, pointer="a-day").assignee == "b-always"
    night = pick(staff, TUESDAY_NIGHT)
    assert night == Choice("b-always", "round_robin", None)
    assert pick(staff, sh(3, 10, 12, 30)).assignee == "b-always"  # the lunch break


OWNER = agent("owner-1", queues=("vip-desk",))  # works another queue: owners need not work it


@pytest.mark.parametrize(
    ("tier", "owner", "loads", "now", "expected"),
    [
        ("gold", OWNER, {}, TUESDAY_10, Choice("owner-1", "owner", None)),
        ("black", OWNER, {}, TUESDAY_10, Choice("owner-1", "owner", None)),
        ("black", OWNER, {"owner-1": 19}, TUESDAY_10, Choice("owner-1", "owner", None)),
        ("silver", OWNER, {}, TUESDAY_10, Choice("pool", "round_robin", None)),
        ("bronze", OWNER, {}, TUESDAY_10, Choice("pool", "round_robin", None)),
        (None, OWNER, {}, TUESDAY_10, Choice("pool", "round_robin", None)),
        ("gold", None, {}, TUESDAY_10, Choice("pool", "round_robin", None)),
        ("gold", OWNER, {"owner-1": 20}, TUESDAY_10, Choice("pool", "round_robin", None)),
        ("gold", agent("owner-1", active=False), {}, TUESDAY_10, Choice("pool", "round_robin", None)),
        ("gold", agent("owner-1", role="rep"), {}, TUESDAY_10, Choice("pool", "round_robin", None)),
        ("gold", agent("owner-1", role="lead"), {}, TUESDAY_10, Choice("pool", "round_robin", None)),
        ("gold", agent("owner-1", calendar="nowhere"), {}, TUESDAY_10, Choice("pool", "round_robin", None)),
        # the owner off duty: round-robin (the pool works 24x7)
        ("gold", OWNER, {}, TUESDAY_NIGHT, Choice("pool", "round_robin", None)),
    ],
)
def test_a_vip_ticket_goes_to_the_owner_when_they_can_take_it(
    tier: str | None, owner: Staff | None, loads: dict[str, int], now: datetime, expected: Choice
) -> None:
    pool = agent("pool", calendar="24x7")
    assert pick([pool], now, tier=tier, owner=owner, loads=loads) == expected


def test_the_owner_on_duty_wins_over_the_round_robin_turn() -> None:
    owner = agent("m-owner")
    staff = [agent("a-first"), owner]
    assert pick(staff, tier="gold", owner=owner) == Choice("m-owner", "owner", None)
    assert pick(staff, tier="gold", owner=owner, pointer="m-owner").assignee == "m-owner"


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "retry_at", "why"),
    [
        (TUESDAY_NIGHT, utc(3, 11, 1), "the next morning, 09:00 in Shanghai"),
        (sh(3, 11, 3), utc(3, 11, 1), "before 09:00: the same morning"),
        (sh(3, 10, 12, 30), utc(3, 10, 5), "the lunch break: 13:00"),
        (sh(3, 13, 18), utc(3, 16, 1), "Friday 18:00: Monday morning"),
        (sh(3, 14, 11), utc(3, 16, 1), "a Saturday: Monday morning"),
        (sh(9, 30, 19), utc(10, 8, 1), "before National Day: Thursday 8 October"),
        (sh(10, 3, 10), utc(10, 8, 1), "during the holiday: the next working day"),
        (sh(9, 24, 20), utc(9, 28, 1), "before the Mid-Autumn Festival (25 Sep): Monday 28 Sep"),
        (sh(10, 9, 20), utc(10, 10, 1), "Friday 9 October: the working Saturday 10 October"),
        (sh(9, 19, 12), utc(9, 20, 1), "Saturday 19 Sep: the working Sunday 20 Sep"),
    ],
)
def test_nobody_on_duty_waits_for_the_next_shift(now: datetime, retry_at: datetime, why: str) -> None:
    staff = [agent("a-1"), agent("b-2"), agent("c-3", max_open=1)]
    choice = pick(staff, now, loads={"c-3": 1})
    assert choice == Choice(None, None, retry_at), why
    assert choice.retry_at is not None and choice.retry_at.tzinfo is UTC


def test_the_working_saturday_is_on_duty() -> None:
    assert pick([agent("a-1")], sh(10, 10, 9)).assignee == "a-1"
    assert on_duty(agent("a-1"), CONFIG, sh(10, 10, 17, 59))
    assert not on_duty(agent("a-1"), CONFIG, sh(10, 10, 18))
    assert not on_duty(agent("a-1"), CONFIG, sh(10, 1, 10))  # National Day


def _with_late_shift() -> ServiceConfig:
    raw = copy.deepcopy(SHIPPED)
    raw["calendars"]["late-shift"] = {
        "time_zone": "Asia/Shanghai",
        "hours": {day: ["20:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
    }
    return ServiceConfig.model_validate(raw)


def test_the_retry_is_the_earliest_opening_among_the_queues_agents() -> None:
    config = _with_late_shift()
    staff = [agent("a-day"), agent("b-late", calendar="late-shift")]
    evening = sh(3, 10, 19)
    assert pick(staff, evening, config=config) == Choice(None, None, utc(3, 10, 12))  # 20:00 today
    assert pick(staff, sh(3, 11, 1), config=config).retry_at == utc(3, 11, 1)  # 09:00 comes first
    # an agent of another queue, retired or not an agent opens nothing here
    others = [
        agent("c-late", calendar="late-shift", queues=("returns",)),
        agent("d-late", calendar="late-shift", active=False),
        agent("e-late", calendar="late-shift", role="lead"),
    ]
    assert pick([agent("a-day"), *others], evening, config=config).retry_at == utc(3, 11, 1)


def test_everyone_on_duty_at_the_cap_retries_in_15_minutes() -> None:
    staff = [agent("a-1", max_open=2), agent("b-2", max_open=5)]
    choice = pick(staff, TUESDAY_10, loads={"a-1": 2, "b-2": 5})
    assert choice == Choice(None, None, TUESDAY_10.astimezone(UTC) + timedelta(minutes=15))
    # the last quarter before closing: still 15 minutes (an attempt then waits for the morning)
    late = sh(3, 10, 17, 50)
    assert pick(staff, late, loads={"a-1": 2, "b-2": 5}).retry_at == late.astimezone(UTC) + RETRY_WHEN_FULL


def test_full_on_duty_and_others_off_duty_retries_at_the_earliest() -> None:
    config = _with_late_shift()
    staff = [agent("a-day", max_open=1), agent("b-late", calendar="late-shift")]
    full = {"a-day": 1}
    assert pick(staff, sh(3, 10, 10), loads=full, config=config).retry_at == utc(3, 10, 2, 15)
    # 17:50: the full day agent's quarter hour comes before the late shift's 20:00
    assert pick(staff, sh(3, 10, 17, 50), loads=full, config=config).retry_at == utc(3, 10, 10, 5)


@pytest.mark.parametrize(
    "staff",
    [
        [],
        [agent("a-1", active=False), agent("b-2", role="lead"), agent("c-3", queues=("returns",))],
        [agent("a-1", calendar="mars-shift")],  # never on duty: nothing to wait for
    ],
)
def test_no_active_agent_in_the_queue_plans_no_attempt(staff: list[Staff]) -> None:
    assert pick(staff, TUESDAY_NIGHT) == Choice(None, None, None)
    assert pick(staff, TUESDAY_10) == Choice(None, None, None)


def test_an_unknown_calendar_is_never_on_duty() -> None:
    person = agent("a-1", calendar="mars-shift")
    hours = [TUESDAY_10 + timedelta(hours=h) for h in range(0, 24 * 7, 5)]
    assert not any(on_duty(person, CONFIG, at) for at in hours)
    assert all(on_duty(agent("b-2", calendar="24x7"), CONFIG, at) for at in hours)
    assert on_duty(agent("c-3"), CONFIG, TUESDAY_10) and not on_duty(agent("c-3"), CONFIG, TUESDAY_NIGHT)


def test_a_naive_instant_is_refused() -> None:
    with pytest.raises(CalendarError):
        pick([], datetime(2026, 3, 10, 10))  # noqa: DTZ001
    with pytest.raises(CalendarError):
        on_duty(agent("a-1", calendar="mars-shift"), CONFIG, datetime(2026, 3, 10, 10))  # noqa: DTZ001


PEOPLE = st.builds(
    agent,
    st.sampled_from([f"s{n}" for n in range(8)]),
    role=st.sampled_from(["agent", "agent", "lead", "rep"]),
    queues=st.sampled_from([(QUEUE,), (QUEUE, "returns"), ("returns",), ()]),
    active=st.booleans(),
    calendar=st.sampled_from(["cn-business", "24x7", "mars-shift"]),
    max_open=st.integers(min_value=1, max_value=3),
)


@settings(max_examples=200, deadline=None)
@given(
    people=st.lists(PEOPLE, max_size=6, unique_by=lambda p: p.staff_id),
    load_values=st.lists(st.integers(min_value=0, max_value=4), min_size=8, max_size=8),
    hour=st.integers(min_value=0, max_value=24 * 14 - 1),
    pointer=st.one_of(st.none(), st.sampled_from([f"s{n}" for n in range(8)])),
)
def test_the_choice_is_always_an_eligible_agent_or_a_reasoned_wait(
    people: list[Staff], load_values: list[int], hour: int, pointer: str | None
) -> None:
    now = sh(9, 21, 0) + timedelta(hours=hour)  # two weeks over the 2026 autumn holidays
    loads = {f"s{n}": value for n, value in enumerate(load_values)}
    eligible = sorted(
        p.staff_id
        for p in people
        if p.active
        and p.role == "agent"
        and QUEUE in p.queues
        and loads[p.staff_id] < p.max_open
        and on_duty(p, CONFIG, now)
    )
    choice = pick(people, now, loads=loads, pointer=pointer)
    if eligible:
        after = [s for s in eligible if pointer is None or s > pointer]
        assert choice == Choice((after or eligible)[0], "round_robin", None)
        return
    assert choice.assignee is None and choice.via is None
    known = [
        p
        for p in people
        if p.active and p.role == "agent" and QUEUE in p.queues and p.calendar != "mars-shift"
    ]
    if not known:
        assert choice.retry_at is None
        return
    assert choice.retry_at is not None and choice.retry_at > now
    assert choice.retry_at <= now + RETRY_WHEN_FULL or not any(on_duty(p, CONFIG, now) for p in known)
    if choice.retry_at != now + RETRY_WHEN_FULL:  # a shift starts then
        assert any(CONFIG.calendar(p.calendar).next_opening(now) == choice.retry_at for p in known)
