"""KPI report benchmark: a month's report costs the same DynamoDB requests at 100,000
events as at 1,000.

For each event count N (``--small``, ``--large``) a fresh moto account is provisioned
(``bench.care.fresh_account``: the local stack's tables and indexes), with tenant
``demo`` in the program's time zone (Asia/Shanghai). A seeded random history of N
events over the 14 months up to the reported month (``MONTHS``, ending 2026-05) is
generated as ``StoredEvent``s: N/10 members, each registered once, and orders, repeated
``order.placed`` events of one order, cancellations, refunds and NPS/CSAT answers.

The rollups are written without pushing N events through the stream (far too slow in
moto at 100,000): ``reports.rebuild.fold`` over the events and the counter items written
with ``reports.rebuild_store._write_counters``. The members' own rollup state (order
days, orders, registration) is not written: no report reads it. At the small size the
same events are also written to EventsTable and pushed through the real stream consumer
(``reports.stream.lambda_handler``, ReportsRollup, through the local stack's stream pump
``infra.local.pump.StreamPump``) in a second fresh account, and the counter items of the
two accounts are compared (zero-valued counters, which ``ADD`` leaves behind after a
cancellation, are dropped before comparing and counted). Then 200 more events of the
same kind go through the stream, metered: the stream consumer's incremental cost.

Metered (``bench/meter.py``), in the fold-written account: ``reporting.compute`` of the
monthly, weekly and daily report of the last period (``monthly-2026-05-01``,
``weekly-2026-05-25``, ``daily-2026-05-31``, on 2026-06-01), and one whole
``monthly_report`` job run at 2026-06-01 07:00 local (the Reports function invoked with
the schedule's payload: the report built, stored and emailed to the tenant's one manager
address). The report gives, per N, DynamoDB requests by operation, read units, items
and bytes read, and the difference large − small; the run exits 1 when any request
count differs or the fold-written counters differ from the stream-written ones.

Prints a JSON document and a Markdown table; docs/performance.md records a run.
    python -m bench.reports [--small 1000] [--large 100000] [--extra 200] [--json-out FILE]"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench.care import fresh_account
from bench.meter import Meter, Usage

TENANT = "demo"
MANAGER = "manager@bench.example"
FIRST_DAY = date(2025, 4, 1)  # 14 months: 2025-04 .. 2026-05
END_DAY = date(2026, 6, 1)  # exclusive; the reports are made on this local day
REPORT_AT_HOUR = 7  # the monthly schedule: the 1st at 07:00 local
PERIODS = (("monthly", date(2026, 5, 1)), ("weekly", date(2026, 5, 25)), ("daily", date(2026, 5, 31)))
SEED = 14
EXTRA_EVENTS = 200
Counters = dict[tuple[str, str], dict[str, Decimal]]  # (pk, sk) -> counter -> value


def _zone() -> ZoneInfo:
    from infra.definitions import PROGRAM_TIME_ZONE

    return ZoneInfo(PROGRAM_TIME_ZONE)


# The history ------------------------------------------------------------------------------


class History:
    """A seeded history: every event of one N, the same generator for the extra events."""

    def __init__(self, events: int, seed: int = SEED) -> None:
        self.rng = random.Random(seed)
        self.members = max(1, events // 10)
        self.span = int(
            (
                datetime.combine(END_DAY, datetime.min.time())
                - datetime.combine(FIRST_DAY, datetime.min.time())
            ).total_seconds()
        )
        self.start = datetime.combine(FIRST_DAY, datetime.min.time(), tzinfo=_zone())
        self.orders: list[tuple[str, str, datetime, Decimal]] = []  # (member, order_id, at, total)
        self.count = 0

    def _at(self, after: datetime | None = None, within_days: int = 14) -> datetime:
        if after is None:
            moment = self.start + timedelta(seconds=self.rng.randrange(self.span))
        else:
            moment = after + timedelta(seconds=self.rng.randrange(within_days * 86_400))
        return min(moment, self.start + timedelta(seconds=self.span - 1)).astimezone(UTC)

    def _event(self, kind: str, member: str, at: datetime, data: dict[str, Any]) -> Any:
        from loyalty.events.stored import StoredEvent

        self.count += 1
        return StoredEvent(
            tenant_id=TENANT,
            event_id=f"e{self.count:08d}",
            type=kind,
            member_id=member,
            channel="web",
            occurred_at=at,
            received_at=at + timedelta(seconds=30),
            day=at.astimezone(_zone()).date().isoformat(),
            data=data,
        )

    def member(self) -> str:
        return f"m{self.rng.randrange(self.members):07d}"

    def registrations(self) -> list[Any]:
        return [self._event("member.registered", f"m{m:07d}", self._at(), {}) for m in range(self.members)]

    def _order(self) -> Any:
        member, at = self.member(), self._at()
        total = Decimal(self.rng.randrange(500, 80_000)) / 100
        order_id = f"o{self.count + 1:08d}"
        self.orders.append((member, order_id, at, total))
        return self._event(
            "order.placed",
            member,
            at,
            {"order_id": order_id, "currency": "CNY", "total": str(total), "items": []},
        )

    def next_event(self) -> Any:
        """One event: 78 % orders, 2 % repeats of an order's placement, 6 % cancellations,
        6 % refunds, 8 % survey answers."""
        draw = self.rng.random()
        if draw < 0.78 or not self.orders:
            return self._order()
        member, order_id, at, total = self.orders[self.rng.randrange(len(self.orders))]
        if draw < 0.80:
            data: dict[str, Any] = {"order_id": order_id, "currency": "CNY", "total": str(total), "items": []}
            return self._event("order.placed", member, self._at(at, 2), data)
        if draw < 0.86:
            return self._event("order.cancelled", member, self._at(at, 3), {"order_id": order_id})
        if draw < 0.92:
            amount = (total * Decimal(self.rng.randrange(10, 100)) / 100).quantize(Decimal("0.01"))
            data = {
                "order_id": order_id,
                "refund_id": f"r{self.count + 1:08d}",
                "amount": str(amount),
                "currency": "CNY",
            }
            return self._event("order.refunded", member, self._at(at, 20), data)
        kind = "nps" if self.rng.random() < 0.5 else "csat"
        score = self.rng.randrange(0, 11) if kind == "nps" else self.rng.randrange(1, 6)
        data = {"survey_id": f"s{self.count + 1:08d}", "kind": kind, "score": score}
        return self._event("survey.answered", self.member(), self._at(), data)

    def events(self, total: int) -> list[Any]:
        out = self.registrations()[:total]
        while len(out) < total:
            out.append(self.next_event())
        return out


def event_mix(events: list[Any]) -> dict[str, int]:
    return dict(sorted(Counter(e.type for e in events).items()))


# The account --------------------------------------------------------------------------------


def set_up_tenant(table: str) -> None:
    from loyalty import tenants

    tenants.put_tenant(
        table,
        tenants.Tenant(tenant_id=TENANT, name="Bench Store", manager_emails=[MANAGER], escalation_emails=[]),
    )


def rollup_context(table: str) -> Any:
    from loyalty.program import get_program
    from reports import rollups

    return rollups.Context(table=table, tz=_zone(), program=get_program())


def counter_months() -> list[str]:
    """Every month that can hold a counter of the history: the month before it (the week
    bucket of its first days is filed under its Monday's month), its 14 months and the 13
    after, which the member-level counters (the 365-day window) reach."""
    from reports.figures import months_between
    from reports.rebuild_store import CARRY_MONTHS

    return months_between(FIRST_DAY - timedelta(days=7), END_DAY + timedelta(days=31 * CARRY_MONTHS))


def write_folded(table: str, events: list[Any]) -> dict[str, Any]:
    """The rollups of ``events`` by the fold, counter items only."""
    from reports import rebuild
    from reports.rebuild_store import _write_counters

    started = time.perf_counter()
    ctx = rollup_context(table)
    counters = rebuild.fold(ctx, events).counters(ctx.active_days)
    folded_s = time.perf_counter() - started
    written, _ = _write_counters(table, TENANT, counters, [])
    return {
        "counter_items": written,
        "fold_s": round(folded_s, 2),
        "seconds": round(time.perf_counter() - started, 2),
    }


def read_counters(table: str) -> tuple[Counters, int]:
    """Every counter item of the tenant (zero values dropped, items left empty too), and
    how many zero values were dropped; read outside the meter."""
    from loyalty import aws
    from loyalty.dynamo import query_all
    from reports import layout

    dynamo = aws.table(table)
    found: Counters = {}
    zeros = 0
    for pk in [layout.rollup_pk(TENANT, m) for m in counter_months()] + [layout.total_pk(TENANT)]:
        for item in query_all(
            dynamo, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": pk}
        ):
            values = {k: Decimal(v) for k, v in item.items() if k not in ("pk", "sk", "kind")}
            zeros += sum(1 for v in values.values() if v == 0)
            kept = {k: v for k, v in values.items() if v != 0}
            if kept:
                found[(str(item["pk"]), str(item["sk"]))] = kept
    return found, zeros


# Through the stream -------------------------------------------------------------------------


def _rollup_pump(session: Any, env: dict[str, str], clock: datetime) -> Any:
    from infra.definitions import REPORTS_ROLLUP, dead_letter_queue_name
    from infra.local.pump import StreamPump
    from infra.local.runtime import load_handler

    pump = StreamPump(session, lambda: clock)
    arn = session.client("dynamodb").describe_table(TableName=env["EVENTS_TABLE"])["Table"]["LatestStreamArn"]
    url = session.client("sqs").get_queue_url(QueueName=dead_letter_queue_name(REPORTS_ROLLUP))["QueueUrl"]
    pump.subscribe(REPORTS_ROLLUP, load_handler(REPORTS_ROLLUP), arn, url)
    return pump


def _put_events(session: Any, env: dict[str, str], events: list[Any]) -> None:
    from loyalty.events.stored import event_item

    with session.resource("dynamodb").Table(env["EVENTS_TABLE"]).batch_writer() as batch:
        for event in events:
            batch.put_item(Item=event_item(event))


def through_stream(events: list[Any], history: History, extra: int) -> dict[str, Any]:
    """A second fresh account: the events written to EventsTable and consumed by the real
    stream handler; its counter items; then ``extra`` more events, metered."""
    with fresh_account() as (session, env):
        set_up_tenant(env["LOYALTY_TABLE"])
        pump = _rollup_pump(session, env, datetime.combine(END_DAY, datetime.min.time(), tzinfo=UTC))
        started = time.perf_counter()
        shuffled = list(events)
        random.Random(SEED + 1).shuffle(shuffled)  # any order of arrival gives the same counters
        _put_events(session, env, shuffled)
        pump.drain()
        seconds = time.perf_counter() - started
        items, zeros = read_counters(env["LOYALTY_TABLE"])
        dead = sum(s["dead_lettered"] for s in pump.stats())
        more = [history.next_event() for _ in range(extra)]
        _put_events(session, env, more)
        meter = Meter(session)
        meter.install()
        try:
            with meter.window() as usage:
                pump.drain()
        finally:
            meter.uninstall()
        used = usage.get("ReportsRollup", Usage()).as_dict()
        dead = sum(s["dead_lettered"] for s in pump.stats())
    per_event = {
        name: round(used[name] / extra, 2)
        for name in ("requests", "read_units", "write_units", "items_written")
    }
    return {
        "items": items,
        "zero_values_dropped": zeros,
        "seconds": round(seconds, 1),
        "dead_lettered": dead,
        "extra": {"events": extra, "mix": event_mix(more), **used, "per_event": per_event},
    }


def compare(folded: Counters, streamed: Counters) -> dict[str, Any]:
    keys = set(folded) | set(streamed)
    differing = sorted(k for k in keys if folded.get(k) != streamed.get(k))
    return {
        "counter_items": len(folded),
        "stream_counter_items": len(streamed),
        "differing_items": len(differing),
        "first_differences": [
            {"key": list(k), "fold": _plain(folded.get(k)), "stream": _plain(streamed.get(k))}
            for k in differing[:5]
        ],
        "equal": not differing,
    }


def _plain(values: dict[str, Decimal] | None) -> dict[str, str] | None:
    return None if values is None else {k: str(v) for k, v in sorted(values.items())}


# The measured reads -------------------------------------------------------------------------


def report_at() -> datetime:
    return datetime.combine(END_DAY, datetime.min.time(), tzinfo=_zone()).replace(hour=REPORT_AT_HOUR)


def measured_reports(meter: Meter, env: dict[str, str]) -> dict[str, Any]:
    """``reporting.compute`` of each period, attributed to the Reports function."""
    from infra.local.runtime import current_function
    from loyalty.program import get_program
    from loyalty.timeutil import iso
    from reports import reporting
    from reports.periods import period_of

    ctx = reporting.Context(
        table=env["LOYALTY_TABLE"],
        bucket=env["REPORTS_BUCKET"],
        tenant_id=TENANT,
        tenant_name="Bench Store",
        time_zone=str(_zone()),
        program=get_program(),
        today=END_DAY,
        generated_at=iso(report_at()),
    )
    out: dict[str, Any] = {}
    for kind, start in PERIODS:
        period = period_of(kind, start)  # type: ignore[arg-type]
        with meter.window() as usage:
            token = current_function.set("Reports")
            try:
                doc = reporting.compute(ctx, period)
            finally:
                current_function.reset(token)
        out[period.report_id] = {
            **usage.get("Reports", Usage()).as_dict(),
            "orders": doc["figures"]["orders"],
        }
    return out


def measured_job(meter: Meter) -> dict[str, Any]:
    """One ``monthly_report`` run at 2026-06-01 07:00 local, as the scheduler invokes it."""
    from moto.ses.models import ses_backends

    from infra.definitions import REPORTS
    from infra.local.runtime import ACCOUNT, REGION, invoke, load_handler
    from loyalty.timeutil import iso

    handler = load_handler(REPORTS)
    payload = {"job": "monthly_report", "schedule": "bench", "scheduled_time": iso(report_at())}
    started = time.perf_counter()
    with meter.window() as usage:
        result = invoke(REPORTS, handler, payload)
    return {
        **usage.get("Reports", Usage()).as_dict(),
        "seconds": round(time.perf_counter() - started, 2),
        "reported": result.get("reported"),
        "sent": result.get("sent"),
        "emails_sent": len(ses_backends[ACCOUNT][REGION].sent_messages),
    }


def measure(events: int, check_stream: bool, extra: int) -> dict[str, Any]:
    history = History(events)
    generated = history.events(events)
    with fresh_account() as (session, env):
        set_up_tenant(env["LOYALTY_TABLE"])
        written = write_folded(env["LOYALTY_TABLE"], generated)
        folded, _ = read_counters(env["LOYALTY_TABLE"]) if check_stream else ({}, 0)
        meter = Meter(session)
        meter.install()
        try:
            reports = measured_reports(meter, env)
            job = measured_job(meter)
        finally:
            meter.uninstall()
    run: dict[str, Any] = {
        "events": events,
        "members": history.members,
        "mix": event_mix(generated),
        "rollups": written,
        "reports": reports,
        "job": job,
    }
    if check_stream:
        streamed = through_stream(generated, history, extra)
        run["stream"] = {
            **compare(folded, streamed.pop("items")),
            "zero_values_dropped": streamed["zero_values_dropped"],
            "seconds": streamed["seconds"],
            "dead_lettered": streamed["dead_lettered"],
        }
        run["incremental"] = streamed["extra"]
    return run


# Comparison and report ----------------------------------------------------------------------

NUMBERS = ("requests", "read_units", "items_read", "bytes_read", "write_units")


def _measured(run: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    yield from run["reports"].items()
    yield "monthly_report job", run["job"]


def difference(large: dict[str, Any], small: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for (name, a), (_, b) in zip(_measured(large), _measured(small), strict=True):
        calls = {
            op: a["calls"].get(op, 0) - b["calls"].get(op, 0) for op in sorted({*a["calls"], *b["calls"]})
        }
        out[name] = {"calls": calls, **{n: round(a[n] - b[n], 2) for n in NUMBERS}}
    return out


def job_ok(run: dict[str, Any]) -> bool:
    """The measured run built and stored the monthly report and emailed the one manager."""
    job = run["job"]
    return bool(
        job["reported"] == [f"{TENANT}/monthly-2026-05-01"] and job["sent"] == 1 and job["emails_sent"] == 1
    )


def same_requests(diff: dict[str, Any]) -> bool:
    return all(all(v == 0 for v in d["calls"].values()) and d["requests"] == 0 for d in diff.values())


def _calls(usage: dict[str, Any]) -> str:
    return ", ".join(f"{op} {n}" for op, n in usage["calls"].items())


def render(document: dict[str, Any]) -> str:
    small, large = document["runs"]
    header = ["", f"{small['events']:,} events", f"{large['events']:,} events", "large − small"]
    rows = []
    for (name, a), (_, b) in zip(_measured(small), _measured(large), strict=True):
        d = document["difference"][name]
        rows.append(
            [
                f"`{name}`: requests",
                f"{a['requests']} ({_calls(a)})",
                f"{b['requests']} ({_calls(b)})",
                str(d["requests"]),
            ]
        )
        rows.append(
            [
                f"`{name}`: read units / items read",
                f"{a['read_units']:g} / {a['items_read']:,}",
                f"{b['read_units']:g} / {b['items_read']:,}",
                f"{d['read_units']:g} / {d['items_read']:,}",
            ]
        )
    rows.append(
        [
            "counter items (fold)",
            f"{small['rollups']['counter_items']:,}",
            f"{large['rollups']['counter_items']:,}",
            "",
        ]
    )
    rows.append(["fold + write (s)", str(small["rollups"]["seconds"]), str(large["rollups"]["seconds"]), ""])
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    stream = small.get("stream")
    if stream:
        inc = small["incremental"]
        lines += [
            "",
            f"Fold-written = stream-written counter items at {small['events']:,} events: {stream['equal']} "
            f"({stream['counter_items']:,} items, {stream['zero_values_dropped']} zero values dropped).",
            f"Stream consumer, {inc['events']} more events: {inc['requests']} requests ({_calls(inc)}), "
            f"{inc['write_units']:g} write units; per event {inc['per_event']}.",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reports", description=__doc__)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--extra", type=int, default=EXTRA_EVENTS, help="events metered through the stream")
    parser.add_argument("--json-out", type=Path, help="also write the JSON document to this file")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    runs = []
    for events, check in ((args.small, True), (args.large, False)):
        print(f"{events:,} events...", file=sys.stderr, flush=True)
        runs.append(measure(events, check, args.extra))
    small, large = runs
    diff = difference(large, small)
    document = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "periods": [f"{kind}-{start.isoformat()}" for kind, start in PERIODS],
        "runs": runs,
        "difference": diff,
        "same_requests": same_requests(diff),
        "fold_equals_stream": bool(small["stream"]["equal"]),
        "job_ok": job_ok(small) and job_ok(large),
        "wall_s": round(time.perf_counter() - started, 1),
    }
    text = json.dumps(document, indent=2, default=str)
    if args.json_out:
        args.json_out.write_text(text)
    print(text)
    print()
    print(render(document))
    ok = document["same_requests"] and document["fold_equals_stream"] and document["job_ok"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
