"""The care benchmark runs (small) and shows what docs/performance.md claims: a day's
care costs the same DynamoDB requests and capacity units at ten times the members when
the same members are due."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import run_module

pytestmark = pytest.mark.e2e


def test_a_days_care_costs_the_same_at_ten_times_the_members(tmp_path: Path) -> None:
    out = tmp_path / "care.json"
    result = run_module(
        "bench.care", "--small", "200", "--large", "2000", "--due", "5", "--json-out", str(out)
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    document = json.loads(out.read_text())
    small, large = document["runs"]
    assert (small["members"], large["members"]) == (200, 2000)
    for field in ("calls", "requests", "read_units", "write_units", "index_write_units", "items_read"):
        assert small["total"][field] == large["total"][field], field
    assert document["same_cost"] is True
    # The day did something at each size: every kind of due member was acted on.
    for run in (small, large):
        assert run["outcomes"]["birthday-greeting"].get("sent", 0) >= 1
        assert run["outcomes"]["win-back-90d"]["task"] == 5
        assert run["tasks_created"] == 5 and run["emails_sent"] >= 10
        assert run["outcomes"]["birthday-greeting"].get("skipped_consent", 0) >= 1
    # Each delivery run reads the tenant list, its failure records and the 8 due-index shards.
    assert small["empty_run"]["calls"] == {"Query": 10}
    assert small["total"]["calls"]["Query"] >= 288 * 10
