"""The daily KPI report: figures from the day indexes, emailed and stored, once per day."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.conftest import OTHER_API_KEY, Env, order_event, registration

pytestmark = pytest.mark.integration

MORNING = datetime(2026, 3, 11, 5, 30, tzinfo=UTC)  # 06:30 Berlin on 11 March


def _reports(aws: Env, to: str = "manager@demo.example") -> list[str]:
    return [m.raw_data for m in aws.sent_emails() if "Daily report" in m.raw_data and to in m.destinations]


def test_report_counts_orders_revenue_points_members_and_tickets(aws: Env) -> None:
    events = [
        registration("r-1", "ann", at="2026-03-10T08:00:00Z"),
        order_event("o-1", "ann", "100.50", at="2026-03-10T09:00:00Z"),
        order_event("o-2", "bob", "20.25", at="2026-03-10T22:30:00Z"),  # 23:30 Berlin: still 10 March
        order_event("o-3", "bob", "99.00", at="2026-03-10T23:30:00Z"),  # 00:30 Berlin: 11 March
        {
            "event_id": "rf-1",
            "type": "order.refunded",
            "occurred_at": "2026-03-10T10:00:00Z",
            "member_id": "ann",
            "channel": "store",
            "data": {"order_id": "o-1", "refund_id": "rf-1", "amount": "10.00", "currency": "CNY"},
        },
    ]
    response = aws.call("POST", "/v1/events", {"events": events}, at=datetime(2026, 3, 11, 1, 0, tzinfo=UTC))
    assert {r["status"] for r in response.json()["results"]} == {"accepted"}
    aws.call(
        "POST",
        "/v1/events",
        order_event("x-1", "zed", "555.00", at="2026-03-10T09:00:00Z"),
        key=OTHER_API_KEY,
    )
    aws.call("POST", "/v1/tickets", {"subject": "Where is my parcel"})
    aws.pump().drain()
    result = aws.run_job("Reports", "daily_report", MORNING)
    assert "demo/2026-03-10" in result["reported"]
    [report] = _reports(aws)
    assert "Subject: Daily report 2026-03-10: 2 orders, 120.75 CNY" in report
    text = report.split("\n\n", 1)[1]
    # credited on 10 March (stream processing time): ann 100 sign-up + 200 first order + 100,
    # bob 20 + 200 first order + 99
    assert "Points issued      719" in text
    assert "New members        1" in text
    assert "Refunded amount    10.00 CNY" in text
    assert "Tickets opened     1" in text
    s3 = aws.session.client("s3")
    stored = (
        s3.get_object(Bucket="test-reports", Key="reports/demo/daily/2026-03-10.html")["Body"].read().decode()
    )
    assert "120.75 CNY" in stored
    assert "555.00" not in report  # the rival tenant's order is in its own report
    assert "555.00 CNY" in _reports(aws, "boss@rival.example")[0]


def test_each_day_is_reported_once_and_missed_days_caught_up(aws: Env) -> None:
    aws.run_job("Reports", "daily_report", MORNING)
    aws.run_job("Reports", "daily_report", MORNING.replace(hour=7))
    assert len(_reports(aws)) == 1
    result = aws.run_job("Reports", "daily_report", MORNING.replace(day=14))
    assert [r for r in result["reported"] if r.startswith("demo/")] == [
        "demo/2026-03-11",
        "demo/2026-03-12",
        "demo/2026-03-13",
    ]
    assert len(_reports(aws)) == 4


def _run(aws: Env, at: datetime) -> BaseException | None:
    """A run of the job: the exception it failed with, or None."""
    try:
        aws.run_job("Reports", "daily_report", at)
    except Exception as err:  # noqa: BLE001 - the test looks at it
        return err
    return None


def test_one_tenants_failed_report_does_not_stop_later_tenants(aws: Env) -> None:
    from loyalty import jobs
    from tests.integration.ses_faults import rejecting

    def demo_day_10(to: list[str], raw: str) -> bool:
        return "manager@demo.example" in to and "Subject: Daily report 2026-03-10" in raw

    with rejecting(demo_day_10):
        failed = _run(aws, MORNING)
        # demo comes first in the registry; its failed send does not stop rival's report
        assert len(_reports(aws, "boss@rival.example")) == 1
        assert _reports(aws) == []
        assert isinstance(failed, jobs.JobFailed) and failed.result["failed"] == 1
        # The next runs retry demo's 10 March and report the days after it, each once.
        for day in (12, 13, 14):
            assert isinstance(_run(aws, MORNING.replace(day=day)), jobs.JobFailed)
        result = aws.run_job("Reports", "daily_report", MORNING.replace(day=15))
        assert (result["failed"], result["parked"]) == (1, 1)  # the fifth failed run parks it
        failure = aws.table("LOYALTY_TABLE").get_item(
            Key={"pk": "T#demo#JOBS", "sk": "FAILED#daily_report#2026-03-10"}
        )["Item"]
        assert (failure["state"], failure["attempts"], failure["error_code"]) == (
            "parked",
            5,
            "MessageRejected",
        )
        assert "@" not in str(failure)
        marker = aws.table("LOYALTY_TABLE").get_item(Key={"pk": "T#demo#JOBS", "sk": "daily_report"})["Item"]
        assert marker["done_through"] == "2026-03-14"
        result = aws.run_job("Reports", "daily_report", MORNING.replace(day=16))
        assert result["reported"] == ["demo/2026-03-15", "rival/2026-03-15"]
    subjects = sorted(r.split("Subject: Daily report ", 1)[1][:10] for r in _reports(aws))
    assert subjects == ["2026-03-11", "2026-03-12", "2026-03-13", "2026-03-14", "2026-03-15"]
    assert len(_reports(aws, "boss@rival.example")) == 6
