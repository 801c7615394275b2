"""Business-hours arithmetic: China's 2026 holidays and make-up workdays as the pinned
``holidays`` package gives them, lunch breaks, outside-hours starts, weekends, a DST change
in Europe/Berlin, and business minutes as the inverse of adding business minutes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tickets.calendar import MAX_SEARCH_DAYS, BusinessCalendar, CalendarError, holiday_year

pytestmark = pytest.mark.unit

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
DAY = ((9 * 60, 12 * 60), (13 * 60, 18 * 60))
WEEKDAYS = dict.fromkeys(range(5), DAY)
CN = BusinessCalendar(zone="Asia/Shanghai", week=WEEKDAYS, country="CN")
DE = BusinessCalendar(zone="Europe/Berlin", week=dict.fromkeys(range(5), ((9 * 60, 18 * 60),)), country="DE")
ALWAYS = BusinessCalendar.twenty_four_seven("Asia/Shanghai")


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def be(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN)


def test_the_package_gives_china_2026_as_pinned() -> None:
    days_off, workdays = holiday_year("CN", None, 2026)
    autumn = {d for d in days_off if date(2026, 9, 1) <= d <= date(2026, 10, 31)}
    # 4 October is a Sunday: closed as a weekend, not listed as a holiday
    assert autumn == {date(2026, 9, 25), *(date(2026, 10, d) for d in (1, 2, 3, 5, 6, 7))}
    assert workdays == {
        date(2026, 1, 4),
        date(2026, 2, 14),
        date(2026, 2, 28),
        date(2026, 5, 9),
        date(2026, 9, 20),
        date(2026, 10, 10),
    }


@pytest.mark.parametrize(
    ("at", "is_open"),
    [
        (sh(2026, 9, 24, 10, 0), True),  # Thursday
        (sh(2026, 9, 25, 10, 0), False),  # Mid-Autumn Festival (a Friday)
        *((sh(2026, 10, d, 10, 0), False) for d in range(1, 8)),  # National Day
        (sh(2026, 10, 8, 9, 0), True),
        (sh(2026, 9, 19, 10, 0), False),  # an ordinary Saturday
        (sh(2026, 9, 20, 8, 59), False),  # the working Sunday
        (sh(2026, 9, 20, 9, 0), True),
        (sh(2026, 9, 20, 11, 59), True),
        (sh(2026, 9, 20, 12, 0), False),
        (sh(2026, 9, 20, 12, 59), False),
        (sh(2026, 9, 20, 13, 0), True),
        (sh(2026, 9, 20, 17, 59), True),
        (sh(2026, 9, 20, 18, 0), False),
        (sh(2026, 10, 10, 9, 0), True),  # the working Saturday
        (sh(2026, 10, 10, 12, 30), False),
        (sh(2026, 10, 10, 17, 59), True),
        (sh(2026, 10, 11, 10, 0), False),  # the Sunday after it
    ],
    ids=lambda v: v.isoformat() if isinstance(v, datetime) else str(v),
)
def test_china_2026_opening(at: datetime, is_open: bool) -> None:
    assert CN.is_open(at) is is_open
    assert CN.is_open(at.astimezone(UTC)) is is_open


@pytest.mark.parametrize(
    ("start", "minutes", "due"),
    [
        (sh(2026, 3, 4, 12, 30), 60, sh(2026, 3, 4, 14, 0)),  # lunch break
        (sh(2026, 3, 4, 11, 30), 60, sh(2026, 3, 4, 13, 30)),  # across lunch
        (sh(2026, 3, 6, 17, 30), 60, sh(2026, 3, 9, 9, 30)),  # Friday evening to Monday
        (sh(2026, 3, 7, 10, 0), 60, sh(2026, 3, 9, 10, 0)),  # Saturday starts Monday 09:00
        (sh(2026, 3, 4, 20, 0), 30, sh(2026, 3, 5, 9, 30)),  # evening starts next morning
        (sh(2026, 3, 4, 6, 0), 480, sh(2026, 3, 4, 18, 0)),  # a whole day
        (sh(2026, 9, 18, 17, 30), 60, sh(2026, 9, 20, 9, 30)),  # to the working Sunday
        (sh(2026, 9, 24, 17, 30), 60, sh(2026, 9, 28, 9, 30)),  # over Mid-Autumn
        (sh(2026, 9, 30, 17, 30), 60, sh(2026, 10, 8, 9, 30)),  # over National Day
        (sh(2026, 10, 9, 17, 30), 60, sh(2026, 10, 10, 9, 30)),  # to the working Saturday
        (sh(2026, 10, 3, 10, 0), 0, sh(2026, 10, 8, 9, 0)),  # 0 minutes: the next opening
    ],
    ids=lambda v: v.isoformat() if isinstance(v, datetime) else str(v),
)
def test_china_due_times(start: datetime, minutes: int, due: datetime) -> None:
    got = CN.add_business_minutes(start.astimezone(UTC), minutes)
    assert got == due and got.tzinfo is UTC
    assert CN.business_minutes_between(start, got) == minutes


def test_next_opening() -> None:
    assert CN.next_opening(sh(2026, 3, 7, 10, 0)) == sh(2026, 3, 9, 9, 0)
    assert CN.next_opening(sh(2026, 3, 4, 12, 15)) == sh(2026, 3, 4, 13, 0)
    assert CN.next_opening(sh(2026, 3, 4, 10, 15)) == sh(2026, 3, 4, 10, 15)  # open: itself
    assert CN.next_opening(sh(2026, 9, 30, 18, 0)) == sh(2026, 10, 8, 9, 0)


@pytest.mark.parametrize(
    ("start", "due", "offsets"),
    [
        # into summer time (29 March 2026): Friday CET, Monday CEST
        (be(2026, 3, 27, 17, 30), be(2026, 3, 30, 9, 30), (timedelta(hours=1), timedelta(hours=2))),
        # out of it (25 October 2026): Friday CEST, Monday CET
        (be(2026, 10, 23, 17, 30), be(2026, 10, 26, 9, 30), (timedelta(hours=2), timedelta(hours=1))),
    ],
    ids=["spring", "autumn"],
)
def test_berlin_dst(start: datetime, due: datetime, offsets: tuple[timedelta, timedelta]) -> None:
    got = DE.add_business_minutes(start.astimezone(UTC), 60)
    assert got == due
    assert (start.utcoffset(), got.astimezone(BERLIN).utcoffset()) == offsets
    assert got.astimezone(BERLIN).hour == 9 and got.astimezone(BERLIN).minute == 30
    assert DE.business_minutes_between(start, got) == 60


def test_24x7_is_plain_arithmetic() -> None:
    start = datetime(2026, 10, 1, 3, 17, 45, tzinfo=UTC)
    assert ALWAYS.add_business_minutes(start, 1500) == start + timedelta(minutes=1500)
    assert ALWAYS.business_minutes_between(start, start + timedelta(minutes=90, seconds=59)) == 90
    assert ALWAYS.is_open(start) and ALWAYS.next_opening(start) == start


def test_extra_dates_and_makeup_hours() -> None:
    cal = BusinessCalendar(
        zone="Asia/Shanghai",
        week={0: ((9 * 60, 17 * 60),), 1: DAY},
        country="CN",
        makeup_weekday=0,
        closed_dates=frozenset({date(2026, 3, 3)}),  # a Tuesday
        open_dates=frozenset({date(2026, 3, 8), date(2026, 10, 2)}),  # a Sunday, a holiday
    )
    assert not cal.is_open(sh(2026, 3, 3, 10, 0))
    assert cal.is_open(sh(2026, 3, 8, 16, 30)) and not cal.is_open(sh(2026, 3, 8, 17, 0))  # Monday's hours
    assert cal.is_open(sh(2026, 10, 2, 10, 0))
    assert cal.is_open(sh(2026, 9, 20, 12, 30))  # a make-up workday has Monday's hours here


def test_refusals() -> None:
    with pytest.raises(CalendarError, match="timezone-aware"):
        CN.is_open(datetime(2026, 3, 4, 10, 0))  # noqa: DTZ001 - the naive input refused
    never = BusinessCalendar(zone="UTC", week={})
    with pytest.raises(CalendarError, match=f"{MAX_SEARCH_DAYS} days"):
        never.next_opening(datetime(2026, 3, 4, tzinfo=UTC))
    with pytest.raises(CalendarError, match="ordered"):
        BusinessCalendar(zone="UTC", week={0: ((600, 700), (650, 800))})
    with pytest.raises(CalendarError, match="negative"):
        CN.add_business_minutes(sh(2026, 3, 4, 10, 0), -1)
    assert CN.business_minutes_between(sh(2026, 3, 4, 11, 0), sh(2026, 3, 4, 10, 0)) == 0


STARTS = st.datetimes(
    min_value=datetime(2025, 12, 1),  # noqa: DTZ001 - hypothesis draws naive bounds
    max_value=datetime(2027, 2, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@settings(max_examples=150, deadline=None)
@given(
    start=STARTS,
    minutes=st.integers(min_value=0, max_value=6000),
    which=st.sampled_from(["cn", "de", "24x7"]),
)
def test_between_inverts_add(start: datetime, minutes: int, which: str) -> None:
    cal = {"cn": CN, "de": DE, "24x7": ALWAYS}[which]
    due = cal.add_business_minutes(start, minutes)
    assert due >= start
    assert cal.business_minutes_between(start, due) == minutes
    if minutes:
        assert cal.is_open(due - timedelta(seconds=1))


@settings(max_examples=100, deadline=None)
@given(a=STARTS, span=st.integers(min_value=0, max_value=20 * 24 * 60))
def test_add_inverts_between(a: datetime, span: int) -> None:
    b = a + timedelta(minutes=span)
    minutes = CN.business_minutes_between(a, b)
    due = CN.add_business_minutes(a, minutes)
    assert due <= b or minutes == 0  # 0 minutes: the next opening, which may be after b
    assert CN.business_minutes_between(due, b) == 0
