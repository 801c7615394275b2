"""Escalation benchmark: one run of the ticket timer job costs the same DynamoDB requests
and capacity units with 10,000 open tickets as with 100, when the same tickets are due,
and its cost grows with the tickets due.

For each case (tickets N, due K) a fresh moto account is provisioned
(``infra.local.resources.provision``, the local stack's tables and indexes), the tenant
and a desk team are put on the staff registry (25 agents of the ``service`` queue, at
most 500 open tickets each, a lead and a manager, all on ``cn-business``), and the
tickets are opened through the service desk's own use cases (``tickets.desk``: the
assignment, the SLA and one ``TicketStore.commit`` transaction per change), outside the
meter, on Wednesday ``DAY`` in Shanghai:

* the K due tickets first, ``urgent`` (first response within one business hour): half
  of them at 10:15, so their warning is due at 11:00, and half at 10:00, warned by a
  job run at 10:45 during set-up, so their breach is due at 11:00;
* then the N other tickets from 10:16 to 10:59, of every priority and category, half of
  them for a member; one in ten answered by its agent, one in ten answered and
  resolved (its timer: the automatic close seven days on), one in ten set ``pending``.
  Every one of them has its next timer after 11:00, which the set-up checks by reading
  the whole timer index (outside the meter). The set-up's store keeps the staff view up
  to date from its own commits instead of reading it for each ticket
  (``seeding_store``), and checks it against the stored one.

Then, metered (``bench/meter.py``), three invocations of the TicketsEscalation
function with the schedule's payload: at 10:59 (nothing due: the fixed cost of a run),
at 11:00 (the K notices) and at 11:00 again (a redelivered invocation: nothing sent
twice). The report gives, per case, the DynamoDB requests by operation, read and write
units, items read and written, the notices recorded and the emails sent, then the
difference between the two sizes at the same K (zero when the claim holds) and the cost
per due ticket at K and at the larger K.

Prints a JSON document and a Markdown table; docs/performance.md records a run.
    python -m bench.tickets [--small 100] [--large 10000] [--due 20] [--more-due 40]
                            [--json-out FILE]"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections import Counter
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench.care import fresh_account, key_range_queries
from bench.meter import Meter, Usage

DAY = date(2026, 6, 10)  # a Wednesday, a working day on the cn-business calendar
ZONE = ZoneInfo("Asia/Shanghai")
TENANT = "demo"
QUEUE = "service"
AGENTS = 25
MAX_OPEN = 500  # the registry's limit: 25 agents hold 12,500 open tickets
PRIORITIES = ("low", "normal", "high", "urgent")
CATEGORIES = ("complaint", "return", "delivery", "technical", "billing", "other")
RUNS = ("empty", "due", "repeat")


def at(hours: int, minutes: int = 0, seconds: float = 0) -> datetime:
    """An instant of the measured day in Shanghai, as UTC."""
    local = datetime(DAY.year, DAY.month, DAY.day, hours, minutes, tzinfo=ZONE)
    return (local + timedelta(seconds=seconds)).astimezone(ZoneInfo("UTC"))


RUN_AT = at(11)  # the measured run
EMPTY_AT = at(10, 59)  # a run with nothing due
WARNED_AT = at(10, 45)  # the set-up run that warns the tickets whose breach is due at 11:00
BACKGROUND_FROM, BACKGROUND_TO = at(10, 16), at(10, 59)


def _stamp(moment: datetime) -> str:
    from loyalty.timeutil import iso

    return iso(moment)


def set_up_desk(table: str) -> None:
    """The tenant and its desk team, written with the staff registry's own item codec."""
    from loyalty import tenants
    from loyalty.aws import table as dynamo_table
    from loyalty.staff.model import Staff
    from loyalty.staff.repository import staff_item

    tenants.put_tenant(
        table,
        tenants.Tenant(
            tenant_id=TENANT,
            name="Bench Store",
            manager_emails=["manager@bench.example"],
            escalation_emails=["escalations@bench.example"],
        ),
    )
    people: list[tuple[str, str, tuple[str, ...]]] = [
        (f"agent-{n:02d}", "agent", (QUEUE,)) for n in range(1, AGENTS + 1)
    ]
    people += [("lead-1", "lead", (QUEUE,)), ("boss-1", "manager", ())]
    for staff_id, role, queues in people:
        person = Staff(
            staff_id=staff_id,
            name=f"Person {staff_id}",
            email=f"{staff_id}@bench.example",
            role=role,  # type: ignore[arg-type]
            queues=queues,
            time_zone="Asia/Shanghai",
            locale="en" if staff_id[-1] in "13579" else "zh-CN",
            active=True,
            version=1,
            saved_at=_stamp(at(8)),
            calendar="cn-business",
            max_open=MAX_OPEN,
        )
        dynamo_table(table).put_item(Item=staff_item(TENANT, person, "bench"))


