"""Points benchmark: DynamoDB requests and capacity units per ledger operation.

Runs the real handlers on a fresh local stack and meters every DynamoDB
request they make (bench/meter.py), attributed to the Lambda function that
made it. Operations: sign-up bonus, earning on a first and a repeat order,
redeeming, a hold and its confirmation, a partial refund, the release after
the return window, an estimate, and reading the balance and a ledger page.

It then grows one member's ledger to 10,000 entries and reads the balance
again at 10, 100, 1,000 and 10,000 entries: the read is one Query over the
member's '#' items (profile, stats, balance), which never touches entries.
The growth writes go through the points service itself (admin adjustments and
redemptions, one entry each), outside the meter.

Prints a JSON document and a Markdown table; docs/performance.md records a run.
    python -m bench.points [--entries 10000] [--json-out FILE]"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import mkdtemp
from typing import Any

from bench.meter import Meter, Usage, item_size
from infra.local.client import Client
from infra.local.runtime import REGION
from infra.local.stack import DEMO_TENANT, LocalStack

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MEMBER = "bench-member"
GROWN = "bench-grown"
CHECKPOINTS = (10, 100, 1_000, 10_000)


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _order(member: str, order_id: str, total: str, at: datetime) -> dict[str, Any]:
    return {
        "event_id": f"ev-{order_id}",
        "type": "order.placed",
        "occurred_at": _stamp(at),
        "member_id": member,
        "channel": "web",
        "data": {
            "order_id": order_id,
            "currency": "CNY",
            "total": total,
            "items": [
                {"sku": "sku-1", "category": "shoes", "quantity": 1, "unit_price": total},
            ],
        },
    }


class Bench:
    def __init__(self, stack: LocalStack, client: Client, meter: Meter) -> None:
        self.stack = stack
        self.client = client
        self.meter = meter
        self.results: list[dict[str, Any]] = []

    def measure(self, label: str, action: Callable[[], None], functions: tuple[str, ...]) -> dict[str, Any]:
        """Run the action, let the streams settle, keep the named functions' usage."""
        self.stack.pump.drain()
        with self.meter.window() as usage:
            action()
            self.stack.pump.drain()
        total = Usage()
        for name in functions:
            total.add(usage.get(name, Usage()))
        row = {
            "operation": label,
            "functions": list(functions),
            **total.as_dict(),
            "other_functions": {
                name: sum(u.calls.values()) for name, u in sorted(usage.items()) if name not in functions
            },
        }
        self.results.append(row)
        return row

    def call(self, method: str, path: str, body: Any = None, expect: int = 200, admin: bool = False) -> Any:
        from infra.local.stack import DEMO_ADMIN_KEY, DEMO_API_KEY

        key = DEMO_ADMIN_KEY if admin else DEMO_API_KEY
        status, answer = self.client.request(method, path, body, key=key)
        if status != expect:
            raise RuntimeError(f"{method} {path}: {status} {answer}")
        return answer

    def event(self, event: dict[str, Any]) -> None:
        self.call("POST", "/v1/events", event, expect=202)


