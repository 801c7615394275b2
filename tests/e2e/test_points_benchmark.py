"""The points benchmark runs (small) and shows what docs/performance.md claims:
each ledger operation is one read and one transaction, and the balance read
does not grow with the ledger."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import run_module

pytestmark = pytest.mark.e2e


def test_points_benchmark_runs_and_the_balance_read_is_flat(tmp_path: Path) -> None:
    out = tmp_path / "points.json"
    result = run_module("bench.points", "--entries", "100", "--json-out", str(out))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = {row["operation"]: row for row in json.loads(out.read_text())["operations"]}
    for name in ("earn: repeat order", "refund: half of an order (clawback)"):
        assert rows[name]["calls"] == {"BatchGetItem": 1, "TransactWriteItems": 1}
    redeem = rows["redeem (POST redemptions)"]["calls"]
    assert redeem["BatchGetItem"] == 1 and redeem["TransactWriteItems"] == 1
    small, grown = (rows[f"balance read (GET member, grown member), {n} entries"] for n in (10, 100))
    for field in ("calls", "read_units", "bytes_read", "items_read"):
        assert small[field] == grown[field], field
    assert small["calls"]["Query"] == 1
