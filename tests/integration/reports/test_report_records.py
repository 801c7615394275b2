"""The figures counted from the loyalty table's stream (ReportsRecords): points flows and
the outstanding stock, members by stage and by tier, care sends and tasks. Each is
checked against an independent source: the members' own balances, views and ledgers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from infra.rebuild_rollups import run as rebuild_run
from tests.conftest import Env, order_event, registration
from tests.faults import Faults
from tests.integration.reports.report_helpers import ADMIN, refund, report

pytestmark = pytest.mark.integration

# Events on 10 March 2026 (the fixture's day), the report for March made on 1 April.
APRIL = datetime(2026, 4, 1, 5, 0, tzinfo=UTC)
MEMBERS = ("m-1", "m-2", "m-3")


def _activity(aws: Env) -> None:
    events: list[dict[str, Any]] = []
    for n, member in enumerate(MEMBERS):
        events.append(registration(f"reg-{member}", member, at="2026-03-10T08:00:00Z"))
        events.append(order_event(f"ord-{member}", member, str(100 * (n + 1)), at="2026-03-10T09:00:00Z"))
    response = aws.call("POST", "/v1/events", {"events": events})
    assert {r["status"] for r in response.json()["results"]} == {"accepted"}
    aws.pump().drain()
    redeemed = aws.call("POST", "/v1/members/m-1/redemptions", {"redemption_id": "rd-1", "points": 50})
    assert redeemed.status == 201, redeemed.json()
    held = aws.call(
        "POST", "/v1/members/m-2/redemptions", {"redemption_id": "h-1", "points": 30, "hold": True}
    )
    assert held.status == 201, held.json()  # still held at the end of March: outstanding, not redeemed
    adjusted = aws.call(
        "POST",
        "/v1/members/m-3/adjustments",
        {"adjustment_id": "adj-1", "points": -20, "reason": "correction"},
        key=ADMIN,
    )
    assert adjusted.status == 201, adjusted.json()
    aws.call("POST", "/v1/events", refund("rf-2", "m-2", "o-ord-m-2", "200.00", "2026-03-10T10:00:00Z"))
    aws.pump().drain()


def _balances(aws: Env) -> int:
    total = 0
    for member in MEMBERS:
        points = aws.call("GET", f"/v1/members/{member}").json()["points"]
        total += points["available"] + points["pending"] + points["held"]
    return total


def _ledger_sum(aws: Env, entry_type: str) -> int:
    total = 0
    for member in MEMBERS:
        for entry in aws.call("GET", f"/v1/members/{member}/ledger?limit=100").json()["entries"]:
            if entry["type"] == entry_type:
                total += int(entry["available"]) + int(entry["pending"]) + int(entry["held"])
    return total


def test_points_flows_are_conserved_and_the_stock_is_the_members_balances(aws: Env) -> None:
    _activity(aws)
    aws.run_job("Reports", "monthly_report", APRIL)
    f = report(aws, "monthly-2026-03-01")["figures"]
    assert f["points_issued"] == _ledger_sum(aws, "earn") > 0
    assert f["points_redeemed"] == 50
    assert f["points_adjusted"] == -20
    assert f["points_clawed_back"] == -_ledger_sum(aws, "clawback") > 0  # the full refund of m-2's order
    assert f["points_outstanding"] == _balances(aws)
    assert f["points_outstanding_at_start"] == 0
    assert f["points_outstanding"] == (
        f["points_outstanding_at_start"]
        + f["points_issued"]
        - f["points_redeemed"]
        - f["points_expired"]
        - f["points_clawed_back"]
        + f["points_adjusted"]
    )
    # No expiry history yet: the configured rate (0.8) and 0.01 a point.
    assert (f["expected_redemption_rate"], f["breakage_rate"]) == (1.0, 0.0)  # 50 redeemed, 0 expired
    assert f["points_liability"] == f"{f['points_outstanding'] * 0.01 * 1.0:.2f}"


def test_members_by_stage_and_tier_match_their_views(aws: Env) -> None:
    _activity(aws)
    # A rebuild of the event log's rollups leaves the loyalty table's counters alone.
    rebuilt = rebuild_run("demo", date(2026, 3, 1), date(2026, 3, 31))
    assert rebuilt["events"] == 7 and rebuilt["counters_deleted"] == 0
    aws.run_job("Reports", "monthly_report", APRIL)
    f = report(aws, "monthly-2026-03-01")["figures"]
    stages: dict[str, int] = {}
    tiers: dict[str, int] = {}
    for member in MEMBERS:
        view = aws.call("GET", f"/v1/members/{member}").json()
        stages[view["lifecycle_stage"]] = stages.get(view["lifecycle_stage"], 0) + 1
        tiers[view["tier"]] = tiers.get(view["tier"], 0) + 1
    assert f["by_lifecycle_stage"] == stages
    assert f["by_tier"] == tiers
    assert f["members_total"] == 3 and f["registrations"] == 3
    assert f["points_outstanding"] == _balances(aws) and f["points_issued"] == _ledger_sum(aws, "earn")


def test_a_redelivered_loyalty_stream_counts_nothing_twice(aws: Env) -> None:
    faults = Faults(
        0.5,
        seed=11,
        functions={"ReportsRecords"},
        kinds=("lost_reply", "conflict"),
        when=lambda op, _: op == "TransactWriteItems",
    ).install()
    try:
        _activity(aws)
    finally:
        faults.uninstall()
    assert sum(faults.injected.values()) > 0
    aws.pump().drain()  # the whole stream again
    aws.run_job("Reports", "monthly_report", APRIL)
    f = report(aws, "monthly-2026-03-01")["figures"]
    assert f["points_outstanding"] == _balances(aws)
    assert f["points_issued"] == _ledger_sum(aws, "earn")


def test_care_sends_and_tasks_are_counted(aws: Env) -> None:
    _activity(aws)
    aws.run_job("CareRules", "care_deliver", aws.now + timedelta(days=1))
    aws.pump().drain()
    aws.run_job("Reports", "monthly_report", APRIL)
    f = report(aws, "monthly-2026-03-01")["figures"]
    # Care emails go to the members (m-1@example.com ...); reports to the managers.
    sent = sum(1 for m in aws.sent_emails() if any(d.endswith("@example.com") for d in m.destinations))
    assert f["care_sent"] == sent >= 1
    assert isinstance(f["care_skipped"], dict)
    assert (f["tasks_created"], f["tasks_completed"], f["tasks_overdue"]) == (0, 0, 0)