def operations(bench: Bench) -> None:
    now = START
    member = f"/v1/members/{MEMBER}"
    bench.measure(
        "sign-up bonus (member.registered)",
        lambda: bench.event(
            {
                "event_id": "ev-reg",
                "type": "member.registered",
                "occurred_at": _stamp(now),
                "member_id": MEMBER,
                "channel": "web",
                "data": {"email": "bench@shoppers.example"},
            }
        ),
        ("PointsEarn",),
    )
    bench.measure(
        "earn: first order (+ first-order bonus)",
        lambda: bench.event(_order(MEMBER, "o-1", "240.00", now)),
        ("PointsEarn",),
    )
    bench.measure(
        "earn: repeat order",
        lambda: bench.event(_order(MEMBER, "o-2", "180.00", now)),
        ("PointsEarn",),
    )
    voucher = {"redemption_id": "r-1", "points": 50}
    bench.measure(
        "redeem (POST redemptions)",
        lambda: bench.call("POST", f"{member}/redemptions", voucher, expect=201),
        ("PointsApi",),
    )
    bench.measure(
        "redeem replayed (same redemption_id)",
        lambda: bench.call("POST", f"{member}/redemptions", voucher, expect=201),
        ("PointsApi",),
    )
    bench.measure(
        "hold (POST redemptions, hold: true)",
        lambda: bench.call(
            "POST", f"{member}/redemptions", {"redemption_id": "r-2", "points": 40, "hold": True}, expect=201
        ),
        ("PointsApi",),
    )
    bench.measure(
        "confirm a hold",
        lambda: bench.call("POST", f"{member}/redemptions/r-2/confirm"),
        ("PointsApi",),
    )
    bench.measure(
        "refund: half of an order (clawback)",
        lambda: bench.event(
            {
                "event_id": "ev-refund",
                "type": "order.refunded",
                "occurred_at": _stamp(now),
                "member_id": MEMBER,
                "channel": "store",
                "data": {"order_id": "o-2", "refund_id": "rf-1", "amount": "90.00", "currency": "CNY"},
            }
        ),
        ("PointsEarn",),
    )
    bench.measure(
        "estimate (POST /v1/points/estimate)",
        lambda: bench.call(
            "POST",
            "/v1/points/estimate",
            {"member_id": MEMBER, "order": _order(MEMBER, "o-x", "99.00", now)["data"]},
        ),
        ("PointsApi",),
    )
    # Up to just before the order day's return window ends, then one 15-minute sweep run
    # releases the orders of that day.
    from zoneinfo import ZoneInfo

    from infra.definitions import PROGRAM_TIME_ZONE
    from loyalty.program import get_program

    zone = ZoneInfo(PROGRAM_TIME_ZONE)
    released_on = now.astimezone(zone).date() + timedelta(days=get_program().points.pending_days + 1)
    release_at = datetime.combine(released_on, datetime.min.time(), tzinfo=zone)
    bench.call("POST", "/_local/clock", {"to": _stamp(release_at - timedelta(minutes=10))})
    release = bench.measure(
        "one sweep run: 8 due-index shards, 1 member due (release)",
        lambda: bench.call("POST", "/_local/clock", {"advance": "PT15M"}),
        ("PointsSweep",),
    )
    if release["items_written"] == 0:
        raise RuntimeError("the sweep run released nothing: the benchmark's timing is off")


def balance_read(bench: Bench, member: str, entries: int, label: str = "") -> None:
    bench.measure(
        f"balance read (GET member{label}), {entries:,} entries",
        lambda: bench.call("GET", f"/v1/members/{member}"),
        ("MembersApi",),
    )
    bench.measure(
        f"ledger page (GET ledger?limit=20{label}), {entries:,} entries",
        lambda: bench.call("GET", f"/v1/members/{member}/ledger?limit=20"),
        ("PointsApi",),
    )


def grow(bench: Bench, target_entries: int) -> list[dict[str, Any]]:
    """Admin adjustments and redemptions through the points service (unmetered)
    until the member has `target_entries` entries, reading the balance at each checkpoint."""
    from loyalty.program import get_program
    from loyalty.settings import get_settings
    from points import logic

    ctx = logic.Context(_store(), get_program().points, get_settings().tz, bench.stack.clock.now())
    bench.event(
        {
            "event_id": "ev-grown-reg",
            "type": "member.registered",
            "occurred_at": _stamp(bench.stack.clock.now()),
            "member_id": GROWN,
            "channel": "web",
            "data": {"email": "grown@shoppers.example"},
        }
    )
    bench.stack.pump.drain()
    timings = []
    checkpoints = [c for c in CHECKPOINTS if c <= target_entries]
    entries, n, started = 1, 0, time.perf_counter()  # the sign-up bonus is entry 1
    for checkpoint in checkpoints:
        while entries < checkpoint:
            n += 1
            if n % 2:
                logic.adjust(ctx, DEMO_TENANT, GROWN, f"grow-{n}", 10, "benchmark growth", "bench")
            else:
                logic.redeem(ctx, DEMO_TENANT, GROWN, f"grow-{n}", 10, hold=False)
            entries += 1
        counted = count_entries(GROWN)
        if counted != checkpoint:
            raise RuntimeError(f"expected {checkpoint} ledger entries, found {counted}")
        timings.append({"entries": counted, "growth_s": round(time.perf_counter() - started, 1)})
        balance_read(bench, GROWN, counted, ", grown member")
    return timings


