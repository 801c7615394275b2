"""Unit tests for ``infra.local.cron`` (EventBridge Scheduler expressions)."""

from __future__ import annotations

import calendar
import time
from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.local.cron import CronSchedule, RateSchedule, Schedule, parse

pytestmark = pytest.mark.unit

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def local(
    tz: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0, fold: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(tz), fold=fold)


def fires(expression: str, after: datetime, until: datetime, tz: str = "UTC") -> list[datetime]:
    return list(parse(expression).occurrences(after, until, tz))


def fire_days(expression: str, after: datetime, until: datetime) -> list[tuple[int, int]]:
    """(month, day) of each firing, for day-matching tests evaluated in UTC."""
    return [(t.month, t.day) for t in fires(expression, after, until)]


def cron(expression: str) -> CronSchedule:
    schedule = parse(expression)
    assert isinstance(schedule, CronSchedule)
    return schedule


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 9 * * ? *)",
        "cron(0/15 * * * ? *)",
        "cron(30 6 * * ? *)",
        "cron(0 12 ? * MON-FRI *)",
        "cron(0 18 ? * 2-6 *)",
        "cron(0 8 1 * ? *)",
        "cron(15 10 ? * 6L 2022-2023)",
        "cron(0 9 ? * 3#2 *)",
        "cron(0 9 ? * TUE#2 *)",
        "cron(0 0 L * ? *)",
        "cron(0 0 LW * ? *)",
        "cron(0 0 15W * ? *)",
        "cron(0 0 ? * L *)",
        "cron(0 0 ? * FRIL *)",
        "cron(5,35 14 * * ? *)",
        "cron(0 9-17/2 ? JAN,JUL SUN,SAT 2030/5)",
        "cron(0 0 ? jan-mar mon *)",
        "cron(59 23 31 DEC ? 2199)",
        "cron(0 0 1 1 ? 1970)",
        "cron(0  9  *  *  ?  *)",
        "cron(0 9 * * ? 2025,2027-2029)",
        "rate(1 minute)",
        "rate(5 minutes)",
        "rate(1 hour)",
        "rate(12 hours)",
        "rate(1 day)",
        "rate(7 days)",
    ],
)
def test_parse_accepts_valid_expressions(expression: str) -> None:
    schedule = parse(expression)
    assert isinstance(schedule, Schedule)
    assert schedule.expression == expression
    assert str(schedule) == expression


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        # overall shape
        ("", "expected cron"),
        ("0 9 * * ? *", "expected cron"),
        ("at(2024-01-01T00:00:00)", "expected cron"),
        ("cron(0 9 * * ?)", "6 fields"),
        ("cron(0 9 * * ? * *)", "6 fields"),
        ("cron()", "6 fields"),
        (" cron(0 9 * * ? *)", "expected cron"),
        ("cron(0 9 * * ? *", "expected cron"),
        ("CRON(0 9 * * ? *)", "expected cron"),
        # ? rules
        ("cron(0 9 * * * *)", "exactly one of day-of-month and day-of-week"),
        ("cron(0 9 ? * ? *)", "exactly one of day-of-month and day-of-week"),
        ("cron(0 9 1 * MON *)", "exactly one of day-of-month and day-of-week"),
        ("cron(? 9 * * ? *)", "only allowed in the day-of-month and day-of-week"),
        ("cron(0 9 1 ? ? *)", "only allowed in the day-of-month and day-of-week"),
        ("cron(0 9 1 * ? ?)", "only allowed in the day-of-month and day-of-week"),
        ("cron(0 9 ?,1 * ? *)", "must be the whole day-of-month"),
        ("cron(0 9 * * ?,1 *)", "must be the whole day-of-week"),
        # out-of-range values
        ("cron(60 9 * * ? *)", "minutes value 60 is out of range 0-59"),
        ("cron(0 24 * * ? *)", "hours value 24 is out of range 0-23"),
        ("cron(0 9 0 * ? *)", "day-of-month value 0 is out of range 1-31"),
        ("cron(0 9 32 * ? *)", "day-of-month value 32 is out of range 1-31"),
        ("cron(0 9 * 13 ? *)", "month value 13 is out of range 1-12"),
        ("cron(0 9 * 0 ? *)", "month value 0 is out of range 1-12"),
        ("cron(0 9 ? * 0 *)", "day-of-week value 0 is out of range 1-7"),
        ("cron(0 9 ? * 8 *)", "day-of-week value 8 is out of range 1-7"),
        ("cron(0 9 * * ? 1969)", "year value 1969 is out of range 1970-2199"),
        ("cron(0 9 * * ? 2200)", "year value 2200 is out of range 1970-2199"),
        ("cron(0 9-25 * * ? *)", "hours value 25 is out of range"),
        # bad ranges, lists, steps, values
        ("cron(0 17-9 * * ? *)", "runs backwards"),
        ("cron(0 9 ? * FRI-MON *)", "runs backwards"),
        ("cron(0 9 * DEC-JAN ? *)", "runs backwards"),
        ("cron(0 9-1-3 * * ? *)", "invalid value"),
        ("cron(0 -1 * * ? *)", "invalid value ''"),
        ("cron(0 9- * * ? *)", "invalid value ''"),
        ("cron(0,,30 9 * * ? *)", "empty list element"),
        ("cron(0, 9 * * ? *)", "empty list element in minutes"),
        ("cron(*/0 9 * * ? *)", "step 0"),
        ("cron(*/61 9 * * ? *)", "step 61"),
        ("cron(*/ 9 * * ? *)", "invalid step ''"),
        ("cron(0/x 9 * * ? *)", "invalid step"),
        ("cron(0/1/2 9 * * ? *)", "invalid step"),
        ("cron(1.5 9 * * ? *)", "invalid value '1.5'"),
        ("cron(0 9 * * ? \u00b2\u2070\u00b2\u2075)", "invalid value"),
        ("cron(MON 9 * * ? *)", "invalid value 'MON' in minutes"),
        ("cron(0 9 * MON ? *)", "invalid value 'MON' in month"),
        ("cron(0 9 ? * JAN *)", "invalid value 'JAN' in day-of-week"),
        ("cron(0 9 ? * MONDAY *)", "invalid value 'MONDAY'"),
        ("cron(0 9 * * ? 25)", "out of range 1970-2199"),
        # L, W, #
        ("cron(L 9 * * ? *)", "invalid value 'L' in minutes"),
        ("cron(0 9 L-2 * ? *)", "must stand alone"),
        ("cron(0 9 L,15 * ? *)", "must stand alone"),
        ("cron(0 9 1-5W * ? *)", "W needs a single day"),
        ("cron(0 9 32W * ? *)", "out of range 1-31"),
        ("cron(0 9 W * ? *)", "W needs a single day"),
        ("cron(0 9 ? * 8L *)", "out of range 1-7"),
        ("cron(0 9 ? * 1-2L *)", "invalid value '1-2'"),
        ("cron(0 9 ? * 3#6 *)", "must be 1-5"),
        ("cron(0 9 ? * 3#0 *)", "must be 1-5"),
        ("cron(0 9 ? * 3# *)", "must be 1-5"),
        ("cron(0 9 ? * #2 *)", "invalid value ''"),
        ("cron(0 9 ? * 8#1 *)", "out of range 1-7"),
        ("cron(0 9 15W ? ? *)", "only allowed"),
        ("cron(0 9 ? * 3W *)", "invalid value '3W'"),
        # rate
        ("rate(1 minutes)", "singular unit 'minute'"),
        ("rate(1 hours)", "singular unit 'hour'"),
        ("rate(1 days)", "singular unit 'day'"),
        ("rate(5 minute)", "plural unit 'minutes'"),
        ("rate(2 day)", "plural unit 'days'"),
        ("rate(0 minutes)", "at least 1"),
        ("rate(-5 minutes)", "expected rate(value unit)"),
        ("rate(1.5 hours)", "expected rate(value unit)"),
        ("rate(5 seconds)", "unknown rate unit 'seconds'"),
        ("rate(2 weeks)", "unknown rate unit 'weeks'"),
        ("rate(1 month)", "unknown rate unit 'month'"),
        ("rate(5 Minutes)", "expected rate(value unit)"),
        ("rate(5minutes)", "expected rate(value unit)"),
        ("rate(5  minutes)", "expected rate(value unit)"),
        ("rate(minutes)", "expected rate(value unit)"),
        ("rate()", "expected rate(value unit)"),
        ("rate(5 minutes) ", "expected rate(value unit)"),
    ],
)
def test_parse_rejects_invalid_expressions(expression: str, message: str) -> None:
    with pytest.raises(ValueError, match="invalid schedule expression") as error:
        parse(expression)
    assert message in str(error.value)
    assert repr(expression) in str(error.value)


