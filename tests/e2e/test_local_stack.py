"""End to end over HTTP against the local stack: API, streams, schedules, clock, outbox."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import order_event, registration
from tests.e2e.conftest import LocalClient, run_module

pytestmark = pytest.mark.e2e


def test_clock_reads_and_rejects_bad_requests(local: LocalClient) -> None:
    status, body = local.request("GET", "/_local/clock", key=None)
    assert status == 200 and body["now"].startswith("2026-03-10T08:00:00")
    assert local.request("POST", "/_local/clock", {"advance": "one day"}, key=None)[0] == 400
    assert local.request("POST", "/_local/clock", {"to": "2020-01-01T00:00:00Z"}, key=None)[0] == 400


def test_storefront_flow_end_to_end(local: LocalClient) -> None:
    events = [
        registration("e2e-r1", "e2e-ann", birthday="1990-03-11", at="2026-03-10T07:00:00Z"),
        order_event("e2e-o1", "e2e-ann", "80.40", at="2026-03-10T07:30:00Z"),
    ]
    status, body = local.request("POST", "/v1/events", {"events": events})
    assert status == 200 and [r["status"] for r in body["results"]] == ["accepted", "accepted"]
    status, ticket = local.request("POST", "/v1/tickets", {"subject": "Wrong size", "priority": "urgent"})
    assert status == 201

    status, ran = local.request("POST", "/_local/clock", {"advance": "P1D"}, key=None)
    assert status == 200
    names = {r["schedule"] for r in ran["ran"]}
    assert {"care-dates", "care-deliver", "daily-report", "ticket-escalation"} <= names
    assert all(r["ok"] for r in ran["ran"])

    status, member = local.request("GET", "/v1/members/e2e-ann")
    # sign-up 100, first order 200 and birthday month 250 at once; the order's 80 pending
    assert status == 200 and (member["points"]["available"], member["points"]["pending"]) == (550, 80)
    status, escalated = local.request("GET", f"/v1/tickets/{ticket['ticket_id']}")
    assert escalated["sla"]["first_response"]["breached"] is True

    subjects = [_subject(p) for p in sorted(local.outbox.glob("*.eml"))]
    # the KPI report to the tenant's manager, in the program's locale (zh-CN)
    assert "日报 2026-03-10：订单 1，净收入 80.40 CNY" in subjects
    assert "E2E-Ann，生日快乐！为您送上祝福" in subjects  # the member's locale: the program's zh-CN
    # the managers level, to the tenant's escalation address in the program's locale (zh-CN)
    assert any(
        s.startswith(f"[{ticket['ticket_id']}]") and "(first_response managers)" in s for s in subjects
    )

    status, report = local.request("GET", "/_local/status", key=None)
    assert all(count == 0 for count in report["dead_letters"].values()), report


def test_pending_points_are_released_after_the_return_window(local: LocalClient) -> None:
    order = order_event("e2e-p1", "e2e-pat", "42.00")
    order["occurred_at"] = local.request("GET", "/_local/clock", key=None)[1]["now"]
    assert local.request("POST", "/v1/events", order)[0] == 202
    local.request("POST", "/_local/clock", {"advance": "PT1M"}, key=None)
    assert local.request("GET", "/v1/members/e2e-pat")[1]["points"]["pending"] == 42
    status, ran = local.request("POST", "/_local/clock", {"advance": "P15D"}, key=None)
    assert status == 200 and any(r["schedule"] == "points-sweep" and r["ok"] for r in ran["ran"])
    points = local.request("GET", "/v1/members/e2e-pat")[1]["points"]
    assert (points["available"], points["pending"]) == (242, 0)  # with the first-order bonus
    status, redeemed = local.request(
        "POST",
        "/v1/members/e2e-pat/redemptions",
        {"redemption_id": "e2e-rd", "points": 100, "reward": "tote bag"},
    )
    assert status == 201 and redeemed["balance"]["available"] == 142

    # Many parallel redemptions on one member never overdraw.
    from concurrent.futures import ThreadPoolExecutor

    def redeem(i: int) -> int:
        body = {"redemption_id": f"e2e-par-{i}", "points": 20}
        return local.request("POST", "/v1/members/e2e-pat/redemptions", body)[0]

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(redeem, range(12)))
    assert set(statuses) <= {201, 409, 503}, statuses
    assert statuses.count(201) <= 7
    available = local.request("GET", "/v1/members/e2e-pat")[1]["points"]["available"]
    assert available == 142 - 20 * statuses.count(201) >= 0
    ledger = local.request("GET", "/v1/members/e2e-pat/ledger?limit=100")[1]["entries"]
    assert sum(e["available"] for e in ledger) == available


def test_a_year_of_schedules_runs_in_seconds(local: LocalClient) -> None:
    import time

    started = time.monotonic()
    status, ran = local.request("POST", "/_local/clock", {"advance": "P1Y"}, key=None)
    elapsed = time.monotonic() - started
    assert status == 200
    reports = [r for r in ran["ran"] if r["schedule"] == "daily-report"]
    reported_days = sum(len(r["result"]["reported"]) for r in reports)
    assert reported_days == 365  # every day reported once, thinned runs catching up
    # What keeps a year fast is the thinning: at most 24 runs of each schedule per advance
    # (the local stack's max_runs_per_advance), whatever their cron says; docs/performance.md
    # records the time. The bound on the time only catches a thinning that stopped working.
    schedules = {r["schedule"] for r in ran["ran"]}
    assert len(ran["ran"]) <= 24 * len(schedules)
    assert elapsed < 120


def test_openapi_is_served_and_matches_the_committed_document(local: LocalClient) -> None:
    status, served = local.request("GET", "/v1/openapi.json", key=None)
    committed = json.loads((Path(__file__).resolve().parents[2] / "docs" / "openapi.json").read_text())
    assert status == 200 and served == committed


def test_errors_over_http(local: LocalClient) -> None:
    assert local.request("POST", "/v1/events", {"events": []})[0] == 400
    assert local.request("GET", "/v1/members/nobody")[0] == 404
    assert local.request("GET", "/v1/members/nobody", key="wrong")[0] == 401


def _subject(path: Path) -> str:
    from email import message_from_bytes, policy

    return str(message_from_bytes(path.read_bytes(), policy=policy.default)["Subject"] or "")


def test_demo_scenario_leaves_a_report_in_the_outbox(tmp_path: Path) -> None:
    import ast
    from datetime import date, timedelta

    outbox = tmp_path / "outbox"
    result = run_module("infra.local.demo", "--members", "40", "--days", "5", "--outbox", str(outbox))
    # The demo exits non-zero on dead letters and when a part of the points story is missing.
    assert result.returncode == 0, result.stdout + result.stderr
    assert "dead letters       0" in result.stdout
    # The summary lines: "  <key, 18 wide> <value>".
    lines = result.stdout.split("Demo finished:\n", 1)[1].splitlines()
    summary = {line[2:20].strip(): line[21:] for line in lines if line.startswith("  ")}

    # The points story, read back from the API: earned, spent, clawed back, expired, tiers.
    earned, redeemed, clawed, expired, adjusted = (
        int(summary[f"points {kind}"])
        for kind in ("earned", "redeemed", "clawed back", "expired", "adjusted")
    )
    assert earned > 0 and redeemed > 0 and clawed > 0 and adjusted == 150
    balances = ast.literal_eval(summary["points balances"])
    assert expired > 0 and earned - redeemed - clawed - expired + adjusted == sum(balances.values())
    assert summary["ledger check"] == "ok"
    # The care story, read back through the admin API: sends by rule, tasks by assignee, skips.
    care_sent, care_tasks, care_skipped = (
        ast.literal_eval(summary[key]) for key in ("care sent", "care tasks", "care skipped")
    )
    assert sum(care_sent.values()) > 0 and sum(care_tasks.values()) > 0 and sum(care_skipped.values()) > 0
    assert set(care_tasks) <= {"rep-wang", "rep-li", "care-desk"}  # never the retired rep
    _assert_the_desk_story(summary, outbox)
    redemptions = ast.literal_eval(summary["redemptions"])
    assert redemptions["vouchers"] > 0 and redemptions["confirmed"] > 0
    assert redemptions["held at checkout"] == redemptions["confirmed"] + redemptions["cancelled or lapsed"]
    moves = ast.literal_eval(summary["tier changes"])
    assert moves["up"] > 0 and moves["down"] > 0  # upgraded in the weeks, down on the anniversary
    tiers = ast.literal_eval(summary["tiers"])  # every tier, lowest first
    assert sum(tiers.values()) == int(summary["members"])
    for step in ast.literal_eval(summary["tier moves"]):
        old, new = step.split("->")
        assert list(tiers).index(new) >= list(tiers).index(old) - 1  # down one level at most
    # a year and a return window on: the first lots expired, the first tiers were reviewed;
    # then a late evening of carts, reminded at 09:30 the next morning (Shanghai)
    assert summary["simulated until"] == "2027-03-22T01:30:00.000Z"

    # One daily report a day, from the played days through the quiet year after; every ISO
    # week and every month reported too. Three managers: the store manager and the desk's
    # manager get every kind, the regional manager the monthly ones (in English); the
    # summary shows the last monthly report's headline figures.
    days = sorted({p.name.split("report-daily-")[1][:10] for p in outbox.glob("*-report-daily-*.eml")})
    first = date.fromisoformat(days[0])
    assert days == [(first + timedelta(days=i)).isoformat() for i in range(len(days))]
    assert first.isoformat() == "2026-03-02" and len(days) > 365  # the demo starts 2026-03-02 in Shanghai
    months = sorted({p.name.split("report-monthly-")[1][:10] for p in outbox.glob("*-report-monthly-*.eml")})
    assert months[0] == "2026-03-01" and len(months) >= 12
    assert len(list(outbox.glob("*-report-monthly-*.eml"))) == 3 * len(months)
    assert len({p.name[6:] for p in outbox.glob("*-report-weekly-*.eml")}) >= 52
    emailed = ast.literal_eval(summary["emailed"])
    assert emailed["monthly"] == 3 * len(months) and emailed["daily"] == 2 * len(days)
    english = [p for p in outbox.glob("*-report-*.eml") if "regional-manager@" in p.read_text()]
    assert len(english) == len(months) and all("Monthly report" in p.read_text() for p in english)
    headline = ast.literal_eval(summary["headline"])
    assert summary["last monthly"].startswith(f"monthly-{months[-1]}")
    assert set(headline) >= {"orders", "net_revenue", "churn_rate", "nps", "points_liability"}
    played = [p.read_text() for p in outbox.glob("*-report-daily-2026-03-0*.eml")]
    assert any("text/csv" in text for text in played)


def _assert_the_desk_story(summary: dict[str, str], outbox: Path) -> None:
    """The service desk's tickets, read back through the tickets API: every priority, one
    urgent complaint escalating level by level (each level seen at its own clock step),
    a reopen and CSAT answers."""
    import ast
    import re

    assert all(n > 0 for n in ast.literal_eval(summary["by priority"]).values())
    assert {"default", "high", "urgent"} <= set(ast.literal_eval(summary["by policy"]))
    assert set(ast.literal_eval(summary["assignees"])) <= {"agent-chen", "agent-liu"}  # round-robin, on duty
    # Opened on Tuesday at 13:00 in Shanghai, urgent: the first response is due at 14:00.
    assert ast.literal_eval(summary["its escalations"]) == [
        "first_response warning Tue 13:45 (seen Tue 13:46)",
        "first_response breach Tue 14:00 (seen Tue 14:01)",
        "first_response managers Tue 16:00 (seen Tue 16:01)",
    ]
    assert summary["its events"] == "3"  # each level once on the member's timeline
    ticket = summary["breaching ticket"]
    emailed = [
        found.group(1)
        for found in (
            re.search(r"\bfirst_response (warning|breach|managers)\b", _subject(path))
            for path in sorted(outbox.glob("*.eml"))
            if _subject(path).startswith(f"[{ticket}]")
        )
        if found
    ]
    assert list(dict.fromkeys(emailed)) == ["warning", "breach", "managers"]  # in the order sent
    shown = [f"first_response {level}" for level in dict.fromkeys(emailed)]
    assert list(ast.literal_eval(summary["its emails"])) == shown
    assert int(summary["reopened"]) >= 1
    csat = ast.literal_eval(summary["csat"])  # the answers by score, 5 down to 1
    assert list(csat) == [5, 4, 3, 2, 1] and sum(csat.values()) >= 4 and csat[2] >= 1
    assert summary["its csat"] == "2"  # the late answer's rating, from its survey.answered
    assert int(summary["csat surveys"]) >= sum(csat.values())  # each rated ticket was sent its survey


def test_member_refresh_moves_the_stage_with_the_clock(local: LocalClient) -> None:
    import uuid

    member = f"e2e-refresh-{uuid.uuid4().hex[:8]}"
    _, clock = local.request("GET", "/_local/clock", key=None)
    order = order_event(f"{member}-o1", member, "30.00", at=clock["now"])
    assert local.request("POST", "/v1/events", order)[0] == 202

    status, ran = local.request("POST", "/_local/clock", {"advance": "P100D"}, key=None)
    assert status == 200
    refreshes = [r for r in ran["ran"] if r["schedule"] == "member-refresh"]
    assert refreshes and all(r["ok"] for r in refreshes)

    _, member_view = local.request("GET", f"/v1/members/{member}")
    assert member_view["lifecycle_stage"] == "at-risk"
    _, timeline = local.request("GET", f"/v1/members/{member}/events")
    changes = [
        (e["data"]["from"], e["data"]["to"])
        for e in timeline["events"]
        if e["type"] == "member.stage_changed"
    ]
    assert changes == [("active", "at-risk"), ("new", "active")]


def test_make_redrive_replays_a_poisoned_record_once(local: LocalClient) -> None:
    import boto3

    _, status = local.request("GET", "/_local/status", key=None)
    table = boto3.resource(
        "dynamodb",
        endpoint_url=status["aws_endpoint"],
        region_name="eu-central-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    ).Table("local-LoyaltyTable")
    balance = {"pk": "T#demo#M#e2e-poison", "sk": "#BALANCE"}
    table.put_item(Item={**balance, "version": "not a number"})  # every attempt to earn fails
    before = status["dead_letters"]["PointsEarn"]
    order = order_event("e2e-poison-o1", "e2e-poison", "64.00")
    order["occurred_at"] = local.request("GET", "/_local/clock", key=None)[1]["now"]
    assert local.request("POST", "/v1/events", order)[0] == 202
    local.request("POST", "/_local/clock", {"advance": "PT1M"}, key=None)  # the pump settles
    assert local.request("GET", "/_local/status", key=None)[1]["dead_letters"]["PointsEarn"] == before + 1

    table.delete_item(Key=balance)  # the poison fixed
    redrive = _make_redrive(local)
    assert redrive.returncode == 0, redrive.stdout + redrive.stderr
    assert json.loads(redrive.stdout)["replayed"] == before + 1
    _, member = local.request("GET", "/v1/members/e2e-poison")
    assert (member["points"]["pending"], member["points"]["available"]) == (64, 200)
    assert json.loads(_make_redrive(local).stdout)["replayed"] == 0
    _, ledger = local.request("GET", "/v1/members/e2e-poison/ledger")
    assert sorted(e["type"] for e in ledger["entries"]) == ["earn", "earn"]  # applied exactly once


def _make_redrive(local: LocalClient) -> Any:
    import subprocess

    from tests.e2e.conftest import ROOT, module_env

    port = local.url.rsplit(":", 1)[1]
    return subprocess.run(  # noqa: S603 - the project's own Makefile
        ["make", "-s", "redrive", "FUNCTION=PointsEarn", f"LOCAL_PORT={port}"],  # noqa: S607
        cwd=ROOT,
        env=module_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_make_tenant_bootstraps_a_tenant_and_prints_its_admin_key_once(local: LocalClient) -> None:
    import subprocess

    from tests.e2e.conftest import ROOT, module_env

    port = local.url.rsplit(":", 1)[1]
    command = [
        "make",
        "-s",
        "tenant",
        "TENANT=e2e-acme",
        "NAME=Acme Shoes",
        "MANAGER_EMAIL=boss@acme.example",
        f"LOCAL_PORT={port}",
    ]
    run = subprocess.run(command, cwd=ROOT, env=module_env(), capture_output=True, text=True, timeout=120)  # noqa: S603
    assert run.returncode == 0, run.stdout + run.stderr
    created = json.loads(run.stdout)
    assert created["tenant_id"] == "e2e-acme" and created["admin_key"].startswith("adm_")
    storefront = {"storefront_id": "acme-web", "name": "Acme web shop", "channel": "web"}
    status, body = local.request("POST", "/v1/admin/storefronts", storefront, key=created["admin_key"])
    assert status == 201
    order = order_event("acme-o1", "acme-m1", "10.00")
    order["occurred_at"] = local.request("GET", "/_local/clock", key=None)[1]["now"]
    assert local.request("POST", "/v1/events", order, key=body["key"]["api_key"])[0] == 202
    again = subprocess.run(command, cwd=ROOT, env=module_env(), capture_output=True, text=True, timeout=120)  # noqa: S603
    assert again.returncode != 0 and "exists" in again.stderr and "adm_" not in again.stdout