def balance_item_bound() -> dict[str, Any]:
    """Size of the balance item at its configured bound, for a member who shops every
    day, any number of times: the item grows with the configured windows (lots by
    expiry day, pending lots by order day inside the return window, daily-cap days,
    qualifying months) and the hold cap, never with the ledger or the order count."""
    from boto3.dynamodb.types import TypeSerializer

    from loyalty.program import get_program
    from points.items import balance_item
    from points.ledger import Account, Hold, PendingLot

    rules = get_program().points
    day0 = datetime(2027, 1, 1, tzinfo=UTC)
    days = [(day0 + timedelta(days=n)).date().isoformat() for n in range(366)]
    account = Account(
        version=123_456,
        seq=98_765,
        lots={d: 1_234 for d in days},
        pending={
            days[n]: PendingLot(1_234, _stamp(day0 + timedelta(days=n)), days[n])
            for n in range(rules.pending_days + 1)
        },
        holds={
            f"redemption-{n:08d}": Hold(500, {days[0]: 500}, _stamp(day0))
            for n in range(rules.max_active_holds)
        },
        lifetime_earned=1_234_567,
        qualifying_months={f"2027-{m:02d}": 12_345 for m in range(1, 13)},
        tier="gold",
        tier_since=days[0],
        tier_review_on=days[-1],
        notified=days[:30],
        earned_days={d: 1_234 for d in days[:40]},
        tier_kept="silver",
        tier_basis=5_123,
        tier_upgraded_at=_stamp(day0),
        first_order_id="order-000001",
        birthday_bonus={"2026": "order-000002", "2027": "order-000003"},
    )
    serializer = TypeSerializer()
    window = {d: 1_234 for d in days[: rules.expiring_notice_days + 1]}  # the notice window, full
    item = balance_item(DEMO_TENANT, "m-0000001", account, days[0], _stamp(day0), expiring=window)
    size = item_size({k: serializer.serialize(v) for k, v in item.items()})
    return {
        "scenario": "daily orders for a year: 366 lots (31 in the notice window), 15 pending days, 100 holds "
        "(the cap), 40 cap days",
        "bytes": size,
        "eventually_consistent_read_units": max(1, -(-size // 4096)) / 2,
        "write_units_per_commit": 2 * max(1, -(-size // 1024)),
    }


def render(results: list[dict[str, Any]]) -> str:
    header = (
        "operation",
        "function",
        "DynamoDB requests",
        "read units",
        "write units (+ index)",
        "items read / written",
    )
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for row in results:
        calls = ", ".join(f"{op} {n}" for op, n in row["calls"].items())
        lines.append(
            f"| {row['operation']} | {' + '.join(row['functions'])} | {row['requests']} ({calls}) "
            f"| {row['read_units']:g} | {row['write_units']:g} (+ {row['index_write_units']:g}) "
            f"| {row['items_read']} / {row['items_written']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.points", description=__doc__)
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--json-out", type=Path, help="also write the JSON document to this file")
    args = parser.parse_args(argv)
    import boto3

    stack = LocalStack(port=0, outbox_dir=Path(mkdtemp()), start=START)
    client = Client(stack.start())
    meter = Meter(boto3.session.Session(region_name=REGION))
    meter.install()
    started = time.perf_counter()
    try:
        bench = Bench(stack, client, meter)
        operations(bench)
        balance_read(bench, MEMBER, count_entries(MEMBER))
        growth = grow(bench, args.entries)
    finally:
        meter.uninstall()
        stack.stop()
    document = {
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
        "operations": bench.results,
        "growth": growth,
        "balance_item_bound": balance_item_bound(),
        "wall_s": round(time.perf_counter() - started, 1),
    }
    text = json.dumps(document, indent=2)
    if args.json_out:
        args.json_out.write_text(text)
    print(text)
    print()
    print(render(bench.results))
    return 0


def _store() -> Any:
    from loyalty.settings import get_settings
    from points.repository import DynamoLedgerStore

    settings = get_settings()
    return DynamoLedgerStore(settings.require("loyalty_table"), settings.require("events_table"), settings.tz)


def count_entries(member: str) -> int:
    """Ledger entries of a member, paged through outside the meter."""
    count, cursor, store = 0, None, _store()
    while True:
        page = store.entries_page(DEMO_TENANT, member, 1000, cursor)
        count, cursor = count + len(page.entries), page.next_cursor
        if cursor is None:
            return count


if __name__ == "__main__":
    sys.exit(main())
