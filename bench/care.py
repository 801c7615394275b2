"""Care benchmark: a day's care costs the same DynamoDB requests and capacity units at
100,000 members as at 1,000, when the same number of members is due.

For each member count N (``--small``, ``--large``) a fresh moto account is provisioned
(``infra.local.resources.provision``, the local stack's tables and indexes) and N
synthetic members are written straight to the tables with BatchWriteItem (25 items a
request, outside the meter, timed on their own): each member's ``#PROFILE`` (email,
email consent, time zone, owner, a birthday, listed in the birthday index), ``#STATS``
(one or more orders, the registration anniversary index) and the armed firing of the
inactivity rule (``CAREF#win-back-90d#inactive``, in the care due index), as the stream
consumer leaves them after a member's last order. The day measured is fixed
(``DAY``, program-local). In both runs the same members are due on it:

* ``--due`` members have their birthday on it, nobody else on it or on the day after
  (``care_dates`` expands tomorrow too); everyone else's falls on another day of the year;
* ``--due`` other members' inactivity firing falls due on it, everyone else's later
  (up to 90 days on);
* ``--due`` other members have a ``first-order-thanks`` firing (``e:<event id>``) due on
  it, with their order in the event log.

One in seven of them has withdrawn email consent, so the skips are measured too. Then,
metered (``bench/meter.py``), one day of the CareRules function: ``care_dates`` once at
00:15 and ``care_deliver`` every five minutes from 00:00 to 23:55 (288 runs), invoked
with the schedule's payload as the scheduler sends it. The report gives, per N, the
DynamoDB requests by operation, read and write units, items read and written, emails
sent, tasks created and the ledger's outcomes, the wall time of seeding and of the day,
then the difference large − small (zero when the claim holds) and the cost of one
empty delivery run and of one due firing.

Prints a JSON document and a Markdown table; docs/performance.md records a run.
    python -m bench.care [--small 1000] [--large 100000] [--due 50] [--json-out FILE]"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench.meter import Meter, Usage

DAY = date(2026, 6, 10)  # a Wednesday in the program's time zone, far from 29 February
TENANT = "demo"
SENDER = "loyalty@example.com"
BUCKET = "bench-reports"
RUNS_PER_DAY = 288  # care_deliver every five minutes
DATES_AT = timedelta(minutes=15)  # care_dates daily at 00:15
ZONES = ("Asia/Shanghai", "Asia/Shanghai", "Asia/Tokyo", "Europe/Berlin")
OWNERS = ("rep-1", "rep-2", "rep-3")
RULES = ("birthday-greeting", "win-back-90d", "first-order-thanks")
Item = dict[str, Any]


def member_id(n: int) -> str:
    """Fixed width, so every item has the same size at any N."""
    return f"m{n:07d}"


def _stamp(moment: datetime) -> str:
    from loyalty.timeutil import iso

    return iso(moment)


def _program_zone() -> ZoneInfo:
    from infra.definitions import PROGRAM_TIME_ZONE

    return ZoneInfo(PROGRAM_TIME_ZONE)


def day_start() -> datetime:
    return datetime.combine(DAY, datetime.min.time(), tzinfo=_program_zone())


def other_month_days() -> list[str]:
    """Every month-day of a leap year but the measured day and the day after."""
    year = date(2024, 1, 1)
    excluded = {f"{d.month:02d}-{d.day:02d}" for d in (DAY, DAY + timedelta(days=1))}
    days = [year + timedelta(days=i) for i in range(366)]
    return [f"{d.month:02d}-{d.day:02d}" for d in days if f"{d.month:02d}-{d.day:02d}" not in excluded]


class Population:
    """Who is due on the measured day: three disjoint groups of ``due`` members, the
    same ids at any N; everyone else is due later or on another day."""

    def __init__(self, members: int, due: int) -> None:
        if members < 3 * due:
            raise ValueError(f"{members} members cannot hold 3 × {due} due members")
        self.members = members
        self.due = due
        self.others = other_month_days()

    def group(self, n: int) -> str | None:
        """'birthday', 'inactive' or 'event' for a due member, None for the rest."""
        if n < 3 * self.due:
            return ("birthday", "inactive", "event")[n // self.due]
        return None

    def due_at(self, n: int) -> datetime:
        """A due member's firing time on the day, spread over it (some inside quiet
        hours, which defer emails to their end)."""
        k = n % self.due
        return day_start() + timedelta(minutes=2 + k * (24 * 60 - 5) // self.due)

    def items(self, n: int) -> Iterator[tuple[str, Item]]:
        """(table env var, item) of member ``n``."""
        from care_rules import firings, layout, triggers
        from loyalty import keys
        from loyalty.events.stored import StoredEvent, event_item

        member = member_id(n)
        pk = keys.member_pk(TENANT, member)
        group = self.group(n)
        month_day = (
            f"{DAY.month:02d}-{DAY.day:02d}" if group == "birthday" else self.others[n % len(self.others)]
        )
        registered = day_start() - timedelta(days=400 + n % 300)
        inactive_due = (
            self.due_at(n)
            if group == "inactive"
            else day_start() + timedelta(days=1 + n % 89, minutes=n % 1440)
        )
        last_order = inactive_due - timedelta(days=90)
        orders = 1 if group == "event" else 1 + n % 5
        yield "LOYALTY_TABLE", _profile(pk, member, n, f"{1960 + n % 45}-{month_day}")
        yield "LOYALTY_TABLE", _stats(pk, member, orders, registered, last_order)
        order_event = f"ord-{member}-{orders}"
        firing = firings.NewFiring(
            tenant=TENANT,
            member=member,
            rule_id="win-back-90d",
            version=1,
            trigger="inactivity",
            source=layout.INACTIVE_SOURCE,
            instance=triggers.instance(layout.INACTIVE_SOURCE, order_event),
            due_at=inactive_due,
            event_id=order_event,
            anchor=triggers.anchor_key(_stamp(last_order), order_event),
        )
        yield "LOYALTY_TABLE", firings._item(firing, last_order)
        if group != "event":
            return
        placed = self.due_at(n)
        event = StoredEvent(
            tenant_id=TENANT,
            event_id=f"ord-first-{member}",
            type="order.placed",
            member_id=member,
            channel="web",
            occurred_at=placed,
            received_at=placed,
            day=placed.astimezone(_program_zone()).date().isoformat(),
            data={"order_id": f"o-{member}", "currency": "CNY", "total": "199.00", "items": []},
        )
        yield "EVENTS_TABLE", event_item(event)
        source = layout.event_source(event.event_id)
        thanks = firings.NewFiring(
            tenant=TENANT,
            member=member,
            rule_id="first-order-thanks",
            version=1,
            trigger="event",
            source=source,
            instance=source,
            due_at=placed,
            event_id=event.event_id,
            anchor=triggers.anchor_key(_stamp(placed), event.event_id),
        )
        yield "LOYALTY_TABLE", firings._item(thanks, placed)


def _profile(pk: str, member: str, n: int, birthday: str) -> Item:
    from loyalty import keys

    consent = n % 7 != 3  # one member in seven has withdrawn email consent
    return {
        "pk": pk,
        "sk": keys.PROFILE_SK,
        "kind": "profile",
        "tenant_id": TENANT,
        "member_id": member,
        "email": f"{member}@shoppers.example",
        "name": f"Member {member[1:]}",
        "birthday": birthday,
        "time_zone": ZONES[n % len(ZONES)],
        "locale": "zh-CN" if n % 5 else "en",
        "consent_email": {"granted": consent, "at": "2025-01-01T00:00:00.000Z", "source": "web"},
        "owner": OWNERS[n % len(OWNERS)],
        "version": 1,
        "gsi1pk": keys.birthday_pk(TENANT, birthday[-5:]),
        "gsi1sk": member,
    }


def _stats(pk: str, member: str, orders: int, registered: datetime, last_order: datetime) -> Item:
    from loyalty import keys

    day = registered.astimezone(_program_zone()).date()
    return {
        "pk": pk,
        "sk": keys.STATS_SK,
        "kind": "stats",
        "tenant_id": TENANT,
        "member_id": member,
        "orders_count": orders,
        "total_spend": Decimal("199.00") * orders,
        "first_order_at": _stamp(last_order - timedelta(days=30 * (orders - 1))),
        "last_order_at": _stamp(last_order),
        "registered_at": _stamp(registered),
        "version": orders,
        "gsi2pk": keys.registration_pk(TENANT, f"{day.month:02d}-{day.day:02d}"),
        "gsi2sk": member,
    }


# The account ------------------------------------------------------------------------

RANGE_TESTS = {
    "=": lambda v, a: v == a[0],
    "EQ": lambda v, a: v == a[0],
    "<": lambda v, a: v < a[0],
    "LT": lambda v, a: v < a[0],
    "<=": lambda v, a: v <= a[0],
    "LE": lambda v, a: v <= a[0],
    ">": lambda v, a: v > a[0],
    "GT": lambda v, a: v > a[0],
    ">=": lambda v, a: v >= a[0],
    "GE": lambda v, a: v >= a[0],
    "BETWEEN": lambda v, a: a[0] <= v <= a[1],
    "BEGINS_WITH": lambda v, a: v.startswith(a[0]),
}


@contextmanager
def key_range_queries() -> Iterator[None]:
    """moto hands an index Query every item of the index partition (infra.local.moto_patch)
    and sizes and sorts them all before applying the sort key condition; DynamoDB reads
    only the key range. With 12,500 waiting firings per care due shard at 100,000 members
    that made each Query cost tens of milliseconds. Inside this block an index Query on a
    string sort key is handed only the items in its key range (moto then checks every
    condition itself, so the answers are moto's): simulation speed only, the requests and
    what they return are unchanged."""
    from moto.dynamodb.models.table import Table

    from infra.local import moto_patch

    previous = Table.query

    def query(self: Any, hash_key: Any, comparison: Any, objs: Any, *args: Any, **kwargs: Any) -> Any:
        narrowed = _in_key_range(self, hash_key, comparison, objs, args, kwargs)
        if narrowed is None:
            return previous(self, hash_key, comparison, objs, *args, **kwargs)
        view = moto_patch._PartitionView(self, lambda: narrowed)
        return moto_patch._ORIGINAL_QUERY(view, hash_key, comparison, objs, *args, **kwargs)  # type: ignore[arg-type]

    Table.query = query  # type: ignore[method-assign, assignment]
    try:
        yield
    finally:
        Table.query = previous  # type: ignore[method-assign]


def _in_key_range(
    table: Any, hash_key: Any, comparison: Any, objs: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> list[Any] | None:
    """The items of an index partition inside the sort key range, or None when the Query
    is not an index Query on a string sort key (moto_patch answers it as before)."""
    index_name = args[4] if len(args) > 4 else kwargs.get("index_name")
    test = RANGE_TESTS.get(str(comparison))
    filed = _filed(table, index_name, hash_key)
    if test is None or filed is None or not objs or any(getattr(o, "type", None) != "S" for o in objs):
        return None
    hash_attr, range_attr, keys = filed
    bounds = [o.value for o in objs]
    found = []
    for item in (_stored(table, h, r) for h, r in keys):
        value = item.attrs.get(range_attr) if item is not None else None
        in_range = value is not None and value.type == "S" and test(value.value, bounds)
        if in_range and item.attrs.get(hash_attr) == hash_key:
            found.append(item)
    return found


def _filed(table: Any, index_name: str | None, hash_key: Any) -> tuple[str, str, list[Any]] | None:
    """An index's hash and sort key names and the keys filed under ``hash_key``."""
    from infra.local import moto_patch

    index_map = moto_patch._index_map(table)
    index = {i.name: i for i in table.all_indexes()}.get(index_name or "")
    if hash_key is None or index_map is None or index is None or len(index.schema) < 2:
        return None
    hash_attr, range_attr = index.schema[0]["AttributeName"], index.schema[1]["AttributeName"]
    keys = index_map.keys(hash_attr, hash_key)
    return None if keys is None else (hash_attr, range_attr, keys)


def _stored(table: Any, hash_value: Any, range_value: Any) -> Any:
    if table.range_key_attr is None:
        return table.items.get(hash_value)
    return table.items.get(hash_value, {}).get(range_value)


@contextmanager
def fresh_account() -> Iterator[tuple[Any, dict[str, str]]]:
    """A fresh moto account with the local stack's resources, the handlers' environment
    set (and restored afterwards)."""
    import boto3
    from aws_lambda_powertools.utilities import parameters
    from moto import mock_aws

    from infra.definitions import PROGRAM_TIME_ZONE
    from infra.local import moto_patch
    from infra.local.resources import provision
    from infra.local.runtime import REGION

    saved = dict(os.environ)
    moto_patch.install()
    try:
        for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
            os.environ.pop(name, None)
        os.environ.update(
            {
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_METRICS_DISABLED": "true",
                "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
                "PROGRAM_TIME_ZONE": PROGRAM_TIME_ZONE,
            }
        )
        with mock_aws():
            session = boto3.session.Session(region_name=REGION)
            env = provision(session, SENDER, BUCKET)
            os.environ.update(env)
            _reset_caches()
            parameters.clear_caches()
            yield session, env
    finally:
        os.environ.clear()
        os.environ.update(saved)
        _reset_caches()


def _reset_caches() -> None:
    from loyalty import aws
    from loyalty.program import clear_program_cache
    from loyalty.settings import get_settings

    aws.reset()
    get_settings.cache_clear()
    clear_program_cache()


def set_up_tenant(table: str, at: datetime) -> None:
    """The tenant, its default rules and its staff: the owners and the rule's fallback."""
    from care_rules import catalog
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
            escalation_emails=["lead@bench.example"],
        ),
    )
    catalog.ensure_seeded(table, TENANT, at)
    for staff_id in (*OWNERS, "care-desk"):
        person = Staff(
            staff_id=staff_id,
            name=f"Staff {staff_id}",
            email=f"{staff_id}@bench.example",
            role="rep",
            queues=(),
            time_zone="Asia/Shanghai",
            locale="zh-CN",
            active=True,
            version=1,
            saved_at=_stamp(at),
        )
        dynamo_table(table).put_item(Item=staff_item(TENANT, person, "bench"))