@pytest.mark.parametrize(
    ("field", "values"),
    [
        ("*", tuple(range(60))),
        ("0/15", (0, 15, 30, 45)),
        ("*/15", (0, 15, 30, 45)),
        ("5/20", (5, 25, 45)),
        ("10-20/5", (10, 15, 20)),
        ("10-21/5", (10, 15, 20)),
        ("58/1", (58, 59)),
        ("0/59", (0, 59)),
        ("0/60", (0,)),
        ("7", (7,)),
        ("30,0,15", (0, 15, 30)),
        ("1-3,2-4", (1, 2, 3, 4)),
        ("0-5/2,30", (0, 2, 4, 30)),
        ("59", (59,)),
    ],
)
def test_minute_field_lists_ranges_and_steps(field: str, values: tuple[int, ...]) -> None:
    assert cron(f"cron({field} 9 * * ? *)").minutes == values


def test_hour_month_and_year_fields() -> None:
    schedule = cron("cron(0 9-17/4 * JAN-MAR/2,nov ? 2030/50)")
    assert schedule.hours == (9, 13, 17)
    assert schedule.months == (1, 3, 11)
    assert schedule.years == (2030, 2080, 2130, 2180)
    assert cron("cron(0 0 * * ? *)").years == tuple(range(1970, 2200))


@pytest.mark.parametrize(
    ("expression", "value", "unit", "interval"),
    [
        ("rate(1 minute)", 1, "minute", timedelta(minutes=1)),
        ("rate(90 minutes)", 90, "minutes", timedelta(minutes=90)),
        ("rate(2 hours)", 2, "hours", timedelta(hours=2)),
        ("rate(3 days)", 3, "days", timedelta(days=3)),
    ],
)
def test_rate_interval(expression: str, value: int, unit: str, interval: timedelta) -> None:
    schedule = parse(expression)
    assert schedule == RateSchedule(expression, value, unit)
    assert isinstance(schedule, RateSchedule)
    assert schedule.interval == interval


# --------------------------------------------------------------------------- window semantics


def test_window_is_exclusive_after_and_inclusive_until() -> None:
    assert fires("cron(0 9 * * ? *)", utc(2024, 1, 1, 9), utc(2024, 1, 3, 9)) == [
        utc(2024, 1, 2, 9),
        utc(2024, 1, 3, 9),
    ]
    assert fires("cron(0 9 * * ? *)", utc(2024, 1, 1, 8, 59, 59), utc(2024, 1, 1, 9)) == [utc(2024, 1, 1, 9)]
    assert fires("cron(0 9 * * ? *)", utc(2024, 1, 1, 9), utc(2024, 1, 1, 9)) == []
    assert fires("cron(0 9 * * ? *)", utc(2024, 1, 2), utc(2024, 1, 1)) == []


