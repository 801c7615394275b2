"""The CDNOW replay (a subset of its customers) gives, through ``POST /v1/events``, the
streams and the monthly report job, the monthly figures the definitions of docs/kpis.md
give computed straight from the dataset: every figure, the previous month's, the cohorts
and the daily series of each month 1997-01 .. 1998-06."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.e2e.conftest import run_module

pytestmark = pytest.mark.e2e

CUSTOMERS = 120  # about 350 orders: the test stays well under a minute


def test_a_replay_of_cdnow_gives_the_directly_computed_monthly_figures(tmp_path: Path) -> None:
    from bench import cdnow

    try:
        cdnow.dataset_text(download=True)
    except cdnow.DatasetMissing as err:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"the CDNOW sample is neither cached nor downloadable: {err}")
    out = tmp_path / "cdnow.json"
    result = run_module("bench.cdnow", "--customers", str(CUSTOMERS), "--no-download", "--json-out", str(out))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    document = json.loads(out.read_text())
    assert document["customers"] == CUSTOMERS
    assert document["statuses"] == {"accepted": document["events_posted"]}
    assert document["events_posted"] == document["orders"] + CUSTOMERS
    assert document["months"] == document["reports_built"] == 18
    assert document["mismatches"] == []
    assert document["values_compared"] > 18 * 60
    assert all(s["dead_lettered"] == 0 for s in document["streams"])
    # The subset has orders in every month of the dataset's first quarter.
    assert all(document["headline"][m]["orders"] > 0 for m in ("1997-01", "1997-02", "1997-03"))
