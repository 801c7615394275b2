"""CDNOW replay: the monthly KPI figures of a public retail dataset, through the product,
equal the same definitions computed straight from the dataset.

The dataset is the CDNOW sample that ships with the ``lifetimes`` package
(``lifetimes/datasets/CDNOW_sample.txt``: customer id, customer index, date YYYYMMDD,
number of CDs, dollar value; 2,357 customers, 6,919 orders, 1997-01 .. 1998-06). The
wheel is fetched with ``pip download lifetimes==0.11.3 --no-deps`` into ``.cache/cdnow``
(gitignored) and the text read from the zip; ``lifetimes`` is never installed. Without
network and cache the replay stops and says so (exit 2): it never invents data.

Replay (``replay``): in a fresh moto account with the local stack's resources
(``bench.care.fresh_account``) and every function's handler in-process, each row
becomes an ``order.placed`` event (order id from its row number, member
``c<customer id>``, total the dollar value as a decimal string, currency ``CNY``: the
program's base currency, the amount as is), at noon local time (Asia/Shanghai) of its
date, and each customer's first row also a ``member.registered`` at the same moment.
They are POSTed to ``/v1/events`` through the local API gateway (``infra.local.gateway``:
authorizer, throttle, IngestApi) in batches of 100, with the clock at 1998-07-01 05:00
local; every stream consumer is drained (``infra.local.pump.StreamPump``, as the local
stack does). The ``monthly_report`` job's marker is set as done through 1996-12 (as if
the job had run monthly before the shop's first order; a first run reports only the
latest month), and the Reports function is invoked with the schedule's payload for
1998-07-01 07:00 local: it catches up every month 1997-01 .. 1998-06. Each report is
then read with ``GET /v1/reports/monthly-YYYY-MM-01`` (admin key).

Direct computation (``direct``): every figure of each month, of the month before
(``previous``), the cohorts and the daily series, from the rows with the definitions of
docs/kpis.md, in plain Python here (``reports.kpis`` only for its rounding, ``rate`` and
``money``; nothing of the rollups). Every value is compared; mismatches are printed and
the run exits 1 on any.
    python -m bench.cdnow [--customers N] [--json-out FILE]"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench.care import fresh_account

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "cdnow"
VERSION = "0.11.3"
MEMBER = "lifetimes/datasets/CDNOW_sample.txt"
TENANT = "demo"
STOREFRONT_KEY = "cdnow-storefront-key"
ADMIN_KEY = "cdnow-admin-key"
MANAGER = "manager@cdnow.example"
BATCH = 100
FIRST_MONTH = date(1997, 1, 1)
LAST_MONTH = date(1998, 6, 1)
ACTIVE_DAYS = 90  # lifecycle.active_days (config/program.yaml)
YEAR_DAYS = 365
COHORT_MONTHS = 12
PLACES = Decimal("0.0001")
# The dataset has no tickets, the replay runs no care job and changes no tier.
NO_SERVICE: dict[str, Any] = {
    "tickets_opened": 0,
    "tickets_resolved": 0,
    "sla_first_response": None,
    "sla_next_reply": None,
    "sla_resolution": None,
    "median_first_response_business_minutes": None,
    "median_first_response_calendar_minutes": None,
    "one_touch_rate": None,
    "reopen_rate": None,
}
NO_CARE: dict[str, Any] = {"care_sent": 0, "tasks_created": 0, "tasks_completed": 0, "tasks_overdue": 0}
NO_TIER_CHANGES: dict[str, Any] = {"tier_upgrades": 0, "tier_downgrades": 0}
# Points figures follow the earning rules of config/program.yaml, not the dataset alone:
# reported, not compared.
POINTS_FIGURES = frozenset(
    {
        "points_issued",
        "points_redeemed",
        "points_expired",
        "points_clawed_back",
        "points_adjusted",
        "points_outstanding",
        "points_outstanding_at_start",
        "point_value",
        "expected_redemption_rate",
        "breakage_rate",
        "points_liability",
        "deferred_revenue",
        "deferred_revenue_at_start",
        "revenue_released",
    }
)


class DatasetMissing(RuntimeError):
    """The dataset is neither cached nor downloadable."""


@dataclass(frozen=True)
class Row:
    number: int  # 1-based, in file order
    customer: str
    day: date
    cds: int
    value: Decimal

    @property
    def member(self) -> str:
        return f"c{self.customer}"


# The dataset ----------------------------------------------------------------------------------


def _wheel() -> Path | None:
    found = sorted(CACHE.glob(f"[Ll]ifetimes-{VERSION}-*.whl"))
    return found[0] if found else None


def dataset_text(download: bool = True) -> str:
    """The sample's text from the cached wheel, fetched first with pip when absent."""
    wheel = _wheel()
    if wheel is None and download:
        CACHE.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            f"lifetimes=={VERSION}",
            "--no-deps",
            "-d",
            str(CACHE),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)  # noqa: S603
        if done.returncode != 0:
            raise DatasetMissing(f"pip download lifetimes=={VERSION} failed: {done.stderr.strip()[-500:]}")
        wheel = _wheel()
    if wheel is None:
        raise DatasetMissing(f"no lifetimes {VERSION} wheel in {CACHE}")
    with zipfile.ZipFile(wheel) as archive:
        return archive.read(MEMBER).decode()


