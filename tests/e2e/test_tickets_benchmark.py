"""The escalation benchmark runs (small) and shows what docs/performance.md claims: a run
of the ticket timer job costs the same DynamoDB requests and capacity units with ten
times the open tickets when the same tickets are due, and twice the due tickets cost
twice the work beyond the run's fixed reads."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.conftest import run_module

pytestmark = pytest.mark.e2e

FIELDS = (
    "calls",
    "requests",
    "read_units",
    "write_units",
    "index_write_units",
    "items_read",
    "items_written",
)


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One benchmark run: 50 and 500 other tickets with 4 due, and 50 with 8 due."""
    out = tmp_path_factory.mktemp("bench") / "tickets.json"
    result = run_module(
        "bench.tickets",
        *("--small", "50", "--large", "500", "--due", "4", "--more-due", "8"),
        *("--json-out", str(out)),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    found: dict[str, Any] = json.loads(out.read_text())
    return found


def test_an_escalation_run_costs_the_same_at_ten_times_the_tickets(document: dict[str, Any]) -> None:
    small, large, _ = document["runs"]
    assert (small["other_tickets"], large["other_tickets"]) == (50, 500)
    # Real tickets: every one is in the timer index, only the due ones at 11:00 or before.
    assert (small["seed"]["timers"], large["seed"]["timers"]) == (54, 504)
    assert (small["seed"]["timers_due"], large["seed"]["timers_due"]) == (4, 4)
    assert large["seed"]["earliest_other_timer"] > document["run_at"]
    for run in ("empty", "due", "repeat"):
        for field in FIELDS:
            assert small[run][field] == large[run][field], (run, field)
    assert document["same_cost"] is True


def test_each_due_notice_is_sent_once_at_every_size(document: dict[str, Any]) -> None:
    for case, due in zip(document["runs"], (4, 4, 8), strict=True):
        assert (case["due"]["notices"], case["due"]["emails_sent"], case["due"]["failed"]) == (due, due, 0)
        assert (case["repeat"]["notices"], case["repeat"]["emails_sent"]) == (0, 0)
    # A run with nothing due reads the tenant list, its failure records and the timer index.
    small = document["runs"][0]
    assert small["empty"]["calls"] == small["repeat"]["calls"] == {"Query": 3}


def test_twice_the_due_tickets_cost_twice_the_work(document: dict[str, Any]) -> None:
    small, _, more = document["runs"]
    assert more["due_tickets"] == 2 * small["due_tickets"]
    empty = small["empty"]
    for field in ("requests", "write_units", "index_write_units", "items_written"):
        assert more["due"][field] - empty[field] == 2 * (small["due"][field] - empty[field]), field
    # Read units within the rounding of the one timer-index Query to whole half units.
    extra_reads = more["due"]["read_units"] - empty["read_units"]
    assert abs(extra_reads - 2 * (small["due"]["read_units"] - empty["read_units"])) <= 1