def test_fire_times_are_utc_aware_whole_minutes() -> None:
    times = fires("cron(*/7 * * * ? *)", utc(2024, 5, 1, 0, 0, 30), utc(2024, 5, 1, 3), BERLIN)
    assert times
    assert times[0] == utc(2024, 5, 1, 0, 7)
    for t in times:
        assert t.tzinfo is UTC
        assert (t.second, t.microsecond) == (0, 0)
    assert times == sorted(set(times))


def test_after_and_until_may_be_in_any_zone() -> None:
    after = datetime(2024, 1, 1, 10, 0, tzinfo=timezone(timedelta(hours=5)))  # 05:00 UTC
    until = local(NEW_YORK, 2024, 1, 1, 2)  # 07:00 UTC
    assert fires("cron(0 * * * ? *)", after, until) == [utc(2024, 1, 1, 6), utc(2024, 1, 1, 7)]


def test_partial_start_hour_and_day_are_skipped_correctly() -> None:
    assert fires("cron(10,20,40 9,10 * * ? *)", utc(2024, 1, 1, 9, 20), utc(2024, 1, 1, 23)) == [
        utc(2024, 1, 1, 9, 40),
        utc(2024, 1, 1, 10, 10),
        utc(2024, 1, 1, 10, 20),
        utc(2024, 1, 1, 10, 40),
    ]
    assert fires("cron(0 8 * * ? *)", utc(2024, 1, 31, 9), utc(2024, 2, 2)) == [utc(2024, 2, 1, 8)]


@pytest.mark.parametrize("bad", [datetime(2024, 1, 1), datetime(2024, 1, 1, 12, 30)])
def test_naive_datetimes_are_rejected(bad: datetime) -> None:
    aware = utc(2024, 1, 2)
    for schedule in (parse("cron(0 9 * * ? *)"), parse("rate(5 minutes)")):
        # raised by the call itself, not only once the iterator is consumed
        with pytest.raises(ValueError, match="after must be a timezone-aware"):
            schedule.occurrences(bad, aware, "UTC")
        with pytest.raises(ValueError, match="until must be a timezone-aware"):
            schedule.occurrences(utc(2024, 1, 1), bad, "UTC")
        with pytest.raises(ValueError, match="anchor must be a timezone-aware"):
            schedule.occurrences(utc(2024, 1, 1), aware, "UTC", anchor=bad)
        with pytest.raises(ValueError, match="after must be a timezone-aware"):
            schedule.next_after(bad, "UTC")


@pytest.mark.parametrize("tz", ["Mars/Olympus_Mons", "", "../etc/passwd", "Europe/"])
def test_unknown_time_zone_is_rejected(tz: str) -> None:
    for schedule in (parse("cron(0 9 * * ? *)"), parse("rate(5 minutes)")):
        with pytest.raises(ValueError, match="unknown IANA time zone"):
            schedule.occurrences(utc(2024, 1, 1), utc(2024, 1, 2), tz)


def test_next_after() -> None:
    schedule = parse("cron(0/15 * * * ? *)")
    assert schedule.next_after(utc(2024, 1, 1, 10), "UTC") == utc(2024, 1, 1, 10, 15)
    assert schedule.next_after(utc(2024, 1, 1, 10, 0, 1), "UTC") == utc(2024, 1, 1, 10, 15)
    assert schedule.next_after(utc(2024, 1, 1, 9, 59, 59), "UTC") == utc(2024, 1, 1, 10)
    assert schedule.next_after(utc(2024, 12, 31, 23, 50), "UTC") == utc(2025, 1, 1)


def test_next_after_returns_none_when_the_schedule_is_over() -> None:
    assert parse("cron(0 9 * * ? 2024)").next_after(utc(2024, 12, 31, 9), "UTC") is None
    assert parse("cron(0 9 * * ? *)").next_after(utc(2199, 12, 31, 9), "UTC") is None
    assert parse("cron(0 9 * * ? *)").next_after(utc(2199, 12, 31, 8), "UTC") == utc(2199, 12, 31, 9)
    assert parse("cron(0 9 * * ? *)").next_after(datetime.max.replace(tzinfo=UTC), BERLIN) is None


def test_window_before_1970_starts_at_the_first_possible_year() -> None:
    assert parse("cron(0 0 1 1 ? *)").next_after(datetime.min.replace(tzinfo=UTC), "UTC") == utc(1970, 1, 1)
    assert fires("cron(0 0 1 1 ? *)", utc(1900, 1, 1), utc(1971, 1, 1)) == [utc(1970, 1, 1), utc(1971, 1, 1)]


# --------------------------------------------------------------------------- days


def test_day_of_week_numbering_starts_with_sunday() -> None:
    week = (utc(2024, 1, 6, 23), utc(2024, 1, 13, 23))  # Sun 7 Jan .. Sat 13 Jan 2024
    expected = {1: 7, 2: 8, 3: 9, 4: 10, 5: 11, 6: 12, 7: 13}
    names = {1: "SUN", 2: "MON", 3: "TUE", 4: "WED", 5: "THU", 6: "FRI", 7: "SAT"}
    for number, day in expected.items():
        assert fire_days(f"cron(0 0 ? * {number} *)", *week) == [(1, day)]
        assert fire_days(f"cron(0 0 ? * {names[number]} *)", *week) == [(1, day)]
        assert fire_days(f"cron(0 0 ? * {names[number].lower()} *)", *week) == [(1, day)]
        assert utc(2024, 1, day).isoweekday() % 7 + 1 == number


