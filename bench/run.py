"""Local-stack benchmark: wall time of the operations a developer waits for.

Runs against a fresh local stack (moto in server mode, in-process handlers), so
the figures describe the local stack on this machine, not AWS latency.
Prints a JSON document; docs/performance.md records a run."""

from __future__ import annotations

import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from tempfile import mkdtemp
from typing import Any

from infra.local.client import Client
from infra.local.stack import DEMO_API_KEY, LocalStack

START = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)


def _timed(fn: Callable[[int], None], repeat: int) -> dict[str, float]:
    samples = []
    for i in range(repeat):
        started = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "n": repeat,
        "median_ms": round(statistics.median(samples), 2),
        "p95_ms": round(samples[int(0.95 * (repeat - 1))], 2),
    }


def main() -> int:
    stack = LocalStack(port=0, outbox_dir=Path(mkdtemp()), start=START)
    client = Client(stack.start(), key=DEMO_API_KEY)
    order = {
        "type": "order.placed",
        "occurred_at": "2026-03-02T04:00:00Z",
        "channel": "web",
        "data": {"order_id": "o", "currency": "CNY", "total": "42.00", "items": []},
    }

    def post_event(i: int) -> None:
        status, _ = client.request(
            "POST", "/v1/events", {**order, "event_id": f"b-{i}", "member_id": f"m-{i % 50}"}
        )
        assert status == 202

    def post_batch(i: int) -> None:
        events = [{**order, "event_id": f"batch-{i}-{n}", "member_id": f"m-{n}"} for n in range(100)]
        status, _ = client.request("POST", "/v1/events", {"events": events})
        assert status == 200

    def get_member(i: int) -> None:
        status, _ = client.request("GET", f"/v1/members/m-{i % 50}")
        assert status == 200

    results: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
        "post_one_event": _timed(post_event, 200),
        "post_batch_of_100": _timed(post_batch, 5),
    }
    started = time.perf_counter()
    stack.pump.drain()
    results["stream_drain_700_orders_s"] = round(time.perf_counter() - started, 2)
    results["get_member"] = _timed(get_member, 200)
    for period in ("P1D", "P1Y"):
        started = time.perf_counter()
        status, body = client.request("POST", "/_local/clock", {"advance": period}, key=None)
        assert status == 200
        results[f"clock_advance_{period}_s"] = round(time.perf_counter() - started, 2)
        results[f"clock_advance_{period}_runs"] = len(body["ran"])
    stack.stop()
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
