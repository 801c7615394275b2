"""KPI reports end to end: events through the API and the ReportsRollup stream, the
monthly, weekly and daily jobs, the stored report read back through the reports API."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import OTHER_API_KEY, Env
from tests.faults import Faults
from tests.integration.reports.report_helpers import (
    ADMIN,
    FEBRUARY,
    MONTHLY_RUN,
    counter_items,
    february,
    order,
    post,
    report,
)

pytestmark = pytest.mark.integration


def test_the_monthly_report_has_the_hand_computed_figures(aws: Env) -> None:
    post(aws, february())
    aws.pump().drain()
    result = aws.run_job("Reports", "monthly_report", MONTHLY_RUN)
    assert "demo/monthly-2026-02-01" in result["reported"]
    doc = report(aws, "monthly-2026-02-01")
    assert (doc["period"], doc["start"], doc["end"]) == ("monthly", "2026-02-01", "2026-03-01")
    assert (doc["time_zone"], doc["currency"]) == ("Europe/Berlin", "CNY")
    assert {k: doc["figures"][k] for k in FEBRUARY} == FEBRUARY
    previous = doc["previous"]  # January: no orders; ann and bob active on 1 January and 1 February
    assert (previous["orders"], previous["active_at_start"], previous["active_at_end"]) == (0, 2, 2)
    assert (previous["churn_rate"], previous["retention_rate"], previous["repurchase_rate"]) == (
        0.0,
        1.0,
        None,
    )
    cohort = next(c for c in doc["cohorts"] if c["cohort"] == "2025-11")
    assert cohort == {"cohort": "2025-11", "size": 2, "retention": [0.0, 0.0, 0.5]}  # ann orders in February
    assert [d["orders"] for d in doc["series"] if d["orders"]] == [1, 1, 1]


def test_resends_reordering_and_cancel_first_count_once(aws: Env) -> None:
    events = february()
    shuffled = events[:]
    random.Random(4).shuffle(shuffled)
    post(aws, shuffled)
    # A resend of every event, and the same order placed again under another event id
    # (a storefront retry with a fresh id): counted once, by its earliest occurrence.
    post(aws, events[::-1])
    post(aws, [order("a2-again", "ann", "100.00", "2026-02-03T10:05:00Z", order_id="o-a2")])
    pump = aws.pump()
    pump.drain()
    aws.run_job("Reports", "monthly_report", MONTHLY_RUN)
    assert {k: report(aws, "monthly-2026-02-01")["figures"][k] for k in FEBRUARY} == FEBRUARY


def test_a_redelivered_batch_and_lost_replies_change_nothing(aws: Env) -> None:
    post(aws, february())
    faults = Faults(
        1.0,
        seed=3,
        functions={"ReportsRollup"},
        kinds=("lost_reply", "conflict"),
        when=lambda op, _: op == "TransactWriteItems",
    ).install()
    try:
        faults.rate = 0.5
        aws.pump().drain()
    finally:
        faults.uninstall()
    assert faults.injected["lost_reply"] + faults.injected["conflict"] > 0
    before = counter_items(aws)
    # The whole stream again, as after a consumer's restart from the trim horizon.
    aws.pump().drain()
    assert counter_items(aws) == before
    aws.run_job("Reports", "monthly_report", MONTHLY_RUN)
    assert {k: report(aws, "monthly-2026-02-01")["figures"][k] for k in FEBRUARY} == FEBRUARY


def test_a_late_order_restates_the_closed_month_in_the_next_report(aws: Env) -> None:
    post(aws, february())
    aws.pump().drain()
    aws.run_job("Reports", "monthly_report", MONTHLY_RUN)
    post(
        aws,
        [order("late", "bob", "30.00", "2026-02-25T10:00:00Z")],
        at=datetime(2026, 3, 5, 9, 0, tzinfo=UTC),
    )
    aws.pump().drain()
    aws.run_job("Reports", "monthly_report", datetime(2026, 4, 1, 5, 0, tzinfo=UTC))
    march = report(aws, "monthly-2026-03-01")
    changed = {r["figure"]: (r["old"], r["new"]) for r in march["restated"]}
    assert all(r["report_id"] == "monthly-2026-02-01" for r in march["restated"])
    assert changed["orders"] == (3, 4)
    assert changed["gross_revenue"] == ("350.00", "380.00")
    assert changed["churn_rate"] == (0.5, 0.0)  # bob is active on 1 March after all
    restated = report(aws, "monthly-2026-02-01")
    assert restated["figures"]["orders"] == 4
    assert "restated_at" in restated
    # Restated once: the next report has nothing to restate.
    aws.run_job("Reports", "monthly_report", datetime(2026, 5, 1, 5, 0, tzinfo=UTC))
    assert report(aws, "monthly-2026-04-01")["restated"] == []


def _emails(aws: Env, marker: str, to: str = "manager@demo.example") -> list[str]:
    return [m.raw_data for m in aws.sent_emails() if marker in m.raw_data and to in m.destinations]


def test_missed_days_are_caught_up_and_a_repeated_run_sends_nothing_twice(aws: Env) -> None:
    post(aws, february())
    aws.pump().drain()
    first = aws.run_job("Reports", "daily_report", datetime(2026, 2, 24, 5, 30, tzinfo=UTC))
    assert first["reported"] == ["demo/daily-2026-02-23", "rival/daily-2026-02-23"]  # a first run: yesterday
    caught_up = aws.run_job("Reports", "daily_report", datetime(2026, 2, 27, 5, 30, tzinfo=UTC))
    assert [r for r in caught_up["reported"] if r.startswith("demo/")] == [
        "demo/daily-2026-02-24",
        "demo/daily-2026-02-25",
        "demo/daily-2026-02-26",
    ]
    again = aws.run_job("Reports", "daily_report", datetime(2026, 2, 27, 5, 30, tzinfo=UTC))
    assert again["reported"] == [] and again["sent"] == 0
    # A run that sent its emails but could not move its marker (it timed out): the next run
    # handles those days again, finds each report stored and each delivery claimed.
    aws.table("LOYALTY_TABLE").update_item(
        Key={"pk": "T#demo#JOBS", "sk": "daily_report"},
        UpdateExpression="SET done_through = :d",
        ExpressionAttributeValues={":d": "2026-02-23"},
    )
    redone = aws.run_job("Reports", "daily_report", datetime(2026, 2, 27, 5, 30, tzinfo=UTC))
    assert [r for r in redone["reported"] if r.startswith("demo/")] == [
        "demo/daily-2026-02-24",
        "demo/daily-2026-02-25",
        "demo/daily-2026-02-26",
    ]
    assert redone["sent"] == 0
    listed = aws.call("GET", "/v1/reports?period=daily&from=2026-02-01&to=2026-02-28", key=ADMIN).json()
    assert [r["report_id"] for r in listed["reports"]] == [f"daily-2026-02-{d}" for d in (23, 24, 25, 26)]
    assert len([m for m in aws.sent_emails() if "manager@demo.example" in m.destinations]) == 4


def test_weekly_reports_cover_the_iso_week_before(aws: Env) -> None:
    post(aws, february())
    aws.pump().drain()
    aws.run_job("Reports", "weekly_report", datetime(2026, 2, 23, 6, 0, tzinfo=UTC))  # Monday 23 Feb
    doc = report(aws, "weekly-2026-02-16")
    assert (doc["start"], doc["end"]) == ("2026-02-16", "2026-02-23")
    assert doc["figures"]["orders"] == 1  # ann on 20 February
    assert doc["previous"]["orders"] == 1  # cat on 10 February (dan's was cancelled)


def test_managers_get_the_kinds_they_chose_in_their_locale(aws: Env) -> None:
    base = {"role": "manager", "time_zone": "Asia/Shanghai", "queues": []}
    for staff_id, body in (
        (
            "m-zh",
            {**base, "name": "Li", "email": "li@demo.example", "locale": "zh-CN", "reports": ["monthly"]},
        ),
        ("m-en", {**base, "name": "Ann", "email": "boss@demo.example", "locale": "en"}),
        ("m-off", {**base, "name": "Off", "email": "off@demo.example", "active": False}),
    ):
        saved = aws.call("PUT", f"/v1/admin/staff/{staff_id}", body, key=ADMIN)
        assert saved.status == 201, saved.json()
    post(aws, february())
    aws.pump().drain()
    aws.run_job("Reports", "monthly_report", MONTHLY_RUN)
    aws.run_job("Reports", "daily_report", MONTHLY_RUN)
    to = {
        address: [m.raw_data for m in aws.sent_emails() if address in m.destinations]
        for address in ("li@demo.example", "boss@demo.example", "off@demo.example", "manager@demo.example")
    }
    assert len(to["li@demo.example"]) == 1 and len(to["boss@demo.example"]) == 2
    assert to["off@demo.example"] == [] and to["manager@demo.example"] == []  # the registry has managers
    assert "Monthly report" in to["boss@demo.example"][0] or "Monthly report" in to["boss@demo.example"][1]
    assert "Monthly report" not in to["li@demo.example"][0]
    assert "text/csv" in to["li@demo.example"][0]


def test_the_reports_api_lists_reads_and_refuses(aws: Env) -> None:
    post(aws, february())
    aws.pump().drain()
    aws.run_job("Reports", "monthly_report", MONTHLY_RUN)
    csv = aws.call("GET", "/v1/reports/monthly-2026-02-01/csv", key=ADMIN)
    assert csv.status == 200 and csv.body.startswith("\ufeff".encode())
    assert csv.headers["content-type"].startswith("text/csv")
    assert b"sales,orders,3,0" in csv.body
    for path, status in (
        ("/v1/reports/monthly-2026-01-01", 404),
        ("/v1/reports/monthly-2026-02-02", 400),  # not the start of a month
        ("/v1/reports/weekly-2026-02-17", 400),  # not a Monday
        ("/v1/reports/yearly-2026-01-01", 400),
        ("/v1/reports?period=monthly&from=2026-13-01", 400),
        ("/v1/reports?period=monthly&from=2026-03-01&to=2026-02-01", 400),
        ("/v1/reports?period=hourly", 400),
        ("/v1/reports?period=monthly&cursor=bogus", 400),
    ):
        got = aws.call("GET", path, key=ADMIN)
        assert got.status == status, (path, got.json())
    assert (
        aws.call("GET", "/v1/reports?period=monthly", key="test-key-demo").status == 403
    )  # a storefront key
    # The rival tenant's admin key sees its own reports only.
    rival = aws.call("GET", "/v1/reports/monthly-2026-02-01", key=f"admin-{OTHER_API_KEY}").json()
    assert rival["figures"]["orders"] == 0


def test_report_lists_page_with_a_cursor(aws: Env) -> None:
    aws.run_job("Reports", "daily_report", datetime(2026, 2, 2, 5, 30, tzinfo=UTC))
    aws.run_job("Reports", "daily_report", datetime(2026, 2, 9, 5, 30, tzinfo=UTC))
    seen, cursor = [], None
    while True:
        path = "/v1/reports?period=daily&limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = aws.call("GET", path, key=ADMIN).json()
        seen += [r["start"] for r in page["reports"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    start = datetime(2026, 2, 1).date()
    assert seen == [(start + timedelta(days=i)).isoformat() for i in range(8)]


def test_a_kinds_first_run_catches_up_from_the_tenants_first_report(aws: Env) -> None:
    aws.run_job("Reports", "daily_report", datetime(2026, 2, 2, 5, 30, tzinfo=UTC))  # reporting starts: 1 Feb
    late = aws.run_job(
        "Reports", "monthly_report", datetime(2026, 5, 1, 5, 0, tzinfo=UTC)
    )  # first run in May
    assert [r for r in late["reported"] if r.startswith("demo/")] == [
        "demo/monthly-2026-02-01",
        "demo/monthly-2026-03-01",
        "demo/monthly-2026-04-01",
    ]
    weekly = aws.run_job("Reports", "weekly_report", datetime(2026, 2, 16, 6, 0, tzinfo=UTC))
    assert [r for r in weekly["reported"] if r.startswith("demo/")] == [
        "demo/weekly-2026-01-26",
        "demo/weekly-2026-02-02",
        "demo/weekly-2026-02-09",
    ]