def seeding_store(env: dict[str, str]) -> Any:
    """A ``TicketStore`` whose staff view is read once and then kept up to date from each
    commit's load moves and round-robin pointer, as the table is: moto answers the staff
    partition's Query (53 items) in tens of milliseconds, which made the set-up of 10,000
    tickets take minutes. Every write is the store's own; ``check`` compares the kept view
    with the stored one."""
    from tickets.repository import StaffView, TicketStore

    class SeedingStore(TicketStore):
        view: StaffView | None = None

        def staff_view(self, tenant: str) -> StaffView:
            if self.view is None:
                self.view = super().staff_view(tenant)
            return self.view

        def commit(
            self, before: Any, after: Any, messages: Any, changes: Any, loads: Any, commit: Any, tz: Any
        ) -> Any:
            stored = super().commit(before, after, messages, changes, loads, commit, tz)
            if self.view is not None:
                moved = dict(self.view.loads)
                for staff_id, delta in loads.items():
                    moved[staff_id] = moved.get(staff_id, 0) + delta
                pointers = dict(self.view.pointers)
                if commit.pointer is not None:
                    pointers[commit.pointer[0]] = commit.pointer[2]
                self.view = StaffView(self.view.staff, moved, pointers)
            return stored

        def check(self, tenant: str) -> None:
            kept, self.view = self.view, None
            stored = self.staff_view(tenant)
            if kept is not None and (dict(kept.loads), dict(kept.pointers)) != (
                dict(stored.loads),
                dict(stored.pointers),
            ):
                raise RuntimeError("set-up: the kept staff view differs from the stored one")

    return SeedingStore(env["LOYALTY_TABLE"], env["EVENTS_TABLE"])


class Opener:
    """Opens and works tickets through ``tickets.desk`` against the account's tables."""

    def __init__(self, env: dict[str, str]) -> None:
        from loyalty.settings import get_settings
        from tickets import desk
        from tickets.config_source import service_config

        self.store = seeding_store(env)
        self.desk = desk.Desk(store=self.store, config=service_config(), tz=get_settings().tz, now=RUN_AT)
        self.actions: Counter[str] = Counter()

    def open(self, when: datetime, n: int, priority: str, member: str | None) -> str:
        from tickets import desk

        fields = {
            "subject": f"Order {n:07d}: parcel not arrived",
            "description": "The parcel shows as delivered but never arrived at the door.",
            "member_id": member,
            "priority": priority,
            "category": CATEGORIES[n % len(CATEGORIES)],
            "queue": QUEUE,
        }
        opened = desk.open_ticket(replace(self.desk, now=when), TENANT, "web", fields)
        self.actions["opened"] += 1
        return opened.ticket.ticket_id

    def reply(self, when: datetime, ticket_id: str, assignee: str) -> None:
        from tickets import desk

        desk.post_message(replace(self.desk, now=when), TENANT, ticket_id, "reply", assignee, "We are on it.")
        self.actions["replied"] += 1

    def status(self, when: datetime, ticket_id: str, status: str) -> None:
        from tickets import desk

        desk.patch_ticket(replace(self.desk, now=when), TENANT, ticket_id, "agent", {"status": status})
        self.actions[status] += 1


def open_due(opener: Opener, due: int) -> None:
    """The K urgent tickets due at 11:00: odd ones opened at 10:00 (breach due), even
    ones at 10:15 (warning due)."""
    for n in range(due):
        when = at(10) if n % 2 else at(10, 15)
        opener.open(when, n, "urgent", f"d{n:07d}")


def open_background(opener: Opener, tickets: int) -> None:
    """N tickets opened from 10:16 to 10:59, every timer after 11:00."""
    span = (BACKGROUND_TO - BACKGROUND_FROM).total_seconds()
    for n in range(tickets):
        when = BACKGROUND_FROM + timedelta(seconds=span * n / tickets)
        member = f"m{n:07d}" if n % 2 == 0 else None
        ticket_id = opener.open(when, n, PRIORITIES[n % len(PRIORITIES)], member)
        kind = n % 10
        later = when + timedelta(seconds=20)
        if kind in (1, 2):
            stored = opener.desk.store.load(TENANT, ticket_id)
            opener.reply(later, ticket_id, (stored.assignee if stored else None) or "agent-01")
        if kind == 2:
            opener.status(later + timedelta(seconds=10), ticket_id, "resolved")
        elif kind == 3:
            opener.status(later, ticket_id, "pending")


