"""Report periods: alignment, ISO weeks across a year, months, report ids, catch-up."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reports.periods import (
    KINDS,
    Kind,
    Period,
    bucket_cohort,
    bucket_day,
    bucket_month,
    bucket_of,
    bucket_week,
    parse_report_id,
    period_of,
    periods_due,
)

pytestmark = pytest.mark.unit


def test_a_day() -> None:
    day = period_of("daily", date(2026, 3, 10))
    assert day == Period("daily", date(2026, 3, 10), date(2026, 3, 11))
    assert day.report_id == "daily-2026-03-10"
    assert day.days() == [date(2026, 3, 10)]
    assert day.previous() == Period("daily", date(2026, 3, 9), date(2026, 3, 10))
    assert day.next() == Period("daily", date(2026, 3, 11), date(2026, 3, 12))
    assert day.periods_per_year == 365


def test_an_iso_week_across_the_year_boundary() -> None:
    # 2026-12-28 is a Monday; 2027-01-01 (a Friday) belongs to the same ISO week.
    week = period_of("weekly", date(2027, 1, 1))
    assert week == Period("weekly", date(2026, 12, 28), date(2027, 1, 4))
    assert period_of("weekly", date(2027, 1, 3)) == week  # the Sunday
    assert period_of("weekly", date(2027, 1, 4)) == week.next()
    assert week.report_id == "weekly-2026-12-28"
    assert week.days()[0] == date(2026, 12, 28)
    assert week.days()[-1] == date(2027, 1, 3)
    assert len(week.days()) == 7
    assert week.previous().start == date(2026, 12, 21)
    assert week.periods_per_year == 52
    assert bucket_of(week) == "W2026-12-28" == bucket_week(date(2027, 1, 3))


def test_months() -> None:
    feb = period_of("monthly", date(2026, 2, 14))
    assert feb == Period("monthly", date(2026, 2, 1), date(2026, 3, 1))
    assert len(feb.days()) == 28
    assert len(period_of("monthly", date(2028, 2, 29)).days()) == 29  # leap year
    dec = period_of("monthly", date(2026, 12, 31))
    assert dec.end == date(2027, 1, 1)
    assert dec.next() == Period("monthly", date(2027, 1, 1), date(2027, 2, 1))
    assert period_of("monthly", date(2026, 1, 1)).previous().start == date(2025, 12, 1)
    assert feb.report_id == "monthly-2026-02-01"
    assert feb.periods_per_year == 12
    assert bucket_of(feb) == "M2026-02"


def test_periods_order_by_kind_then_start() -> None:
    a, b = period_of("daily", date(2026, 1, 1)), period_of("daily", date(2026, 1, 2))
    assert sorted([b, a]) == [a, b]


@pytest.mark.parametrize(
    ("kind", "start", "end"),
    [
        ("daily", date(2026, 3, 10), date(2026, 3, 12)),  # two days
        ("weekly", date(2026, 3, 10), date(2026, 3, 17)),  # a Tuesday
        ("monthly", date(2026, 2, 2), date(2026, 3, 2)),  # not the 1st
        ("monthly", date(2026, 2, 1), date(2026, 3, 2)),  # not the next 1st
        ("yearly", date(2026, 1, 1), date(2027, 1, 1)),  # no such kind
    ],
)
def test_only_aligned_periods_can_be_built(kind: Kind, start: date, end: date) -> None:
    with pytest.raises(ValueError):
        Period(kind, start, end)


def test_parse_report_id_is_the_inverse_of_report_id() -> None:
    assert parse_report_id("monthly-2026-02-01") == period_of("monthly", date(2026, 2, 1))
    assert parse_report_id("weekly-2026-03-09") == period_of("weekly", date(2026, 3, 9))
    assert parse_report_id("daily-2026-03-10") == period_of("daily", date(2026, 3, 10))


@pytest.mark.parametrize(
    "report_id",
    [
        "monthly-2026-02-02",  # not the 1st
        "weekly-2026-03-10",  # a Tuesday, not a Monday
        "daily-2026-02-30",  # no such day
        "daily-20260210",  # the compact date form
        "daily-2026-03-10 ",
        " daily-2026-03-10",
        "Daily-2026-03-10",
        "yearly-2026-01-01",
        "monthly-2026-02",
        "monthly",
        "",
        "garbage",
        "daily-2026-03-10-x",
        "daily-٢٠٢٦-03-10",  # non-ASCII digits
    ],
)
def test_parse_report_id_rejects(report_id: str) -> None:
    with pytest.raises(ValueError):
        parse_report_id(report_id)


def test_parse_report_id_rejects_what_is_not_a_string() -> None:
    with pytest.raises(ValueError):
        parse_report_id(20260201)  # type: ignore[arg-type]


@given(st.sampled_from(KINDS), st.dates(date(2000, 1, 1), date(2100, 12, 31)))
def test_every_day_lies_in_one_period_whose_id_round_trips(kind: Kind, day: date) -> None:
    period = period_of(kind, day)
    assert period.start <= day < period.end
    assert day in period.days()
    assert parse_report_id(period.report_id) == period
    assert period.next().previous() == period
    assert period.next().start == period.end


def test_periods_due_catches_up_three_missed_months() -> None:
    last_done = period_of("monthly", date(2026, 1, 1))
    due = periods_due("monthly", last_done, date(2026, 5, 1))
    assert [p.report_id for p in due] == [
        "monthly-2026-02-01",
        "monthly-2026-03-01",
        "monthly-2026-04-01",
    ]
    # once they are done, a repeated run on the same day finds nothing
    assert periods_due("monthly", due[-1], date(2026, 5, 1)) == []
    assert periods_due("monthly", due[-1], date(2026, 5, 31)) == []  # May is not over


def test_periods_due_on_a_first_run_is_the_latest_completed_period() -> None:
    assert periods_due("daily", None, date(2026, 3, 10)) == [period_of("daily", date(2026, 3, 9))]
    # a Monday: the ISO week before
    assert periods_due("weekly", None, date(2026, 3, 9)) == [period_of("weekly", date(2026, 3, 2))]
    # mid-week: still the last whole week
    assert periods_due("weekly", None, date(2026, 3, 12)) == [period_of("weekly", date(2026, 3, 2))]
    assert periods_due("monthly", None, date(2026, 3, 1)) == [period_of("monthly", date(2026, 2, 1))]


def test_periods_due_daily_and_weekly_catch_up() -> None:
    due = periods_due("daily", period_of("daily", date(2026, 12, 30)), date(2027, 1, 2))
    assert [p.start for p in due] == [date(2026, 12, 31), date(2027, 1, 1)]
    due = periods_due("weekly", period_of("weekly", date(2026, 12, 21)), date(2027, 1, 11))
    assert [p.start for p in due] == [date(2026, 12, 28), date(2027, 1, 4)]


def test_periods_due_refuses_a_last_period_of_another_kind() -> None:
    with pytest.raises(ValueError):
        periods_due("weekly", period_of("monthly", date(2026, 1, 1)), date(2026, 5, 1))


@given(
    st.sampled_from(KINDS),
    st.dates(date(2024, 1, 1), date(2027, 12, 31)),
    st.integers(0, 80),
)
def test_periods_due_lists_every_completed_period_once_in_order(kind: Kind, last_day: date, gap: int) -> None:
    last_done = period_of(kind, last_day)
    today = last_done.end + timedelta(days=gap)
    due = periods_due(kind, last_done, today)
    expected = []
    period = last_done.next()
    while period.end <= today:
        expected.append(period)
        period = period.next()
    assert due == expected
    assert all(p.end <= today for p in due)
    assert period_of(kind, today).previous() == (due[-1] if due else last_done)


def test_bucket_names() -> None:
    assert bucket_day(date(2026, 3, 10)) == "D2026-03-10"
    assert bucket_week(date(2026, 3, 10)) == "W2026-03-09"
    assert bucket_week(date(2026, 3, 15)) == "W2026-03-09"  # the Sunday
    assert bucket_week(date(2026, 3, 16)) == "W2026-03-16"
    assert bucket_month(date(2026, 3, 31)) == "M2026-03"
    assert bucket_cohort("2026-03") == "C2026-03"
    assert bucket_of(period_of("daily", date(2026, 3, 10))) == "D2026-03-10"


@pytest.mark.parametrize("month", ["2026-13", "2026-00", "2026-3", "202603", "2026-03-01", ""])
def test_bucket_cohort_rejects_what_is_not_a_month(month: str) -> None:
    with pytest.raises(ValueError):
        bucket_cohort(month)
