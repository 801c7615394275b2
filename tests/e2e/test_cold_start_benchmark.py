"""The cold-start benchmark runs (one import each) and reports what
docs/performance.md describes: a row per function, with and without tracing.
No timing is asserted: only what each import pulled in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import cold_start
from infra.definitions import FUNCTIONS

pytestmark = pytest.mark.e2e


def test_a_row_per_function_and_no_xray_or_event_handler_where_not_needed(tmp_path: Path) -> None:
    out = tmp_path / "cold_start.json"
    assert cold_start.main(["--runs", "1", "--no-tracing", "--json-out", str(out)]) == 0
    document = json.loads(out.read_text())
    rows = {row["function"]: row for row in document["functions"]}
    assert list(rows) == [fn.logical_id for fn in FUNCTIONS]
    assert document["boto3_ms"] > 0 and "tracing disabled" in document["environment"]
    for fn in FUNCTIONS:
        row = rows[fn.logical_id]
        assert row["module"] == fn.handler.rsplit(".", 1)[0]
        assert row["ms"] > 0 and row["ratio"] > 0
        assert row["goal_ratio"] == (2.0 if row["kind"] in ("stream", "schedule") else 2.5)
        assert not row["imports_xray"], fn.logical_id
        assert row["imports_event_handler"] is bool(fn.routes), fn.logical_id


def test_with_tracing_on_the_tracer_imports_xray(tmp_path: Path) -> None:
    out = tmp_path / "cold_start.json"
    assert cold_start.main(["--runs", "1", "--function", "PointsEarn", "--json-out", str(out)]) == 0
    (row,) = json.loads(out.read_text())["functions"]
    assert row["tracing_imports_xray"] and not row["imports_xray"]
    assert row["tracing_ms"] > 0