def _invoke(fn: Any, handler: Any, when: datetime) -> dict[str, Any]:
    from infra.local.runtime import invoke

    result: dict[str, Any] = invoke(
        fn, handler, {"job": "escalate", "schedule": "bench", "scheduled_time": _stamp(when)}
    )
    return result


def _function() -> tuple[Any, Any]:
    from infra.definitions import FUNCTIONS
    from infra.local.runtime import load_handler

    fn = next(f for f in FUNCTIONS if f.logical_id == "TicketsEscalation")
    return fn, load_handler(fn)


def timer_index(table: str) -> list[str]:
    """Every timer in the ticket timer index (``<timer_at>#<ticket_id>``), read outside the
    meter to check the set-up."""
    from loyalty import aws, keys
    from loyalty.dynamo import query_all
    from tickets import layout

    items = query_all(
        aws.table(table),
        IndexName="gsi1",
        KeyConditionExpression="gsi1pk = :pk",
        ExpressionAttributeValues={":pk": keys.due_pk(TENANT, layout.TIMER_KIND)},
    )
    return sorted(str(item["gsi1sk"]) for item in items)


def seed(env: dict[str, str], tickets: int, due: int) -> dict[str, Any]:
    """Open the due and the other tickets, warn the breach-due half, check the index."""
    opener = Opener(env)
    started = time.perf_counter()
    open_due(opener, due)
    fn, handler = _function()
    warned = _invoke(fn, handler, WARNED_AT)
    opener.store.check(TENANT)  # the set-up run read the stored view: start from it again
    open_background(opener, tickets)
    opener.store.check(TENANT)
    seconds = time.perf_counter() - started
    timers = timer_index(env["LOYALTY_TABLE"])
    cut = f"{_stamp(RUN_AT)}#~"
    due_now = [t for t in timers if t <= cut]
    later = [t for t in timers if t > cut]
    if len(due_now) != due or warned["notices"] != due // 2:
        raise RuntimeError(f"set-up: {len(due_now)} timers due at 11:00, {warned['notices']} warned")
    return {
        "tickets": tickets + due,
        "actions": dict(opener.actions),
        "warned_at_10_45": warned["notices"],
        "timers": len(timers),
        "timers_due": len(due_now),
        "earliest_other_timer": later[0].split("#")[0] if later else None,
        "seconds": round(seconds, 1),
    }


def run_job(meter: Meter) -> dict[str, Any]:
    """The three metered runs: empty (10:59), due (11:00), repeat (11:00 again)."""
    from moto.ses.models import ses_backends

    from infra.local.runtime import ACCOUNT, REGION

    fn, handler = _function()
    outbox = ses_backends[ACCOUNT][REGION].sent_messages
    found: dict[str, Any] = {}
    for name, when in zip(RUNS, (EMPTY_AT, RUN_AT, RUN_AT), strict=True):
        sent_before = len(outbox)
        started = time.perf_counter()
        with meter.window() as usage:
            result = _invoke(fn, handler, when)
        found[name] = {
            **usage.get(fn.logical_id, Usage()).as_dict(),
            "notices": result["notices"],
            "failed": result["failed"],
            "emails_sent": len(outbox) - sent_before,
            "seconds": round(time.perf_counter() - started, 2),
        }
    return found


def measure(tickets: int, due: int) -> dict[str, Any]:
    """One fresh account: ``tickets`` other tickets and ``due`` tickets due at 11:00."""
    with fresh_account() as (session, env):
        set_up_desk(env["LOYALTY_TABLE"])
        seeded = seed(env, tickets, due)
        meter = Meter(session)
        meter.install()
        try:
            with key_range_queries():
                runs = run_job(meter)
        finally:
            meter.uninstall()
    return {"other_tickets": tickets, "due_tickets": due, "seed": seeded, **runs}


# Comparison and report --------------------------------------------------------------------

NUMBERS = ("requests", "read_units", "write_units", "index_write_units", "items_read", "items_written")
COUNTS = ("notices", "emails_sent")