def test_day_of_week_ranges_lists_and_steps() -> None:
    two_weeks = (utc(2024, 1, 6, 23), utc(2024, 1, 20, 23))  # Sun 7 .. Sat 20 Jan
    weekdays = [(1, d) for d in (8, 9, 10, 11, 12, 15, 16, 17, 18, 19)]
    assert fire_days("cron(0 0 ? * MON-FRI *)", *two_weeks) == weekdays
    assert fire_days("cron(0 0 ? * 2-6 *)", *two_weeks) == weekdays
    assert fire_days("cron(0 0 ? * SUN,SAT *)", *two_weeks) == [(1, d) for d in (7, 13, 14, 20)]
    assert fire_days("cron(0 0 ? * 1,7 *)", *two_weeks) == [(1, d) for d in (7, 13, 14, 20)]
    assert fire_days("cron(0 0 ? * */2 *)", *two_weeks) == [(1, d) for d in (7, 9, 11, 13, 14, 16, 18, 20)]
    assert fire_days("cron(0 0 ? * MON/3 *)", *two_weeks) == [(1, d) for d in (8, 11, 15, 18)]
    assert len(fire_days("cron(0 0 ? * * *)", *two_weeks)) == 14


def test_day_of_month_lists_ranges_and_steps() -> None:
    january = (utc(2023, 12, 31, 23), utc(2024, 1, 31, 23))
    assert fire_days("cron(0 0 1,15 * ? *)", *january) == [(1, 1), (1, 15)]
    assert fire_days("cron(0 0 28-31 * ? *)", *january) == [(1, 28), (1, 29), (1, 30), (1, 31)]
    assert fire_days("cron(0 0 1/10 * ? *)", *january) == [(1, 1), (1, 11), (1, 21), (1, 31)]
    assert fire_days("cron(0 0 */10 * ? *)", *january) == [(1, 1), (1, 11), (1, 21), (1, 31)]
    assert len(fire_days("cron(0 0 * * ? *)", *january)) == 31


def test_day_31_skips_short_months() -> None:
    year = (utc(2023, 12, 31, 23), utc(2024, 12, 31, 23))
    assert fire_days("cron(0 0 31 * ? *)", *year) == [(m, 31) for m in (1, 3, 5, 7, 8, 10, 12)]
    assert fire_days("cron(0 0 30 * ? *)", *year) == [(m, 30) for m in range(1, 13) if m != 2]


def test_months_by_name_and_number() -> None:
    year = (utc(2023, 12, 31, 23), utc(2024, 12, 31, 23))
    assert fire_days("cron(0 0 1 JAN,jul ? *)", *year) == [(1, 1), (7, 1)]
    assert fire_days("cron(0 0 1 MAR-MAY ? *)", *year) == [(3, 1), (4, 1), (5, 1)]
    assert fire_days("cron(0 0 1 */4 ? *)", *year) == [(1, 1), (5, 1), (9, 1)]
    assert fire_days("cron(0 0 1 FEB/5 ? *)", *year) == [(2, 1), (7, 1), (12, 1)]


def test_leap_day() -> None:
    schedule = parse("cron(0 9 29 2 ? *)")
    assert schedule.next_after(utc(2025, 3, 1), "UTC") == utc(2028, 2, 29, 9)
    assert schedule.next_after(utc(2024, 2, 29, 9), BERLIN) == utc(2028, 2, 29, 8)
    # 2100 is not a leap year (divisible by 100, not by 400); 2000 was.
    assert schedule.next_after(utc(2096, 3, 1), "UTC") == utc(2104, 2, 29, 9)
    assert schedule.next_after(utc(1999, 1, 1), "UTC") == utc(2000, 2, 29, 9)
    assert parse("cron(0 9 29 2 ? 2025-2027)").next_after(utc(2024, 3, 1), "UTC") is None


def test_impossible_dates_never_fire_and_are_fast() -> None:
    started = time.perf_counter()
    assert parse("cron(0 0 30 2 ? *)").next_after(utc(1970, 1, 1), "UTC") is None
    assert parse("cron(0 0 31 4,6,9,11 ? *)").next_after(utc(1970, 1, 1), BERLIN) is None
    assert time.perf_counter() - started < 2


def test_last_day_of_month() -> None:
    year = (utc(2023, 12, 31, 23), utc(2024, 6, 30, 23))
    assert fire_days("cron(0 0 L * ? *)", *year) == [(1, 31), (2, 29), (3, 31), (4, 30), (5, 31), (6, 30)]
    assert fires("cron(0 0 L 2 ? *)", utc(2023, 1, 1), utc(2023, 12, 31)) == [utc(2023, 2, 28)]


def test_l_alone_in_day_of_week_is_saturday() -> None:
    january = (utc(2023, 12, 31, 23), utc(2024, 1, 31, 23))
    saturdays = [(1, 6), (1, 13), (1, 20), (1, 27)]
    assert fire_days("cron(0 0 ? * L *)", *january) == saturdays
    assert fire_days("cron(0 0 ? * 7 *)", *january) == saturdays
    assert fire_days("cron(0 0 ? * SAT *)", *january) == saturdays


def test_last_weekday_of_month() -> None:
    quarter = (utc(2023, 12, 31, 23), utc(2024, 3, 31, 23))
    last_fridays = [(1, 26), (2, 23), (3, 29)]
    assert fire_days("cron(0 0 ? * 6L *)", *quarter) == last_fridays
    assert fire_days("cron(0 0 ? * FRIL *)", *quarter) == last_fridays
    assert fire_days("cron(0 0 ? * 1L *)", *quarter) == [(1, 28), (2, 25), (3, 31)]  # last Sundays
    assert fire_days("cron(0 0 ? * 7L *)", *quarter) == [(1, 27), (2, 24), (3, 30)]  # last Saturdays
    assert fire_days("cron(0 0 ? * 5L *)", *quarter) == [(1, 25), (2, 29), (3, 28)]  # last Thursdays


