"""The member-level rollup counters: hand-computed contributions, the readers against a
brute force over random populations, and deltas that telescope to a recount."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reports import kpis
from reports.periods import KINDS, Period, bucket_month, month_of, period_of
from reports.rollup import (
    Buckets,
    Counts,
    active_at,
    buckets_needed,
    churned,
    cohort_row,
    distinct,
    member_counts,
    member_delta,
)

pytestmark = pytest.mark.unit

JAN5, MAR20 = date(2026, 1, 5), date(2026, 3, 20)


def _months(first: str, last: str) -> list[str]:
    out, year, month = [], int(first[:4]), int(first[5:7])
    while f"{year:04d}-{month:02d}" <= last:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def test_a_member_with_two_orders_on_jan_5_and_one_on_mar_20() -> None:
    counts = member_counts({JAN5: 2, MAR20: 1})
    # 2026-01-05 is a Monday; 2026-03-20 a Friday of the week from Monday 2026-03-16.
    activity = {
        ("D2026-01-05", "active"): 1,
        ("D2026-01-05", "repurchasers"): 1,  # 2 orders that day
        ("D2026-01-05", "new"): 1,
        ("W2026-01-05", "active"): 1,
        ("W2026-01-05", "repurchasers"): 1,
        ("W2026-01-05", "new"): 1,
        ("M2026-01", "active"): 1,
        ("M2026-01", "repurchasers"): 1,
        ("M2026-01", "new"): 1,
        ("D2026-03-20", "active"): 1,  # 1 order: no repurchase, not new
        ("W2026-03-16", "active"): 1,
        ("M2026-03", "active"): 1,
    }
    # 90 days: Jan 5 makes [Jan 6, Apr 6) active, Mar 20 [Mar 21, Jun 19): one run
    # [Jan 6, Jun 19), which holds the 1sts of Feb, Mar, Apr, May and Jun.
    coverage90 = {
        ("D2026-01-06", "up90"): 1,
        ("D2026-06-19", "down90"): 1,
        **{(f"M2026-{m:02d}", "at90"): 1 for m in range(2, 7)},
    }
    # 365 days: [Jan 6 2026, Jan 6 2027) and [Mar 21 2026, Mar 21 2027): one run
    # [Jan 6 2026, Mar 21 2027), which holds the 1sts of Feb 2026 .. Mar 2027.
    coverage365 = {
        ("D2026-01-06", "up365"): 1,
        ("D2027-03-21", "down365"): 1,
        **{(f"M{m}", "at365"): 1 for m in _months("2026-02", "2027-03")},
    }
    # The 90-day run ends at b = Jun 19; b - 1 = Thu Jun 18: that day, the week from
    # Mon Jun 15 and June each start active and end inactive.
    churn = {
        ("D2026-06-18", "churned"): 1,
        ("W2026-06-15", "churned"): 1,
        ("M2026-06", "churned"): 1,
    }
    # First order month 2026-01; orders in 2026-01 (k = 0) and 2026-03 (k = 2).
    cohort = {("C2026-01", "m0"): 1, ("C2026-01", "m2"): 1}
    assert counts == Counter({**activity, **coverage90, **coverage365, **churn, **cohort})
    assert len(counts) == 12 + 7 + 16 + 3 + 2


def test_cohort_months_count_across_a_year() -> None:
    # First order 2025-11; orders again in 2026-02 (k = 3) and 2027-01 (k = 14).
    counts = member_counts({date(2025, 11, 15): 1, date(2026, 2, 3): 1, date(2027, 1, 9): 3})
    assert {key: v for key, v in counts.items() if key[0].startswith("C")} == {
        ("C2025-11", "m0"): 1,
        ("C2025-11", "m3"): 1,
        ("C2025-11", "m14"): 1,
    }


def test_no_order_days_contribute_nothing() -> None:
    assert member_counts({}) == Counter()
    assert member_counts({JAN5: 0}) == Counter()
    assert member_counts({JAN5: 0, MAR20: 1}) == member_counts({MAR20: 1})


def test_a_negative_order_count_is_refused() -> None:
    with pytest.raises(ValueError):
        member_counts({JAN5: -1})


def test_a_run_starting_on_a_first_holds_that_month() -> None:
    # An order on Jan 31 makes the run [Feb 1, May 2) (90 days): at90 on Feb, Mar, Apr, May.
    counts = member_counts({date(2026, 1, 31): 1})
    assert {b for (b, name) in counts if name == "at90"} == {
        "M2026-02",
        "M2026-03",
        "M2026-04",
        "M2026-05",
    }
    assert counts["D2026-02-01", "up90"] == 1
    assert counts["D2026-05-02", "down90"] == 1


def test_runs_that_touch_merge() -> None:
    # Jan 1 -> [Jan 2, Apr 2); Apr 1 (90 days later) -> [Apr 2, Jul 1): one run.
    counts = member_counts({date(2026, 1, 1): 1, date(2026, 4, 1): 1})
    assert {key: v for key, v in counts.items() if key[1] in ("up90", "down90")} == {
        ("D2026-01-02", "up90"): 1,
        ("D2026-07-01", "down90"): 1,
    }
    assert {b for (b, name) in counts if name == "churned"} == {"D2026-06-30", "W2026-06-29", "M2026-06"}


def test_churn_counts_a_member_once_per_period_and_not_when_they_come_back() -> None:
    # Window 3 days. Dec 30 -> run [Dec 31, Jan 3); Jan 10 -> [Jan 11, Jan 14).
    counts = member_counts({date(2025, 12, 30): 1, date(2026, 1, 10): 1}, active_days=3)
    assert {key: v for key, v in counts.items() if key[1] == "churned"} == {
        ("D2026-01-02", "churned"): 1,  # active on the 2nd, not on the 3rd
        ("D2026-01-13", "churned"): 1,
        # the week Dec 29 .. Jan 5 starts inactive (the run starts Dec 31): none
        ("W2026-01-12", "churned"): 1,
        ("M2026-01", "churned"): 1,  # two run ends in January, counted once
    }
    # Dec 30 -> [Dec 31, Jan 3); Jan 29 -> [Jan 30, Feb 2): January starts and ends
    # active (no churn), February starts active and ends inactive.
    counts = member_counts({date(2025, 12, 30): 1, date(2026, 1, 29): 1}, active_days=3)
    months = {b for (b, name), v in counts.items() if name == "churned" and b.startswith("M")}
    assert months == {"M2026-02"}


def test_equal_windows_are_counted_once() -> None:
    assert member_counts({JAN5: 1}, active_days=90, long_window=90)["M2026-02", "at90"] == 1


def test_member_delta_is_the_difference_with_negatives_kept() -> None:
    before, after = {JAN5: 1}, {JAN5: 2}
    # A second order on Jan 5 makes the member a repurchaser of that day, week and month.
    assert member_delta(before, after) == Counter(
        {
            ("D2026-01-05", "repurchasers"): 1,
            ("W2026-01-05", "repurchasers"): 1,
            ("M2026-01", "repurchasers"): 1,
        }
    )
    assert member_delta(after, before) == Counter(
        {
            ("D2026-01-05", "repurchasers"): -1,
            ("W2026-01-05", "repurchasers"): -1,
            ("M2026-01", "repurchasers"): -1,
        }
    )
    assert member_delta(after, after) == Counter()
    assert all(v != 0 for v in member_delta({JAN5: 1}, {MAR20: 1}).values())


def test_readers_on_the_hand_computed_member() -> None:
    buckets = _buckets(member_counts({JAN5: 2, MAR20: 1}))
    jan = period_of("monthly", JAN5)
    assert distinct(buckets, jan) == (1, 1, 1)
    assert distinct(buckets, period_of("monthly", MAR20)) == (1, 0, 0)
    assert active_at(buckets, date(2026, 1, 5), 90) == 0  # the order day itself: not yet
    assert active_at(buckets, date(2026, 1, 6), 90) == 1
    assert active_at(buckets, date(2026, 6, 18), 90) == 1
    assert active_at(buckets, date(2026, 6, 19), 90) == 0
    assert active_at(buckets, date(2027, 3, 20), 365) == 1
    assert active_at(buckets, date(2027, 3, 21), 365) == 0
    assert churned(buckets, period_of("monthly", date(2026, 6, 1))) == 1
    assert churned(buckets, jan) == 0
    assert cohort_row(buckets, "2026-01", "2026-04") == {
        "cohort": "2026-01",
        "size": 1,
        "retention": [0.0, 1.0, 0.0],
    }
    assert cohort_row(buckets, "2026-01", "2026-01")["retention"] == []
    assert cohort_row(buckets, "2026-02", "2026-04") == {
        "cohort": "2026-02",
        "size": 0,
        "retention": [None, None],
    }


def test_buckets_needed_for_a_week() -> None:
    # Mon 2026-03-09 .. Mon 2026-03-16: the week's bucket, M2026-03 and D Mar 2 .. Mar 16.
    needed = buckets_needed(period_of("weekly", date(2026, 3, 9)), windows=(90,))
    assert list(needed) == [
        *(f"D2026-03-{d:02d}" for d in range(2, 17)),
        "M2026-03",
        "W2026-03-09",
    ]
    assert needed["M2026-03"] == {"at90"}
    assert needed["D2026-03-02"] == {"up90", "down90"}
    assert needed["W2026-03-09"] == {"active", "repurchasers", "new", "churned"}
    # A month: its own bucket and the months of its start and end, no day buckets.
    assert set(buckets_needed(period_of("monthly", date(2026, 3, 1)))) == {"M2026-03", "M2026-04"}


# --- against a brute force over random populations ------------------------------------

FIRST_DAY, LAST_DAY = date(2025, 1, 1), date(2026, 12, 31)
member_days = st.dictionaries(st.dates(FIRST_DAY, LAST_DAY), st.integers(1, 3), max_size=6)
populations = st.lists(member_days, min_size=1, max_size=8)
# Moments and periods reach past the last run end (the last order day + 366).
probe_days = st.dates(date(2024, 12, 1), date(2028, 2, 1))
periods = st.builds(period_of, st.sampled_from(KINDS), probe_days)


def _buckets(counts: Counts) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for (bucket, name), value in counts.items():
        out.setdefault(bucket, {})[name] = value
    return out


def _summed(
    population: list[dict[date, int]], windows: tuple[int, int] = (90, 365)
) -> dict[str, dict[str, int]]:
    total: Counts = Counter()
    for days in population:
        total.update(member_counts(days, *windows))
    assert all(value > 0 for value in total.values())  # sums of contributions, never 0
    return _buckets(total)


def _active(days: dict[date, int], moment: date, window: int) -> bool:
    return any(moment - timedelta(days=window) <= d < moment for d in days)


def _brute_distinct(population: list[dict[date, int]], period: Period) -> tuple[int, int, int]:
    inside = [sum(n for d, n in days.items() if period.start <= d < period.end) for days in population]
    new = sum(1 for days in population if days and period.start <= min(days) < period.end)
    return sum(1 for n in inside if n >= 1), sum(1 for n in inside if n >= 2), new


def _only(buckets: Buckets, needed: dict[str, frozenset[str]]) -> dict[str, dict[str, int]]:
    return {
        b: {name: v for name, v in buckets.get(b, {}).items() if name in names} for b, names in needed.items()
    }


@settings(max_examples=150, deadline=None)
@given(populations, st.lists(periods, min_size=1, max_size=4), st.lists(probe_days, max_size=4))
def test_readers_equal_a_brute_force(
    population: list[dict[date, int]], probes: list[Period], moments: list[date]
) -> None:
    buckets = _summed(population)
    named = {str(i): set(days) for i, days in enumerate(population)}
    for period in probes:
        assert distinct(buckets, period) == _brute_distinct(population, period)
        start_set = {str(i) for i, days in enumerate(population) if _active(days, period.start, 90)}
        end_set = {str(i) for i, days in enumerate(population) if _active(days, period.end, 90)}
        assert churned(buckets, period) == len(start_set - end_set)
        # the readers need nothing but the buckets and counters buckets_needed names
        visible = _only(buckets, buckets_needed(period))
        assert distinct(visible, period) == distinct(buckets, period)
        assert churned(visible, period) == churned(buckets, period)
        for moment in (period.start, period.end):
            for window in (90, 365):
                assert active_at(visible, moment, window) == active_at(buckets, moment, window)
    for moment in [p.start for p in probes] + moments:
        expected90 = kpis.active_members(named, moment, 90)
        assert active_at(buckets, moment, 90) == len(expected90)
        expected365 = sum(1 for days in population if _active(days, moment, 365))
        assert active_at(buckets, moment, 365) == expected365


def _edge_periods(population: list[dict[date, int]], window: int) -> set[Period]:
    """Every period holding a last active day (an order day + window) or the day after."""
    return {
        period_of(kind, day + timedelta(days=window + shift))
        for days in population
        for day in days
        for kind in KINDS
        for shift in (0, 1)
    }


@settings(max_examples=150, deadline=None)
@given(populations, st.sampled_from([(90, 365), (7, 30), (20, 20), (45, 3)]))
def test_churn_and_activity_at_the_edges_of_runs_equal_a_brute_force(
    population: list[dict[date, int]], windows: tuple[int, int]
) -> None:
    buckets = _summed(population, windows)
    active_days = windows[0]
    for period in _edge_periods(population, active_days) | _edge_periods(population, windows[1]):
        assert distinct(buckets, period) == _brute_distinct(population, period)
        start = {i for i, days in enumerate(population) if _active(days, period.start, active_days)}
        end = {i for i, days in enumerate(population) if _active(days, period.end, active_days)}
        assert churned(buckets, period) == len(start - end)
        for moment in (period.start, period.end, period.end - timedelta(days=1)):
            for window in windows:
                expected = sum(1 for days in population if _active(days, moment, window))
                assert active_at(buckets, moment, window) == expected


@settings(max_examples=100, deadline=None)
@given(populations, st.dates(date(2025, 1, 1), date(2027, 3, 1)), st.integers(1, 24))
def test_cohort_rows_equal_kpis_cohort_retention(
    population: list[dict[date, int]], last_day: date, span: int
) -> None:
    buckets = _summed(population)
    last = month_of(last_day)
    months = _months(month_of(last_day - timedelta(days=31 * (span - 1))), last)[-span:]
    first = {str(i): month_of(min(days)) for i, days in enumerate(population) if days}
    ordered = {str(i): {month_of(d) for d in days} for i, days in enumerate(population)}
    expected = kpis.cohort_retention(first, ordered, months)
    assert [cohort_row(buckets, c, last) for c in months] == expected


operations = st.lists(st.tuples(st.booleans(), st.dates(date(2026, 1, 1), date(2026, 12, 31))), max_size=25)


@settings(max_examples=150, deadline=None)
@given(operations, st.sampled_from([(90, 365), (3, 30), (7, 7)]))
def test_deltas_telescope_to_a_recount(steps: list[tuple[bool, date]], windows: tuple[int, int]) -> None:
    days: dict[date, int] = {}
    running: Counts = Counter()
    for add, day in steps:
        if not add and not days:
            continue
        target = day if add else sorted(days)[day.toordinal() % len(days)]
        after = dict(days)
        after[target] = after.get(target, 0) + (1 if add else -1)
        if after[target] == 0:
            del after[target]
        delta = member_delta(days, after, *windows)
        assert 0 not in delta.values()
        running.update(delta)
        days = after
    running = Counter({key: v for key, v in running.items() if v != 0})
    assert running == member_counts(days, *windows)


def test_a_report_reads_few_buckets() -> None:
    # O(days + months): a daily report near the end of a month reads one month of days.
    needed = buckets_needed(period_of("daily", date(2026, 3, 30)))
    assert len(needed) == 30 + 1  # D Mar 2 .. Mar 31 and M2026-03 (D Mar 30 is the period's)
    assert bucket_month(date(2026, 3, 30)) in needed
