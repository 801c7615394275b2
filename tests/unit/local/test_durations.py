"""Unit tests for ``infra.local.durations`` (ISO-8601 durations, RFC 3339 timestamps)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.local.durations import Duration, parse_duration, parse_rfc3339

pytestmark = pytest.mark.unit

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def add(text: str, t: datetime) -> datetime:
    return parse_duration(text).add_to(t)


def elapsed(start: datetime, end: datetime) -> timedelta:
    """Real time between two aware datetimes (``-`` on the same zone is wall-clock time)."""
    return end.astimezone(UTC) - start.astimezone(UTC)


# --------------------------------------------------------------------------- parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P1D", Duration(days=1)),
        ("PT2H", Duration(hours=2)),
        ("P1Y", Duration(years=1)),
        ("P2W", Duration(weeks=2)),
        ("P1M", Duration(months=1)),
        ("PT1M", Duration(minutes=1)),
        ("P1DT12H30M", Duration(days=1, hours=12, minutes=30)),
        ("PT0.5S", Duration(seconds=Decimal("0.5"))),
        ("PT0,5S", Duration(seconds=Decimal("0.5"))),
        ("PT1.000001S", Duration(seconds=Decimal("1.000001"))),
        ("PT90S", Duration(seconds=Decimal(90))),
        ("PT36H", Duration(hours=36)),
        ("P1Y2M3W4DT5H6M7.25S", Duration(1, 2, 3, 4, 5, 6, Decimal("7.25"))),
        ("P0D", Duration()),
        ("PT0S", Duration()),
        ("P10000D", Duration(days=10000)),
        ("P007D", Duration(days=7)),
    ],
)
def test_parse_duration(text: str, expected: Duration) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "P1D",
        "PT2H",
        "P1Y",
        "P2W",
        "P1M",
        "PT1M",
        "P1DT12H30M",
        "PT0.5S",
        "P1Y2M3W4DT5H6M7.25S",
        "PT0S",
        "PT36H",
    ],
)
def test_canonical_text_round_trips(text: str) -> None:
    assert str(parse_duration(text)) == text


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("P0D", "PT0S"),
        ("P0Y0M0W0DT0H0M0S", "PT0S"),
        ("P0Y1D", "P1D"),
        ("P1DT0H", "P1D"),
        ("PT0,50S", "PT0.5S"),
        ("PT1.000000S", "PT1S"),
        ("PT10S", "PT10S"),
        ("PT100.100S", "PT100.1S"),
        ("P007D", "P7D"),
        ("PT0.000001S", "PT0.000001S"),
    ],
)
def test_str_is_canonical(text: str, canonical: str) -> None:
    assert str(parse_duration(text)) == canonical


def test_str_of_constructed_durations() -> None:
    assert str(Duration(hours=25, seconds=Decimal("1.5"))) == "PT25H1.5S"
    assert str(Duration(months=14)) == "P14M"  # not normalised to years
    assert str(Duration()) == "PT0S"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected the form"),
        ("P", "no components"),
        ("PT", "no components"),
        ("P1DT", "'T' must be followed"),
        ("-P1D", "negative durations are not supported"),
        ("P-1D", "negative durations are not supported"),
        ("PT-5M", "negative durations are not supported"),
        ("+P1D", "signs are not allowed"),
        ("P0.5D", "only the seconds may have a fraction"),
        ("P1.5Y", "only the seconds may have a fraction"),
        ("PT1.5H", "only the seconds may have a fraction"),
        ("PT0,5M", "only the seconds may have a fraction"),
        ("PT0.0000001S", "finer than a microsecond"),
        ("PT.5S", "expected the form"),
        ("PT5.S", "expected the form"),
        ("p1d", "expected the form"),
        ("P1d", "expected the form"),
        ("1D", "expected the form"),
        ("D", "expected the form"),
        ("P1D ", "expected the form"),
        (" P1D", "expected the form"),
        ("P1 D", "expected the form"),
        ("P1H", "expected the form"),
        ("P1S", "expected the form"),
        ("PT1D", "expected the form"),
        ("PT1Y", "expected the form"),
        ("P1D1Y", "expected the form"),
        ("PT1S1M", "expected the form"),
        ("P1D1D", "expected the form"),
        ("PT1H1H", "expected the form"),
        ("P1DT1HT1M", "expected the form"),
        ("P\u0661D", "expected the form"),  # ARABIC-INDIC DIGIT ONE
        ("P1e3D", "expected the form"),
        ("P1DT12H30M5", "expected the form"),
        ("1 day", "expected the form"),
        ("R5/P1D", "expected the form"),
        ("2024-01-01T00:00:00Z/P1D", "expected the form"),
    ],
)
def test_parse_duration_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match="invalid ISO-8601 duration") as error:
        parse_duration(text)
    assert message in str(error.value)
    assert repr(text) in str(error.value)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"days": -1},
        {"years": -1},
        {"hours": 1.5},
        {"minutes": True},
        {"seconds": Decimal(-1)},
        {"seconds": Decimal("0.0000001")},
        {"seconds": Decimal("NaN")},
        {"seconds": Decimal("Infinity")},
        {"seconds": 1.5},
    ],
)
def test_duration_validates_its_fields(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="Duration"):
        Duration(**kwargs)  # type: ignore[arg-type]


def test_elapsed_is_the_exact_time_part() -> None:
    assert parse_duration("P1Y2M3W4DT5H6M7.125S").elapsed == timedelta(hours=5, minutes=6, seconds=7.125)
    assert parse_duration("P1D").elapsed == timedelta(0)


# --------------------------------------------------------------------------- add_to: calendar arithmetic


@pytest.mark.parametrize(
    ("text", "start", "expected"),
    [
        # month-end clamping
        ("P1M", datetime(2024, 1, 31, 10, 30), datetime(2024, 2, 29, 10, 30)),  # leap year
        ("P1M", datetime(2023, 1, 31, 10, 30), datetime(2023, 2, 28, 10, 30)),
        ("P1M", datetime(2024, 3, 31), datetime(2024, 4, 30)),
        ("P1M", datetime(2024, 2, 29), datetime(2024, 3, 29)),
        ("P2M", datetime(2024, 1, 31), datetime(2024, 3, 31)),  # clamps only at the end
        ("P1M", datetime(2024, 12, 15), datetime(2025, 1, 15)),  # year roll-over
        ("P13M", datetime(2024, 12, 31), datetime(2026, 1, 31)),
        ("P25M", datetime(2023, 1, 29), datetime(2025, 2, 28)),
        # years, including 29 February
        ("P1Y", datetime(2024, 2, 29), datetime(2025, 2, 28)),
        ("P4Y", datetime(2024, 2, 29), datetime(2028, 2, 29)),
        ("P76Y", datetime(2024, 2, 29), datetime(2100, 2, 28)),  # 2100 is not a leap year
        ("P1Y1M", datetime(2023, 1, 31), datetime(2024, 2, 29)),
        ("P1Y", datetime(2023, 3, 1), datetime(2024, 3, 1)),
        # weeks and days: calendar days
        ("P1D", datetime(2024, 2, 28), datetime(2024, 2, 29)),
        ("P1D", datetime(2023, 2, 28), datetime(2023, 3, 1)),
        ("P2W", datetime(2024, 12, 25), datetime(2025, 1, 8)),
        ("P1W3D", datetime(2024, 1, 1), datetime(2024, 1, 11)),
        ("P366D", datetime(2024, 1, 1), datetime(2025, 1, 1)),
        # months before days: Jan 31 + 1 month = Feb 29, + 1 day = Mar 1
        ("P1M1D", datetime(2024, 1, 31), datetime(2024, 3, 1)),
        # exact time
        ("PT2H", datetime(2024, 1, 1, 23), datetime(2024, 1, 2, 1)),
        ("PT0.5S", datetime(2024, 1, 1), datetime(2024, 1, 1, 0, 0, 0, 500_000)),
        ("PT90M", datetime(2024, 1, 1), datetime(2024, 1, 1, 1, 30)),
        ("P1DT12H30M", datetime(2024, 1, 1), datetime(2024, 1, 2, 12, 30)),
        ("PT0S", datetime(2024, 1, 1, 1, 2, 3, 4), datetime(2024, 1, 1, 1, 2, 3, 4)),
    ],
)
def test_add_to_in_utc(text: str, start: datetime, expected: datetime) -> None:
    result = add(text, start.replace(tzinfo=UTC))
    assert result == expected.replace(tzinfo=UTC)
    assert result.tzinfo is UTC


def test_add_to_keeps_a_fixed_offset() -> None:
    tz = timezone(timedelta(hours=-5, minutes=-30))
    result = add("P1M1DT1H", datetime(2024, 1, 31, 23, 30, tzinfo=tz))
    assert result == datetime(2024, 3, 2, 0, 30, tzinfo=tz)
    assert result.utcoffset() == timedelta(hours=-5, minutes=-30)


def test_repeated_months_drift_but_a_single_step_does_not() -> None:
    start = datetime(2024, 1, 31, tzinfo=UTC)
    one = parse_duration("P1M")
    assert one.add_to(one.add_to(start)) == datetime(2024, 3, 29, tzinfo=UTC)
    assert add("P2M", start) == datetime(2024, 3, 31, tzinfo=UTC)


def test_add_to_rejects_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        add("P1D", datetime(2024, 1, 1))


def test_add_to_out_of_range() -> None:
    with pytest.raises(ValueError, match="outside the supported years"):
        add("P1Y", datetime(9999, 6, 1, tzinfo=UTC))
    with pytest.raises(OverflowError):
        add("P1D", datetime(9999, 12, 31, tzinfo=UTC))


# --------------------------------------------------------------------------- add_to: DST


def test_days_keep_the_wall_clock_across_berlin_spring_forward() -> None:
    start = datetime(2024, 3, 30, 12, tzinfo=BERLIN)  # CET
    result = add("P1D", start)
    assert result == datetime(2024, 3, 31, 12, tzinfo=BERLIN)
    assert result.utcoffset() == timedelta(hours=2)
    assert elapsed(start, result) == timedelta(hours=23)
    assert result.tzinfo is BERLIN
    # hours are exact elapsed time instead
    assert add("PT24H", start) == datetime(2024, 3, 31, 13, tzinfo=BERLIN)
    assert add("P1DT1H", start) == datetime(2024, 3, 31, 13, tzinfo=BERLIN)


def test_days_keep_the_wall_clock_across_berlin_fall_back() -> None:
    start = datetime(2024, 10, 26, 12, tzinfo=BERLIN)  # CEST
    result = add("P1D", start)
    assert result == datetime(2024, 10, 27, 12, tzinfo=BERLIN)
    assert elapsed(start, result) == timedelta(hours=25)
    assert add("PT24H", start) == datetime(2024, 10, 27, 11, tzinfo=BERLIN)


def test_day_landing_in_the_spring_forward_gap_moves_forward() -> None:
    # 2024-03-31 02:30 does not exist in Berlin; it becomes 03:30 CEST.
    result = add("P1D", datetime(2024, 3, 30, 2, 30, tzinfo=BERLIN))
    assert result.astimezone(UTC) == datetime(2024, 3, 31, 1, 30, tzinfo=UTC)
    assert (result.hour, result.minute, result.utcoffset()) == (3, 30, timedelta(hours=2))
    # the exact part is added after the wall-clock part is resolved
    assert add("P1DT30M", datetime(2024, 3, 30, 2, 30, tzinfo=BERLIN)).astimezone(UTC) == datetime(
        2024, 3, 31, 2, tzinfo=UTC
    )


def test_day_landing_in_the_repeated_hour() -> None:
    # From CEST the first 02:30 (CEST) is kept ...
    result = add("P1D", datetime(2024, 10, 26, 2, 30, tzinfo=BERLIN))
    assert result.astimezone(UTC) == datetime(2024, 10, 27, 0, 30, tzinfo=UTC)
    # ... and from CET the offset is kept as well, giving the second 02:30 (CET).
    start = datetime(2023, 10, 29, 2, 30, fold=1, tzinfo=BERLIN)  # 2023's repeated hour
    assert start.utcoffset() == timedelta(hours=1)
    result = add("P52W", start)
    assert result.astimezone(UTC) == datetime(2024, 10, 27, 1, 30, tzinfo=UTC)
    assert result.fold == 1
    # a winter (CET) start landing on the repeated hour keeps CET: the second 02:30
    result = add("P9M", datetime(2024, 1, 27, 2, 30, tzinfo=BERLIN))
    assert result.astimezone(UTC) == datetime(2024, 10, 27, 1, 30, tzinfo=UTC)
    # a summer (CEST) start keeps CEST: the first 02:30
    result = add("P3M", datetime(2024, 7, 27, 2, 30, tzinfo=BERLIN))
    assert result.astimezone(UTC) == datetime(2024, 10, 27, 0, 30, tzinfo=UTC)


def test_new_york_transitions() -> None:
    spring = datetime(2024, 3, 9, 9, tzinfo=NEW_YORK)  # EST
    assert add("P1D", spring) == datetime(2024, 3, 10, 9, tzinfo=NEW_YORK)
    assert elapsed(spring, add("P1D", spring)) == timedelta(hours=23)
    assert add("PT24H", spring) == datetime(2024, 3, 10, 10, tzinfo=NEW_YORK)
    assert add("P1D", datetime(2024, 3, 9, 2, 15, tzinfo=NEW_YORK)).astimezone(UTC) == datetime(
        2024, 3, 10, 7, 15, tzinfo=UTC
    )  # 02:15 does not exist: 03:15 EDT

    autumn = datetime(2024, 10, 30, 8, tzinfo=NEW_YORK)  # EDT
    assert add("P1W", autumn) == datetime(2024, 11, 6, 8, tzinfo=NEW_YORK)
    assert elapsed(autumn, add("P1W", autumn)) == timedelta(days=7, hours=1)
    assert add("P1M", datetime(2024, 10, 31, 8, tzinfo=NEW_YORK)) == datetime(
        2024, 11, 30, 8, tzinfo=NEW_YORK
    )


def test_exact_time_across_the_repeated_hour() -> None:
    start = datetime(2024, 11, 3, 0, 30, tzinfo=NEW_YORK)  # EDT
    first = add("PT1H", start)
    second = add("PT2H", start)
    assert (first.hour, first.minute, first.fold) == (1, 30, 0)
    assert (second.hour, second.minute, second.fold) == (1, 30, 1)
    assert elapsed(first, second) == timedelta(hours=1)


@settings(max_examples=200, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2050, 1, 1)),
    zone=st.sampled_from([UTC, BERLIN, NEW_YORK, ZoneInfo("Australia/Lord_Howe")]),
    days=st.integers(1, 800),
    hours=st.integers(0, 100),
)
def test_add_to_invariants(start: datetime, zone: ZoneInfo, days: int, hours: int) -> None:
    aware = start.replace(tzinfo=zone)
    # the exact part is exact
    assert add(f"PT{hours}H", aware).astimezone(UTC) - aware.astimezone(UTC) == timedelta(hours=hours)
    # the day part lands on the same wall-clock time unless that falls into a gap
    result = add(f"P{days}D", aware)
    target = start + timedelta(days=days)
    assert result.tzinfo is zone
    assert result.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == result.replace(tzinfo=None)
    assert result.date() == target.date()
    assert result.replace(tzinfo=None) >= target
    assert result.replace(tzinfo=None) - target <= timedelta(hours=1)


# --------------------------------------------------------------------------- parse_rfc3339


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-01T00:00:00Z", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-01-01t00:00:00z", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-01-01 00:00:00Z", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-02-29T23:59:59+00:00", datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC)),
        ("2024-02-29T23:59:59-00:00", datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC)),
        ("2024-06-01T12:00:00+02:00", datetime(2024, 6, 1, 10, tzinfo=UTC)),
        ("2024-06-01T12:00:00-05:30", datetime(2024, 6, 1, 17, 30, tzinfo=UTC)),
        ("2024-06-01T12:00:00.5Z", datetime(2024, 6, 1, 12, 0, 0, 500_000, tzinfo=UTC)),
        ("2024-06-01T12:00:00.123456Z", datetime(2024, 6, 1, 12, 0, 0, 123_456, tzinfo=UTC)),
        ("2024-06-01T12:00:00.1234569Z", datetime(2024, 6, 1, 12, 0, 0, 123_456, tzinfo=UTC)),  # truncated
        ("1970-01-01T00:00:00+23:59", datetime(1969, 12, 31, 0, 1, tzinfo=UTC)),
    ],
)
def test_parse_rfc3339(text: str, expected: datetime) -> None:
    result = parse_rfc3339(text)
    assert result == expected
    assert result.tzinfo is not None


def test_parse_rfc3339_keeps_the_offset() -> None:
    result = parse_rfc3339("2024-06-01T12:00:00-05:30")
    assert (result.hour, result.utcoffset()) == (12, timedelta(hours=-5, minutes=-30))
    assert parse_rfc3339("2024-06-01T12:00:00Z").tzinfo is UTC
    assert parse_rfc3339("2024-06-01T12:00:00+00:00").tzinfo is UTC


@pytest.mark.parametrize(
    "value",
    [
        datetime(2024, 3, 31, 3, 30, tzinfo=BERLIN),
        datetime(2024, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
        datetime(1999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-9, minutes=-30))),
    ],
)
def test_parse_rfc3339_round_trips_isoformat(value: datetime) -> None:
    assert parse_rfc3339(value.isoformat()) == value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2024-01-01T00:00:00", "no UTC offset"),
        ("2024-01-01 00:00:00.5", "no UTC offset"),
        ("2024-01-01", "expected YYYY-MM-DDTHH:MM:SS"),
        ("2024-01-01T00:00Z", "expected YYYY-MM-DDTHH:MM:SS"),
        ("2024-1-1T00:00:00Z", "expected YYYY-MM-DDTHH:MM:SS"),
        ("2024-01-01T00:00:00+0100", "expected YYYY-MM-DDTHH:MM:SS"),
        ("2024-01-01T00:00:00+01", "expected YYYY-MM-DDTHH:MM:SS"),
        ("2024-01-01T00:00:00UTC", "expected YYYY-MM-DDTHH:MM:SS"),
        ("2024-01-01T00:00:00.Z", "expected YYYY-MM-DDTHH:MM:SS"),
        ("2024-01-01T00:00:00Z ", "expected YYYY-MM-DDTHH:MM:SS"),
        ("2024-01-01X00:00:00Z", "expected YYYY-MM-DDTHH:MM:SS"),
        ("\uff12\uff10\uff12\uff14-01-01T00:00:00Z", "expected YYYY-MM-DDTHH:MM:SS"),
        ("", "expected YYYY-MM-DDTHH:MM:SS"),
        ("2023-02-29T00:00:00Z", "day is out of range"),
        ("2024-13-01T00:00:00Z", "month must be in 1..12"),
        ("2024-01-01T24:00:00Z", "hour must be in 0..23"),
        ("2024-01-01T00:60:00Z", "minute must be in 0..59"),
        ("2016-12-31T23:59:60Z", "leap seconds are not supported"),
        ("2024-01-01T00:00:00+24:00", "offset out of range"),
        ("2024-01-01T00:00:00+01:60", "offset out of range"),
    ],
)
def test_parse_rfc3339_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match="invalid RFC 3339 timestamp") as error:
        parse_rfc3339(text)
    assert message in str(error.value)