def test_nth_weekday_of_month() -> None:
    quarter = (utc(2023, 12, 31, 23), utc(2024, 3, 31, 23))
    assert fire_days("cron(0 0 ? * 3#2 *)", *quarter) == [(1, 9), (2, 13), (3, 12)]  # 2nd Tuesday
    assert fire_days("cron(0 0 ? * TUE#2 *)", *quarter) == [(1, 9), (2, 13), (3, 12)]
    assert fire_days("cron(0 0 ? * 1#1 *)", *quarter) == [(1, 7), (2, 4), (3, 3)]  # 1st Sunday
    assert fire_days("cron(0 0 ? * 5#1 *)", *quarter) == [(1, 4), (2, 1), (3, 7)]  # 1st Thursday
    # A fifth Monday exists only in some months: 2024 has them in Jan, Apr, Jul, Sep and Dec.
    year = (utc(2023, 12, 31, 23), utc(2024, 12, 31, 23))
    assert fire_days("cron(0 0 ? * 2#5 *)", *year) == [(1, 29), (4, 29), (7, 29), (9, 30), (12, 30)]


def test_nth_weekday_matches_the_calendar_for_every_combination() -> None:
    for weekday in range(1, 8):
        python_weekday = (weekday - 2) % 7  # Monday=0
        for nth in range(1, 6):
            got = fire_days(f"cron(0 0 ? * {weekday}#{nth} *)", utc(2023, 12, 31, 23), utc(2024, 12, 31, 23))
            expected = []
            for month in range(1, 13):
                days = [
                    d
                    for d in range(1, calendar.monthrange(2024, month)[1] + 1)
                    if calendar.weekday(2024, month, d) == python_weekday
                ]
                if len(days) >= nth:
                    expected.append((month, days[nth - 1]))
            assert got == expected, (weekday, nth)


@pytest.mark.parametrize(
    ("field", "year", "month", "day"),
    [
        ("15W", 2024, 1, 15),  # Monday: itself
        ("15W", 2024, 6, 14),  # Saturday 15 June: Friday before
        ("16W", 2024, 6, 17),  # Sunday 16 June: Monday after
        ("1W", 2024, 6, 3),  # Saturday 1 June: not back into May, Monday 3rd
        ("1W", 2024, 9, 2),  # Sunday 1 September: Monday 2nd
        ("30W", 2024, 6, 28),  # Sunday 30 June is the last day: Friday 28th
        ("31W", 2024, 3, 29),  # Sunday 31 March: Friday 29th
        ("LW", 2024, 3, 29),  # last day Sunday 31 March: Friday 29th
        ("LW", 2024, 6, 28),  # last day Sunday 30 June
        ("LW", 2026, 2, 27),  # last day Saturday 28 February 2026
        ("LW", 2024, 9, 30),  # last day Monday 30 September: itself
        ("1W", 2025, 11, 3),  # Saturday 1 November 2025
    ],
)
def test_nearest_weekday(field: str, year: int, month: int, day: int) -> None:
    after = datetime(year, month, 1, tzinfo=UTC) - timedelta(minutes=1)
    assert parse(f"cron(0 0 {field} * ? *)").next_after(after, "UTC") == utc(year, month, day)


def test_nearest_weekday_skips_months_without_that_day() -> None:
    # June 2024 has 30 days: 31W fires in May and July only.
    assert fire_days("cron(0 0 31W * ? *)", utc(2024, 5, 1), utc(2024, 7, 31, 23)) == [(5, 31), (7, 31)]


# --------------------------------------------------------------------------- time zones and DST


def test_wall_clock_time_in_the_given_zone() -> None:
    assert fires("cron(0 9 * * ? *)", utc(2024, 1, 15), utc(2024, 1, 16), BERLIN) == [utc(2024, 1, 15, 8)]
    assert fires("cron(0 9 * * ? *)", utc(2024, 7, 15), utc(2024, 7, 16), BERLIN) == [utc(2024, 7, 15, 7)]
    assert fires("cron(0 9 * * ? *)", utc(2024, 7, 15), utc(2024, 7, 16), NEW_YORK) == [utc(2024, 7, 15, 13)]
    assert fires("cron(0 9 * * ? *)", utc(2024, 7, 15), utc(2024, 7, 16), "Asia/Kolkata") == [
        utc(2024, 7, 15, 3, 30)
    ]


def test_day_of_week_is_evaluated_on_the_local_date() -> None:
    # 23:30 on Monday in New York is already Tuesday in UTC.
    assert fires("cron(30 23 ? * MON *)", utc(2024, 1, 1), utc(2024, 1, 8), NEW_YORK) == [
        utc(2024, 1, 2, 4, 30)
    ]
    # 00:30 on the 1st in Berlin is still the previous month in UTC.
    assert fires("cron(30 0 1 * ? *)", utc(2024, 1, 15), utc(2024, 3, 15), BERLIN) == [
        utc(2024, 1, 31, 23, 30),
        utc(2024, 2, 29, 23, 30),
    ]


def test_berlin_spring_forward_gap_fires_once_at_the_end_of_the_gap() -> None:
    # 2024-03-31: 02:00 CET jumps to 03:00 CEST (01:00 UTC); 02:30 does not exist.
    assert fires("cron(30 2 * * ? *)", utc(2024, 3, 29), utc(2024, 4, 2), BERLIN) == [
        utc(2024, 3, 29, 1, 30),  # 02:30 CET
        utc(2024, 3, 30, 1, 30),  # 02:30 CET
        utc(2024, 3, 31, 1, 0),  # first instant after the gap: 03:00 CEST
        utc(2024, 4, 1, 0, 30),  # 02:30 CEST
    ]
    assert parse("cron(30 2 * * ? *)").next_after(utc(2024, 3, 30, 12), BERLIN) == utc(2024, 3, 31, 1)