def parse(text: str) -> list[Row]:
    rows = []
    for number, line in enumerate((ln for ln in text.splitlines() if ln.strip()), start=1):
        customer, _, day, cds, value = line.split()
        rows.append(Row(number, customer, datetime.strptime(day, "%Y%m%d").date(), int(cds), Decimal(value)))
    return rows


def subset(rows: list[Row], customers: int | None) -> list[Row]:
    """The rows of the first ``customers`` customers in file order (all when None)."""
    if customers is None:
        return rows
    kept: list[str] = []
    for row in rows:
        if row.customer not in kept:
            kept.append(row.customer)
        if len(kept) > customers:
            break
    wanted = set(kept[:customers])
    return [r for r in rows if r.customer in wanted]


# The events -----------------------------------------------------------------------------------


def _zone() -> ZoneInfo:
    from infra.definitions import PROGRAM_TIME_ZONE

    return ZoneInfo(PROGRAM_TIME_ZONE)


def _noon(day: date) -> str:
    return datetime.combine(day, clock_time(12), tzinfo=_zone()).isoformat()


def events(rows: list[Row]) -> list[dict[str, Any]]:
    """A registration at each customer's first order, then the order; in file order."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for row in sorted(rows, key=lambda r: (r.day, r.number)):
        if row.customer not in seen:
            seen.add(row.customer)
            out.append(
                {
                    "event_id": f"cdnow-r{row.customer}",
                    "type": "member.registered",
                    "occurred_at": _noon(row.day),
                    "member_id": row.member,
                    "channel": "web",
                    "data": {},
                }
            )
        out.append(
            {
                "event_id": f"cdnow-o{row.number:05d}",
                "type": "order.placed",
                "occurred_at": _noon(row.day),
                "member_id": row.member,
                "channel": "web",
                "data": {
                    "order_id": f"o{row.number:05d}",
                    "currency": "CNY",
                    "total": format(row.value, "f"),
                    "items": [],
                },
            }
        )
    return out


# The replay -----------------------------------------------------------------------------------


def _months(first: date, last: date) -> list[date]:
    out, day = [], first
    while day <= last:
        out.append(day)
        day = (day + timedelta(days=32)).replace(day=1)
    return out


def _set_up(table: str, now: datetime) -> None:
    from loyalty import credentials, jobs, tenants

    tenants.put_tenant(
        table,
        tenants.Tenant(tenant_id=TENANT, name="CDNOW", manager_emails=[MANAGER], escalation_emails=[]),
    )
    credentials.register_storefront(table, TENANT, "cdnow-web", "CDNOW web shop", "web", STOREFRONT_KEY, now)
    credentials.register_admin_key(table, TENANT, ADMIN_KEY, now)
    # As if the monthly job had run every month before the shop's first order.
    jobs.mark_done_day(table, TENANT, "monthly_report", date(1996, 12, 1), None)


def _pump(session: Any, handlers: dict[str, Any], now: datetime) -> Any:
    from infra.definitions import FUNCTIONS, dead_letter_queue_name, table
    from infra.local.pump import StreamPump
    from infra.local.resources import local_table_name

    pump = StreamPump(session, lambda: now)
    dynamodb, sqs = session.client("dynamodb"), session.client("sqs")
    for fn in FUNCTIONS:
        if fn.stream:
            name = local_table_name(table(fn.stream.table))
            arn = dynamodb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
            url = sqs.get_queue_url(QueueName=dead_letter_queue_name(fn))["QueueUrl"]
            pump.subscribe(fn, handlers[fn.logical_id], arn, url)
    return pump


def _post(gateway: Any, batch: list[dict[str, Any]], now: datetime) -> list[str]:
    headers = {"content-type": "application/json", "x-api-key": STOREFRONT_KEY}
    body = json.dumps({"events": batch}).encode()
    response = gateway.handle("POST", "/v1/events", headers, body, now, "203.0.113.9")
    if response.status != 200:
        raise RuntimeError(f"POST /v1/events answered {response.status}: {response.body[:300]!r}")
    return [str(r["status"]) for r in json.loads(response.body)["results"]]


def replay(rows: list[Row]) -> dict[str, Any]:
    """Post, drain, report, read back: the stored reports by month and the timings."""
    from infra.definitions import FUNCTIONS, REPORTS
    from infra.local.gateway import Gateway
    from infra.local.runtime import invoke, load_handler

    posted_at = datetime(1998, 7, 1, 5, tzinfo=_zone())
    report_at = datetime(1998, 7, 1, 7, tzinfo=_zone())
    sent = events(rows)
    with fresh_account() as (session, env):
        _set_up(env["LOYALTY_TABLE"], posted_at)
        handlers = {fn.logical_id: load_handler(fn) for fn in FUNCTIONS}
        gateway, pump = Gateway(handlers), _pump(session, handlers, posted_at)
        started = time.perf_counter()
        statuses: dict[str, int] = defaultdict(int)
        for i in range(0, len(sent), BATCH):
            for status in _post(gateway, sent[i : i + BATCH], posted_at):
                statuses[status] += 1
        post_s = time.perf_counter() - started
        started = time.perf_counter()
        pump.drain()
        drain_s = time.perf_counter() - started
        started = time.perf_counter()
        payload = {"job": "monthly_report", "schedule": "cdnow", "scheduled_time": report_at.isoformat()}
        job = invoke(REPORTS, handlers[REPORTS.logical_id], payload)
        report_s = time.perf_counter() - started
        started = time.perf_counter()
        reports = {}
        for month in _months(FIRST_MONTH, LAST_MONTH):
            path = f"/v1/reports/monthly-{month.isoformat()}"
            got = gateway.handle("GET", path, {"x-api-key": ADMIN_KEY}, b"", report_at, "203.0.113.9")
            reports[month.isoformat()[:7]] = (
                json.loads(got.body) if got.status == 200 else {"status": got.status}
            )
        read_s = time.perf_counter() - started
        streams = pump.stats()
    return {
        "events_posted": len(sent),
        "statuses": dict(statuses),
        "post_s": round(post_s, 1),
        "drain_s": round(drain_s, 1),
        "report_s": round(report_s, 1),
        "read_s": round(read_s, 1),
        "job": {k: job.get(k) for k in ("failed", "parked", "tenants_failed", "deferred", "sent")},
        "reports_built": len(job.get("reported") or []),
        "streams": streams,
        "reports": reports,
    }


# The direct computation -------------------------------------------------------------------------


def _rate(numerator: int, denominator: int) -> float | None:
    from reports.kpis import rate

    return rate(numerator, denominator)


def _money(amount: Decimal) -> str:
    from reports.kpis import money

    return money(amount)


def _ratio(value: Decimal) -> Decimal:
    return value.quantize(PLACES, rounding=ROUND_HALF_EVEN)


def _month_after(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def _month_before(day: date) -> date:
    return (day.replace(day=1) - timedelta(days=1)).replace(day=1)


def _month_key(day: date) -> str:
    return day.isoformat()[:7]


class Dataset:
    """The rows by member, and the definitions of docs/kpis.md over them."""

    def __init__(self, rows: list[Row], gross_margin: Decimal) -> None:
        self.rows = rows
        self.gross_margin = gross_margin
        self.days: dict[str, list[date]] = defaultdict(list)
        for row in rows:
            self.days[row.member].append(row.day)
        self.first = {member: min(days) for member, days in self.days.items()}

    def _between(self, start: date, end: date) -> list[Row]:
        return [r for r in self.rows if start <= r.day < end]

    def active_at(self, moment: date, window: int = ACTIVE_DAYS) -> set[str]:
        """Members with an order day in [moment − window, moment)."""
        first = moment - timedelta(days=window)
        return {m for m, days in self.days.items() if any(first <= d < moment for d in days)}

    def sales(self, start: date, end: date) -> dict[str, Any]:
        rows = self._between(start, end)
        gross = sum((r.value for r in rows), Decimal(0))
        return {
            "orders": len(rows),
            "gross_revenue": _money(gross),
            "refunds": _money(Decimal(0)),
            "net_revenue": _money(gross),
            "average_order_value": _money(gross / len(rows)) if rows else None,
            "unconverted": 0,
        }

    def customers(self, start: date, end: date) -> dict[str, Any]:
        rows = self._between(start, end)
        per_member: dict[str, int] = defaultdict(int)
        for row in rows:
            per_member[row.member] += 1
        active = set(per_member)
        new = {m for m in active if start <= self.first[m] < end}
        at_start, at_end = self.active_at(start), self.active_at(end)
        churn = _rate(len(at_start - at_end), len(at_start))
        new_and_active = {m for m in at_end if start <= self.first[m] < end}
        frequency = self.frequency(end)
        lifetime = self.lifetime(churn)
        aov = (
            (sum((r.value for r in rows), Decimal(0)) / len(rows)).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
            if rows
            else None
        )
        clv = None
        if aov is not None and frequency is not None and lifetime is not None:
            clv = _money(aov * frequency * lifetime * self.gross_margin)
        return {
            "active_customers": len(active),
            "new_customers": len(new),
            "repurchase_rate": _rate(sum(1 for n in per_member.values() if n >= 2), len(active)),
            "returning_customer_rate": _rate(len(active - new), len(active)),
            "active_at_start": len(at_start),
            "active_at_end": len(at_end),
            "churn_rate": churn,
            "retention_rate": _rate(len(at_end) - len(new_and_active), len(at_start)),
            "clv": clv,
            "purchase_frequency": None if frequency is None else float(frequency),
            "expected_lifetime_years": None if lifetime is None else float(lifetime),
            "gross_margin": format(self.gross_margin, "f"),
        }

    def frequency(self, end: date) -> Decimal | None:
        """Orders per ordering member over the trailing 365 days."""
        rows = self._between(end - timedelta(days=YEAR_DAYS), end)
        members = {r.member for r in rows}
        return _ratio(Decimal(len(rows)) / Decimal(len(members))) if members else None

    @staticmethod
    def lifetime(churn: float | None) -> Decimal | None:
        """1 / the month's churn compounded over 12 months."""
        if churn is None:
            return None
        annual = _ratio(Decimal(1) - (Decimal(1) - Decimal(str(churn))) ** 12)
        return _ratio(Decimal(1) / annual) if annual else None

    def members(self, start: date, end: date) -> dict[str, Any]:
        """Registered at the first order."""
        return {
            "members_total": sum(1 for d in self.first.values() if d < end),
            "registrations": sum(1 for d in self.first.values() if start <= d < end),
        }

    def figures(self, start: date) -> dict[str, Any]:
        end = _month_after(start)
        voice = {"nps": None, "csat": None, "nps_responses": 0, "csat_responses": 0}
        orders = len(self._between(start, end))
        service = {**NO_SERVICE, "complaint_rate": _rate(0, orders)}
        return {
            **self.sales(start, end),
            **self.customers(start, end),
            **voice,
            **service,
            **NO_CARE,
            **NO_TIER_CHANGES,
            **self.members(start, end),
        }

    def cohorts(self, start: date) -> list[dict[str, Any]]:
        out = []
        cohort = start
        for _ in range(COHORT_MONTHS - 1):
            cohort = _month_before(cohort)
        while cohort <= start:
            members = [m for m, d in self.first.items() if d.replace(day=1) == cohort]
            retention, month = [], _month_after(cohort)
            while month <= start:
                key = _month_key(month)
                kept = sum(1 for m in members if any(_month_key(d) == key for d in self.days[m]))
                retention.append(_rate(kept, len(members)))
                month = _month_after(month)
            out.append({"cohort": _month_key(cohort), "size": len(members), "retention": retention})
            cohort = _month_after(cohort)
        return out

    def series(self, start: date) -> list[dict[str, Any]]:
        out, day = [], start
        while day < _month_after(start):
            rows = self._between(day, day + timedelta(days=1))
            gross = sum((r.value for r in rows), Decimal(0))
            out.append(
                {
                    "day": day.isoformat(),
                    "orders": len(rows),
                    "gross_revenue": _money(gross),
                    "active_customers": len({r.member for r in rows}),
                }
            )
            day += timedelta(days=1)
        return out

    def report(self, start: date) -> dict[str, Any]:
        return {
            "figures": self.figures(start),
            "previous": self.figures(_month_before(start)),
            "cohorts": self.cohorts(start),
            "series": self.series(start),
        }


