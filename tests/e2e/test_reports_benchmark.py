"""The KPI report benchmark runs (tiny) and shows what docs/performance.md claims: a
month's, a week's and a day's report, and a whole monthly report run, cost the same
DynamoDB requests at ten times the events, and the rollups the benchmark writes by the
fold equal, item for item, those the real stream consumer writes from the same events."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.conftest import run_module

pytestmark = pytest.mark.e2e

REPORTS = ("monthly-2026-05-01", "weekly-2026-05-25", "daily-2026-05-31")


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench") / "reports.json"
    result = run_module(
        "bench.reports", "--small", "300", "--large", "3000", "--extra", "40", "--json-out", str(out)
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    found: dict[str, Any] = json.loads(out.read_text())
    return found


def test_a_report_costs_the_same_requests_at_ten_times_the_events(document: dict[str, Any]) -> None:
    small, large = document["runs"]
    assert (small["events"], large["events"]) == (300, 3000)
    assert large["rollups"]["counter_items"] > small["rollups"]["counter_items"]
    for report_id in REPORTS:
        assert small["reports"][report_id]["calls"] == large["reports"][report_id]["calls"], report_id
        assert small["reports"][report_id]["calls"].keys() == {"Query"}  # never a Scan
        assert small["reports"][report_id]["orders"] < large["reports"][report_id]["orders"], report_id
    assert small["job"]["calls"] == large["job"]["calls"]
    assert document["same_requests"] is True
    # The run built the month's report, stored it and emailed the one manager.
    for run in (small, large):
        assert run["job"]["reported"] == ["demo/monthly-2026-05-01"]
        assert (run["job"]["sent"], run["job"]["emails_sent"]) == (1, 1)
    assert document["job_ok"] is True


def test_the_fold_writes_the_counters_the_stream_consumer_writes(document: dict[str, Any]) -> None:
    small = document["runs"][0]
    stream = small["stream"]
    assert stream["equal"] is True and stream["differing_items"] == 0
    assert stream["counter_items"] == stream["stream_counter_items"] > 100
    assert stream["dead_lettered"] == 0
    assert document["fold_equals_stream"] is True
    mix = small["mix"]
    for kind in ("member.registered", "order.placed", "order.cancelled", "order.refunded", "survey.answered"):
        assert mix[kind] > 0, kind
    # The metered extra events went through the real consumer: one transaction each at most.
    incremental = small["incremental"]
    assert incremental["events"] == 40
    assert 0 < incremental["calls"]["TransactWriteItems"] <= 40