def test_gap_times_collapse_into_one_firing() -> None:
    # 02:00, 02:30 and 03:00 on the spring-forward day all mean 01:00 UTC: fires once.
    assert fires("cron(0,30 2,3 31 3 ? 2024)", utc(2024, 3, 30), utc(2024, 4, 1), BERLIN) == [
        utc(2024, 3, 31, 1, 0),
        utc(2024, 3, 31, 1, 30),
    ]


def test_berlin_fall_back_ambiguous_time_fires_once_at_first_occurrence() -> None:
    # 2024-10-27: 03:00 CEST falls back to 02:00 CET, so 02:30 happens twice.
    assert fires("cron(30 2 * * ? *)", utc(2024, 10, 25), utc(2024, 10, 29), BERLIN) == [
        utc(2024, 10, 25, 0, 30),
        utc(2024, 10, 26, 0, 30),
        utc(2024, 10, 27, 0, 30),  # 02:30 CEST, not again at 02:30 CET (01:30 UTC)
        utc(2024, 10, 28, 1, 30),
    ]


def test_berlin_quarter_hourly_across_both_transitions() -> None:
    spring = fires("cron(0/15 * * * ? *)", utc(2024, 3, 30, 23), utc(2024, 3, 31, 22), BERLIN)
    assert len(spring) == 92  # 23-hour day: 02:00-02:45 collapse onto 03:00 CEST
    assert spring.count(utc(2024, 3, 31, 1)) == 1
    assert utc(2024, 3, 31, 0, 45) in spring  # 01:45 CET
    assert all(b - a == timedelta(minutes=15) for a, b in pairwise(spring))

    autumn = fires("cron(0/15 * * * ? *)", utc(2024, 10, 26, 22), utc(2024, 10, 27, 23), BERLIN)
    assert len(autumn) == 96  # 25-hour day, but the repeated hour fires only once
    assert utc(2024, 10, 27, 0, 45) in autumn  # 02:45 CEST
    assert utc(2024, 10, 27, 1, 0) not in autumn  # 02:00 CET
    gaps = [b - a for a, b in pairwise(autumn)]
    assert gaps.count(timedelta(minutes=75)) == 1  # 02:45 CEST -> 03:00 CET
    assert set(gaps) == {timedelta(minutes=15), timedelta(minutes=75)}


def test_new_york_spring_forward() -> None:
    # 2024-03-10: 02:00 EST jumps to 03:00 EDT (07:00 UTC).
    assert fires("cron(30 2 * * ? *)", utc(2024, 3, 9), utc(2024, 3, 12), NEW_YORK) == [
        utc(2024, 3, 9, 7, 30),
        utc(2024, 3, 10, 7, 0),
        utc(2024, 3, 11, 6, 30),
    ]
    assert parse("cron(0 2 ? * SUN *)").next_after(utc(2024, 3, 5), NEW_YORK) == utc(2024, 3, 10, 7)


def test_new_york_fall_back() -> None:
    # 2024-11-03: 02:00 EDT falls back to 01:00 EST; 01:30 happens at 05:30 and 06:30 UTC.
    assert fires("cron(30 1 * * ? *)", utc(2024, 11, 2), utc(2024, 11, 5), NEW_YORK) == [
        utc(2024, 11, 2, 5, 30),
        utc(2024, 11, 3, 5, 30),
        utc(2024, 11, 4, 6, 30),
    ]
    hourly = fires("cron(0 * * * ? *)", utc(2024, 11, 3, 3), utc(2024, 11, 3, 9), NEW_YORK)
    # 00:00 EDT, 01:00 EDT, (01:00 EST skipped), 02:00 EST, 03:00 EST, 04:00 EST
    assert hourly == [utc(2024, 11, 3, h) for h in (4, 5, 7, 8, 9)]


def test_window_starting_in_the_repeated_hour() -> None:
    # After 01:10 EST (second pass of the repeated hour) the wall times 01:15-01:45
    # already fired during the first pass, so the next firing is 02:00 EST.
    after = local(NEW_YORK, 2024, 11, 3, 1, 10, fold=1)
    assert after.astimezone(UTC) == utc(2024, 11, 3, 6, 10)
    assert parse("cron(0/15 * * * ? *)").next_after(after, NEW_YORK) == utc(2024, 11, 3, 7)
    # ...while after 01:10 EDT (first pass) the next one is 01:15 EDT.
    after = local(NEW_YORK, 2024, 11, 3, 1, 10, fold=0)
    assert parse("cron(0/15 * * * ? *)").next_after(after, NEW_YORK) == utc(2024, 11, 3, 5, 15)


def test_zone_with_half_hour_dst_and_whole_day_gap() -> None:
    # Lord Howe Island shifts by 30 minutes: 02:00 -> 02:30 on 2024-10-06.
    assert fires("cron(15 2 6 10 ? 2024)", utc(2024, 10, 1), utc(2024, 10, 7), "Australia/Lord_Howe") == [
        utc(2024, 10, 5, 15, 30)  # 02:30 +11:00
    ]
    # Samoa skipped 30 December 2011 entirely: a daily job fires once at the start of 31 Dec.
    daily = fires("cron(0 12 * * ? *)", utc(2011, 12, 28), utc(2012, 1, 1), "Pacific/Apia")
    assert daily == [
        utc(2011, 12, 28, 22),  # 12:00 -10:00 on the 28th
        utc(2011, 12, 29, 22),  # 12:00 -10:00 on the 29th
        utc(2011, 12, 30, 10),  # the 30th: 00:00 +14:00 on the 31st
        utc(2011, 12, 30, 22),  # 12:00 +14:00 on the 31st
        utc(2011, 12, 31, 22),  # 12:00 +14:00 on 1 January
    ]