def direct(rows: list[Row]) -> dict[str, dict[str, Any]]:
    from loyalty.program import get_program

    dataset = Dataset(rows, get_program().reports.gross_margin)
    return {_month_key(m): dataset.report(m) for m in _months(FIRST_MONTH, LAST_MONTH)}


# Comparison -------------------------------------------------------------------------------------


def _flatten(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key in sorted(value):
            yield from _flatten(f"{prefix}.{key}" if prefix else key, value[key])
    elif isinstance(value, list):
        yield f"{prefix}#len", len(value)
        for i, item in enumerate(value):
            yield from _flatten(f"{prefix}[{i}]", item)
    else:
        yield prefix, value


def _points_figure(key: str) -> bool:
    return key.split(".", 1)[-1].split(".")[0] in POINTS_FIGURES


def compare(
    stored: dict[str, Any], expected: dict[str, Any], not_compared: dict[str, Any] | None = None
) -> tuple[int, list[dict[str, Any]]]:
    """(values compared, mismatches): every value the direct computation gives, against
    the stored report's; a figure the report has and the computation lacks is one too,
    but for the points figures, collected in ``not_compared`` (figure -> values by month)."""
    compared, mismatches = 0, []
    for month, report in expected.items():
        got = stored.get(month, {})
        for section in ("figures", "previous", "cohorts", "series"):
            ours = dict(_flatten(section, report[section]))
            theirs = dict(_flatten(section, got.get(section)))
            for key in sorted(set(theirs) - set(ours)):
                if _points_figure(key):
                    if not_compared is not None and section == "figures":
                        not_compared.setdefault(key.split(".", 1)[1], {})[month] = theirs[key]
                else:
                    ours[key] = "<not computed>"
            for key in sorted(ours):
                compared += 1
                if ours[key] != theirs.get(key, "<missing>"):
                    mismatches.append(
                        {
                            "month": month,
                            "figure": key,
                            "report": theirs.get(key, "<missing>"),
                            "direct": ours[key],
                        }
                    )
    return compared, mismatches


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cdnow", description=__doc__)
    parser.add_argument("--customers", type=int, help="replay the first N customers only")
    parser.add_argument("--no-download", action="store_true", help="use the cached wheel only")
    parser.add_argument("--json-out", type=Path, help="also write the JSON document to this file")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        rows = subset(parse(dataset_text(download=not args.no_download)), args.customers)
    except DatasetMissing as err:
        print(f"CDNOW dataset unavailable: {err}", file=sys.stderr)
        return 2
    print(
        f"{len(rows):,} orders of {len({r.customer for r in rows}):,} customers...",
        file=sys.stderr,
        flush=True,
    )
    replayed = replay(rows)
    stored = replayed.pop("reports")
    with fresh_account():
        expected = direct(rows)
    not_compared: dict[str, Any] = {}
    compared, mismatches = compare(stored, expected, not_compared)
    document = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "dataset": f"lifetimes {VERSION} {MEMBER}",
        "customers": len({r.customer for r in rows}),
        "orders": len(rows),
        **replayed,
        "months": len(expected),
        "values_compared": compared,
        "mismatches": mismatches,
        "not_compared": not_compared,
        "headline": {
            m: {k: r["figures"][k] for k in ("orders", "gross_revenue", "active_customers", "churn_rate")}
            for m, r in expected.items()
        },
        "wall_s": round(time.perf_counter() - started, 1),
    }
    text = json.dumps(document, indent=2, default=str)
    if args.json_out:
        args.json_out.write_text(text)
    print(text)
    for m in mismatches:
        print(
            f"MISMATCH {m['month']} {m['figure']}: report {m['report']!r}, direct {m['direct']!r}",
            file=sys.stderr,
        )
    ok = not mismatches and replayed["reports_built"] == len(expected) and not replayed["job"]["failed"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