def seed(session: Any, env: dict[str, str], population: Population) -> dict[str, Any]:
    """Write every member's items with BatchWriteItem (25 a request, boto3's batch writer
    resends what is left unprocessed)."""
    resource = session.resource("dynamodb")
    writers: dict[str, Any] = {}
    counts: Counter[str] = Counter()
    started = time.perf_counter()
    try:
        for name in ("LOYALTY_TABLE", "EVENTS_TABLE"):
            writers[name] = resource.Table(env[name]).batch_writer().__enter__()
        for n in range(population.members):
            for table_var, item in population.items(n):
                writers[table_var].put_item(Item=item)
                counts[table_var] += 1
    finally:
        for writer in writers.values():
            writer.__exit__(None, None, None)
    seconds = time.perf_counter() - started
    items = sum(counts.values())
    return {"items": items, "batch_requests": sum(-(-c // 25) for c in counts.values()), "seconds": seconds}


# The measured day ----------------------------------------------------------------------


def run_day(meter: Meter) -> dict[str, Any]:
    """care_dates once, care_deliver 288 times; usage of each part."""
    from infra.definitions import FUNCTIONS
    from infra.local.runtime import invoke, load_handler

    fn = next(f for f in FUNCTIONS if f.logical_id == "CareRules")
    handler = load_handler(fn)
    start = day_start()

    def job(name: str, at: datetime) -> Any:
        return invoke(fn, handler, {"job": name, "schedule": "bench", "scheduled_time": _stamp(at)})

    deliver, empty, dates = Usage(), Usage(), Usage()
    results: Counter[str] = Counter()
    started = time.perf_counter()
    for k in range(RUNS_PER_DAY):
        at = start + timedelta(minutes=5 * k)
        if at == start + DATES_AT:
            with meter.window() as usage:
                result = job("care_dates", at)
            dates.add(usage.get(fn.logical_id, Usage()))
            results["date_firings"] += int(result["firings"])
        with meter.window() as usage:
            result = job("care_deliver", at)
        used = usage.get(fn.logical_id, Usage())
        deliver.add(used)
        if k == 0:
            empty.add(used)  # nothing is due at 00:00
        results["delivered"] += int(result["delivered"])
        results["failed"] += int(result["failed"])
    total = Usage()
    total.add(dates)
    total.add(deliver)
    return {
        "seconds": time.perf_counter() - started,
        "dates": dates.as_dict(),
        "deliver": deliver.as_dict(),
        "empty_run": empty.as_dict(),
        "total": total.as_dict(),
        "jobs": dict(results),
    }


def what_happened(table: str) -> dict[str, Any]:
    """Emails sent (SES), tasks created and the ledger's outcomes by rule, read after the
    day outside the meter."""
    from moto.ses.models import ses_backends

    from care_rules import layout
    from infra.local.runtime import ACCOUNT, REGION
    from loyalty import aws
    from loyalty.dynamo import query_all

    dynamo = aws.table(table)
    outcomes: dict[str, dict[str, int]] = {}
    for rule in RULES:
        counters: Counter[str] = Counter()
        for pk in layout.activity_pks(TENANT, rule):
            item = dynamo.get_item(Key={"pk": pk, "sk": DAY.isoformat()}).get("Item") or {}
            counters.update({k[2:]: int(v) for k, v in item.items() if k.startswith("c_")})
        outcomes[rule] = dict(sorted(counters.items()))
    tasks = list(
        query_all(
            dynamo,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues={":pk": layout.tasks_by_status_pk(TENANT, "open")},
        )
    )
    return {
        "emails_sent": len(ses_backends[ACCOUNT][REGION].sent_messages),
        "tasks_created": len(tasks),
        "outcomes": outcomes,
    }


def measure(members: int, due: int) -> dict[str, Any]:
    """One fresh account of ``members`` members, ``due`` of each kind due on the day."""
    population = Population(members, due)
    with fresh_account() as (session, env):
        set_up_tenant(env["LOYALTY_TABLE"], day_start() - timedelta(days=1))
        seeded = seed(session, env, population)
        meter = Meter(session)
        meter.install()
        try:
            with key_range_queries():
                day = run_day(meter)
        finally:
            meter.uninstall()
        happened = what_happened(env["LOYALTY_TABLE"])
    return {
        "members": members,
        "due_members": 3 * due,
        "seed": {**seeded, "seconds": round(seeded["seconds"], 1)},
        "day_seconds": round(day.pop("seconds"), 1),
        **day,
        **happened,
    }


# Comparison and report --------------------------------------------------------------------

NUMBERS = ("requests", "read_units", "write_units", "index_write_units", "items_read", "items_written")


def difference(large: dict[str, Any], small: dict[str, Any]) -> dict[str, Any]:
    """large − small of every figure that must not grow with the member count."""
    a, b = large["total"], small["total"]
    calls = {op: a["calls"].get(op, 0) - b["calls"].get(op, 0) for op in sorted({*a["calls"], *b["calls"]})}
    found: dict[str, Any] = {"calls": calls, **{name: a[name] - b[name] for name in NUMBERS}}
    for name in ("emails_sent", "tasks_created"):
        found[name] = large[name] - small[name]
    found["outcomes_equal"] = large["outcomes"] == small["outcomes"]
    return found


def per_due_firing(run: dict[str, Any]) -> dict[str, float]:
    """The day's cost beyond 288 empty delivery runs and the dates run's fixed reads,
    per due firing."""
    total, empty, firings = run["total"], run["empty_run"], run["due_members"]
    return {
        name: round((total[name] - RUNS_PER_DAY * empty[name]) / firings, 2)
        for name in ("requests", "read_units", "write_units", "index_write_units")
    }


def same(diff: dict[str, Any]) -> bool:
    numbers = [*diff["calls"].values(), *(diff[name] for name in (*NUMBERS, "emails_sent", "tasks_created"))]
    return all(value == 0 for value in numbers) and bool(diff["outcomes_equal"])


def render(document: dict[str, Any]) -> str:
    runs = document["runs"]
    header = ["", *(f"{run['members']:,} members" for run in runs), "large − small"]
    diff = document["difference"]

    def calls(run: dict[str, Any]) -> str:
        return ", ".join(f"{op} {n:,}" for op, n in run["total"]["calls"].items())

    rows = [
        ["due members (birthday, inactivity, order)", *(f"{r['due_members']}" for r in runs), "0"],
        [
            "DynamoDB requests",
            *(f"{r['total']['requests']:,} ({calls(r)})" for r in runs),
            str(diff["requests"]),
        ],
        ["read units", *(f"{r['total']['read_units']:g}" for r in runs), f"{diff['read_units']:g}"],
        [
            "write units (+ index)",
            *(f"{r['total']['write_units']:g} (+ {r['total']['index_write_units']:g})" for r in runs),
            f"{diff['write_units']:g} (+ {diff['index_write_units']:g})",
        ],
        [
            "items read / written",
            *(f"{r['total']['items_read']:,} / {r['total']['items_written']:,}" for r in runs),
            f"{diff['items_read']} / {diff['items_written']}",
        ],
        ["emails sent", *(str(r["emails_sent"]) for r in runs), str(diff["emails_sent"])],
        ["tasks created", *(str(r["tasks_created"]) for r in runs), str(diff["tasks_created"])],
        ["one empty delivery run: requests", *(str(r["empty_run"]["requests"]) for r in runs), ""],
        ["seeding (items, s)", *(f"{r['seed']['items']:,} in {r['seed']['seconds']} s" for r in runs), ""],
        ["the day, 289 runs (s)", *(str(r["day_seconds"]) for r in runs), ""],
    ]
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.care", description=__doc__)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=50, help="members due of each kind (three kinds)")
    parser.add_argument("--json-out", type=Path, help="also write the JSON document to this file")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    runs = []
    for members in (args.small, args.large):
        print(f"{members:,} members...", file=sys.stderr, flush=True)
        runs.append(measure(members, args.due))
    small, large = runs
    diff = difference(large, small)
    document = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "day": DAY.isoformat(),
        "due_per_kind": args.due,
        "runs": runs,
        "difference": diff,
        "same_cost": same(diff),
        "per_due_firing": per_due_firing(large),
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