# --------------------------------------------------------------------------- performance


def test_one_year_of_quarter_hours_is_fast() -> None:
    schedule = parse("cron(0/15 * * * ? *)")
    started = time.perf_counter()
    times = list(schedule.occurrences(utc(2025, 1, 1), utc(2026, 1, 1), "UTC"))
    elapsed = time.perf_counter() - started
    assert len(times) == 35_040
    assert times[0] == utc(2025, 1, 1, 0, 15)
    assert times[-1] == utc(2026, 1, 1)
    assert elapsed < 2, f"took {elapsed:.2f}s"

    started = time.perf_counter()
    berlin = list(schedule.occurrences(utc(2025, 1, 1), utc(2026, 1, 1), BERLIN))
    assert time.perf_counter() - started < 2
    assert len(berlin) == 35_040 - 4  # the four quarter hours of the spring-forward gap collapse


def test_finding_a_rare_occurrence_is_fast() -> None:
    started = time.perf_counter()
    for year in range(1970, 2190, 5):
        assert parse("cron(0 9 29 2 ? *)").next_after(utc(year, 3, 1), BERLIN) is not None
    assert parse("cron(0 0 ? * 2#5 2199)").next_after(utc(1970, 1, 1), NEW_YORK) == utc(2199, 4, 29, 4)
    assert time.perf_counter() - started < 2


# --------------------------------------------------------------------------- rate


def test_rate_defaults_to_anchoring_at_after() -> None:
    schedule = parse("rate(5 minutes)")
    assert list(schedule.occurrences(utc(2024, 1, 1, 10), utc(2024, 1, 1, 10, 20), "UTC")) == [
        utc(2024, 1, 1, 10, 5),
        utc(2024, 1, 1, 10, 10),
        utc(2024, 1, 1, 10, 15),
        utc(2024, 1, 1, 10, 20),
    ]
    assert schedule.next_after(utc(2024, 1, 1, 10, 2, 30), "UTC") == utc(2024, 1, 1, 10, 7, 30)


def test_rate_is_anchored_at_the_start_time() -> None:
    schedule = parse("rate(5 minutes)")
    start = utc(2024, 1, 1, 9, 58, 30)
    assert list(schedule.occurrences(utc(2024, 1, 1, 10), utc(2024, 1, 1, 10, 15), "UTC", anchor=start)) == [
        utc(2024, 1, 1, 10, 3, 30),
        utc(2024, 1, 1, 10, 8, 30),
        utc(2024, 1, 1, 10, 13, 30),
    ]
    # exactly on a fire time: excluded as `after`, included as `until`
    assert list(
        schedule.occurrences(utc(2024, 1, 1, 10, 3, 30), utc(2024, 1, 1, 10, 13, 30), "UTC", anchor=start)
    ) == [utc(2024, 1, 1, 10, 8, 30), utc(2024, 1, 1, 10, 13, 30)]
    assert schedule.next_after(utc(2024, 1, 1, 10), "UTC", anchor=start) == utc(2024, 1, 1, 10, 3, 30)
    # far from the anchor: no drift
    assert schedule.next_after(utc(2025, 1, 1), "UTC", anchor=start) == utc(2025, 1, 1, 0, 3, 30)


def test_rate_start_in_the_future_fires_at_the_start_and_not_before() -> None:
    schedule = parse("rate(5 minutes)")
    start = utc(2024, 1, 1, 10, 2)
    assert list(schedule.occurrences(utc(2024, 1, 1, 9), utc(2024, 1, 1, 10, 12), "UTC", anchor=start)) == [
        utc(2024, 1, 1, 10, 2),
        utc(2024, 1, 1, 10, 7),
        utc(2024, 1, 1, 10, 12),
    ]
    assert list(schedule.occurrences(utc(2024, 1, 1, 9), utc(2024, 1, 1, 10), "UTC", anchor=start)) == []
    assert list(schedule.occurrences(utc(2024, 1, 1, 9), utc(2024, 1, 1, 10, 2), "UTC", anchor=start)) == [
        start
    ]


def test_rate_anchor_in_another_zone_and_with_microseconds() -> None:
    start = local(BERLIN, 2024, 1, 1, 11, 0) + timedelta(microseconds=7)  # 10:00 UTC
    times = list(parse("rate(1 hour)").occurrences(utc(2024, 1, 1, 10), utc(2024, 1, 1, 13), BERLIN, start))
    assert times == [utc(2024, 1, 1, h) + timedelta(microseconds=7) for h in (10, 11, 12)]
    assert all(t.tzinfo is UTC for t in times)


def test_rate_days_are_exact_24_hours_across_dst() -> None:
    start = local(BERLIN, 2024, 3, 30, 9)  # 08:00 UTC
    times = list(parse("rate(1 day)").occurrences(start, utc(2024, 4, 2), BERLIN, anchor=start))
    assert times == [utc(2024, 3, 31, 8), utc(2024, 4, 1, 8)]  # 10:00 CEST after the change
    assert [t.astimezone(ZoneInfo(BERLIN)).hour for t in times] == [10, 10]


def test_rate_uses_real_elapsed_time_when_anchor_and_window_share_a_zone() -> None:
    # Same-zone datetime subtraction in Python is wall-clock time; the rate must not be.
    anchor = local(BERLIN, 2024, 3, 30, 9)  # 08:00 UTC
    after = local(BERLIN, 2024, 3, 31, 9, 30)  # 07:30 UTC: 23.5 real hours later
    until = local(BERLIN, 2024, 4, 1, 12)
    assert list(parse("rate(1 day)").occurrences(after, until, BERLIN, anchor)) == [
        utc(2024, 3, 31, 8),
        utc(2024, 4, 1, 8),
    ]