def difference(large: dict[str, Any], small: dict[str, Any]) -> dict[str, Any]:
    """large − small of every figure of every run (zero when the claim holds)."""
    found: dict[str, Any] = {}
    for run in RUNS:
        a, b = large[run], small[run]
        calls = {
            op: a["calls"].get(op, 0) - b["calls"].get(op, 0) for op in sorted({*a["calls"], *b["calls"]})
        }
        found[run] = {
            "calls": calls,
            **{name: a[name] - b[name] for name in (*NUMBERS, *COUNTS, "bytes_read")},
        }
    return found


def same(diff: dict[str, Any]) -> bool:
    """Equal requests, units, items and notices (bytes read may differ: see the docs)."""
    return all(
        value == 0
        for run in diff.values()
        for value in (*run["calls"].values(), *(run[name] for name in (*NUMBERS, *COUNTS)))
    )


def per_due(run: dict[str, Any]) -> dict[str, float]:
    """The due run's cost beyond an empty run, per due ticket."""
    return {
        name: round((run["due"][name] - run["empty"][name]) / run["due_tickets"], 2)
        for name in ("requests", "read_units", "write_units", "index_write_units")
    }


def render(document: dict[str, Any]) -> str:
    runs = document["runs"]
    header = ["run at 11:00", *(f"{r['other_tickets']:,} other + {r['due_tickets']} due" for r in runs)]

    def calls(run: dict[str, Any]) -> str:
        return ", ".join(f"{op} {n:,}" for op, n in run["calls"].items())

    def row(label: str, show: Any) -> list[str]:
        return [label, *(show(r) for r in runs)]

    rows = [
        row(
            "tickets in the timer index (due)",
            lambda r: f"{r['seed']['timers']:,} ({r['seed']['timers_due']})",
        ),
        row("DynamoDB requests", lambda r: f"{r['due']['requests']} ({calls(r['due'])})"),
        row("read units", lambda r: f"{r['due']['read_units']:g}"),
        row(
            "write units (+ index)",
            lambda r: f"{r['due']['write_units']:g} (+ {r['due']['index_write_units']:g})",
        ),
        row("items read / written", lambda r: f"{r['due']['items_read']} / {r['due']['items_written']}"),
        row("bytes read", lambda r: f"{r['due']['bytes_read']:,}"),
        row("notices recorded / emails sent", lambda r: f"{r['due']['notices']} / {r['due']['emails_sent']}"),
        row(
            "empty run at 10:59: requests, read units",
            lambda r: f"{r['empty']['requests']} ({calls(r['empty'])}), {r['empty']['read_units']:g}",
        ),
        row(
            "repeated run at 11:00: requests, notices",
            lambda r: f"{r['repeat']['requests']} ({calls(r['repeat'])}), {r['repeat']['notices']}",
        ),
        row(
            "per due ticket: requests, read, write (+ index) units",
            lambda r: "{requests:g}, {read_units:g}, {write_units:g} (+ {index_write_units:g})".format(
                **per_due(r)
            ),
        ),
        row("set-up, outside the meter (s)", lambda r: f"{r['seed']['seconds']}"),
        row("the due run, wall time in moto (s)", lambda r: f"{r['due']['seconds']}"),
    ]
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tickets", description=__doc__)
    parser.add_argument("--small", type=int, default=100, help="other tickets, small case")
    parser.add_argument("--large", type=int, default=10_000, help="other tickets, large case")
    parser.add_argument("--due", type=int, default=20, help="tickets due at 11:00")
    parser.add_argument("--more-due", type=int, default=40, help="tickets due in the third case")
    parser.add_argument("--json-out", type=Path, help="also write the JSON document to this file")
    args = parser.parse_args(argv)
    if min(args.due, args.more_due) < 1:
        parser.error("--due and --more-due must be at least 1")
    started = time.perf_counter()
    cases = ((args.small, args.due), (args.large, args.due), (args.small, args.more_due))
    runs = []
    for tickets, due in cases:
        print(f"{tickets:,} other tickets, {due} due...", file=sys.stderr, flush=True)
        runs.append(measure(tickets, due))
    small, large, more = runs
    diff = difference(large, small)
    document = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "run_at": _stamp(RUN_AT),
        "runs": runs,
        "difference": diff,
        "same_cost": same(diff),
        "per_due_ticket": {f"due={args.due}": per_due(small), f"due={args.more_due}": per_due(more)},
        "wall_s": round(time.perf_counter() - started, 1),
    }
    text = json.dumps(document, indent=2, default=str)
    if args.json_out:
        args.json_out.write_text(text)
    print(text)
    print()
    print(render(document))
    return 0 if document["same_cost"] else 1


if __name__ == "__main__":
    sys.exit(main())