def test_window_in_the_repeated_hour_compares_instants_not_wall_times() -> None:
    first = local(NEW_YORK, 2024, 11, 3, 1, 20, fold=0)  # 05:20 UTC
    second = local(NEW_YORK, 2024, 11, 3, 1, 10, fold=1)  # 06:10 UTC, earlier on the wall clock
    assert fires("cron(0/15 * * * ? *)", first, second, NEW_YORK) == [
        utc(2024, 11, 3, 5, 30),
        utc(2024, 11, 3, 5, 45),
    ]
    assert list(parse("rate(20 minutes)").occurrences(first, second, NEW_YORK)) == [
        utc(2024, 11, 3, 5, 40),
        utc(2024, 11, 3, 6, 0),
    ]


def test_extreme_window_bounds_do_not_overflow() -> None:
    east = timezone(timedelta(hours=14))
    west = timezone(timedelta(hours=-12))
    assert parse("cron(0 0 1 1 ? *)").next_after(datetime.min.replace(tzinfo=east), "UTC") == utc(1970, 1, 1)
    assert fires("cron(0 0 1 1 ? 2199)", utc(2198, 1, 1), datetime.max.replace(tzinfo=west)) == [
        utc(2199, 1, 1)
    ]
    assert parse("rate(1 day)").next_after(datetime.max.replace(tzinfo=west), "UTC") is None


def test_rate_next_after_far_future_does_not_overflow() -> None:
    far = datetime(9999, 12, 31, 23, 50, tzinfo=UTC)
    assert parse("rate(1 day)").next_after(far, "UTC") is None
    assert parse("rate(5 minutes)").next_after(far, "UTC") == far + timedelta(minutes=5)


# --------------------------------------------------------------------------- properties

EXPRESSIONS = [
    "cron(0/15 * * * ? *)",
    "cron(7,37 */3 * * ? *)",
    "cron(30 2 * * ? *)",
    "cron(0 1-3 ? * SUN *)",
    "cron(45 23 L * ? *)",
    "cron(0 12 ? * 6L *)",
    "cron(10 0 ? * 1#2 *)",
    "cron(0 9 15W * ? *)",
    "cron(0 0 29 2 ? *)",
]
ZONES = ["UTC", BERLIN, NEW_YORK, "Australia/Lord_Howe"]
instants = st.datetimes(min_value=datetime(2023, 1, 1), max_value=datetime(2025, 12, 31)).map(
    lambda d: d.replace(tzinfo=UTC)
)


@settings(max_examples=150, deadline=None)
@given(
    expression=st.sampled_from(EXPRESSIONS),
    tz=st.sampled_from(ZONES),
    start=instants,
    first=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=40)),
    second=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=40)),
)
def test_splitting_a_window_does_not_change_the_fire_times(
    expression: str, tz: str, start: datetime, first: timedelta, second: timedelta
) -> None:
    schedule = parse(expression)
    middle, end = start + first, start + first + second
    whole = list(schedule.occurrences(start, end, tz))
    assert whole == list(schedule.occurrences(start, middle, tz)) + list(
        schedule.occurrences(middle, end, tz)
    )
    assert all(start < t <= end for t in whole)
    assert whole == sorted(set(whole))
    nxt = schedule.next_after(start, tz)
    if whole:
        assert nxt == whole[0]
    else:
        assert nxt is None or nxt > end


def _reference_matches(fields: list[str], t: datetime) -> bool:
    """Brute-force matcher for numeric/``*``/list/range/step fields (no names, L, W, #)."""

    def expand(text: str, low: int, high: int) -> set[int]:
        values: set[int] = set()
        for part in text.split(","):
            base, _, step = part.partition("/")
            if base == "*":
                a, b = low, high
            elif "-" in base:
                a, b = (int(x) for x in base.split("-"))
            else:
                a = int(base)
                b = high if step else a
            values.update(range(a, b + 1, int(step or 1)))
        return values

    minute, hour, dom, month, dow, _year = fields
    aws_weekday = t.isoweekday() % 7 + 1
    day_ok = aws_weekday in expand(dow, 1, 7) if dom == "?" else t.day in expand(dom, 1, 31)
    return (
        t.minute in expand(minute, 0, 59)
        and t.hour in expand(hour, 0, 23)
        and t.month in expand(month, 1, 12)
        and day_ok
    )


@settings(max_examples=100, deadline=None)
@given(
    minute=st.sampled_from(["*", "0", "*/7", "5/20", "10-40/10", "0,13,59", "50-59"]),
    hour=st.sampled_from(["*", "0", "*/5", "9-17", "23", "1,12"]),
    days=st.sampled_from(
        [("*", "?"), ("?", "*"), ("1,15,31", "?"), ("?", "2-6"), ("?", "1/3"), ("29-31/2", "?")]
    ),
    month=st.sampled_from(["*", "2", "1/3", "2-3,12"]),
    start=st.datetimes(min_value=datetime(2023, 12, 25), max_value=datetime(2024, 3, 1)),
)
def test_matches_brute_force_in_utc(
    minute: str, hour: str, days: tuple[str, str], month: str, start: datetime
) -> None:
    fields = [minute, hour, days[0], month, days[1], "*"]
    after = start.replace(tzinfo=UTC)
    until = after + timedelta(days=3)
    expected = []
    t = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while t <= until:
        if _reference_matches(fields, t):
            expected.append(t)
        t += timedelta(minutes=1)
    assert fires(f"cron({' '.join(fields)})", after, until) == expected
