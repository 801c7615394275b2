"""`make demo`: a scripted storefront scenario against a fresh local stack.

Several hundred members sign up (with birthdays and consent), order over six
simulated weeks from the web shop and the store POS, one order is refunded,
a batch is resent (idempotency), service tickets are opened and some answered.
The clock moves a day at a time so the schedules fire: birthday greetings,
ticket escalations and the manager's daily report land in outbox/."""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from infra.local.stack import DEMO_API_KEY, LocalStack

START = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)  # a Monday, 06:00 in Berlin
CATEGORIES = ("shoes", "outerwear", "knitwear", "accessories", "denim")


class Client:
    def __init__(self, url: str) -> None:
        self.url = url

    def call(
        self, method: str, path: str, body: Any = None, key: str | None = DEMO_API_KEY
    ) -> tuple[int, Any]:
        request = urllib.request.Request(  # noqa: S310 - the local stack's own loopback URL
            self.url + path, data=json.dumps(body).encode() if body is not None else None, method=method
        )
        request.add_header("content-type", "application/json")
        if key:
            request.add_header("x-api-key", key)
        try:
            with urllib.request.urlopen(request, timeout=300) as response:  # noqa: S310 - loopback only
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Scenario:
    def __init__(self, client: Client, members: int, days: int, seed: int) -> None:
        self.client = client
        self.random = random.Random(seed)
        self.members = [f"m{n:04d}" for n in range(1, members + 1)]
        self.days = days
        self.statuses: Counter[str] = Counter()
        self.orders: list[dict[str, Any]] = []
        self.tickets = 0
        self.answered = 0
        self.schedule_runs: Counter[str] = Counter()

    def send(self, events: list[dict[str, Any]]) -> None:
        for start in range(0, len(events), 100):
            status, body = self.client.call("POST", "/v1/events", {"events": events[start : start + 100]})
            if status != 200:
                raise RuntimeError(f"events rejected: {status} {body}")
            self.statuses.update(r["status"] for r in body["results"])

    def registration(self, member: str, at: datetime) -> dict[str, Any]:
        # A few birthdays fall inside the simulated weeks so greetings go out.
        if self.random.random() < 0.15:
            birthday_day = (START + timedelta(days=self.random.randrange(self.days))).date()
            birthday = f"{self.random.randrange(1950, 2006)}-{birthday_day.month:02d}-{birthday_day.day:02d}"
        else:
            birthday = (
                f"{self.random.randrange(1950, 2006)}-{self.random.randrange(1, 13):02d}-"
                f"{self.random.randrange(1, 29):02d}"
            )
        if self.random.random() < 0.1:
            birthday = "--" + birthday[5:]  # no year given
        return {
            "event_id": f"reg-{member}",
            "type": "member.registered",
            "occurred_at": _stamp(at),
            "member_id": member,
            "channel": self.random.choice(["web", "app", "store"]),
            "data": {
                "email": f"{member}@shoppers.example",
                "name": f"Member {member[1:]}",
                "birthday": birthday,
                "time_zone": "Europe/Berlin",
                "locale": "de-DE",
                "consent": {
                    "email": {"granted": self.random.random() < 0.9, "at": _stamp(at), "source": "web"}
                },
            },
        }

    def order(self, member: str, at: datetime, number: int) -> dict[str, Any]:
        items: list[dict[str, Any]] = []
        total = Decimal("0")
        for line in range(self.random.randint(1, 3)):
            price = f"{self.random.randint(9, 149)}.{self.random.choice(['00', '50', '90', '95'])}"
            quantity = self.random.randint(1, 2)
            total += Decimal(price) * quantity
            items.append(
                {
                    "sku": f"sku-{self.random.randint(100, 999)}-{line}",
                    "category": self.random.choice(CATEGORIES),
                    "quantity": quantity,
                    "unit_price": price,
                }
            )
        event = {
            "event_id": f"ord-{number:05d}",
            "type": "order.placed",
            "occurred_at": _stamp(at),
            "member_id": member,
            "channel": self.random.choice(["web", "web", "app", "store"]),
            "data": {
                "order_id": f"o-{number:05d}",
                "currency": "EUR",
                "total": str(total),
                "items": items,
            },
        }
        self.orders.append(event)
        return event

    def advance(self, period: str) -> None:
        status, body = self.client.call("POST", "/_local/clock", {"advance": period}, key=None)
        if status != 200:
            raise RuntimeError(f"clock: {status} {body}")
        failed = [r for r in body["ran"] if not r["ok"]]
        if failed:
            raise RuntimeError(f"scheduled runs failed: {failed}")
        self.schedule_runs.update(r["schedule"] for r in body["ran"])

    def play(self) -> None:
        number = 0
        joined: list[str] = []
        waiting = list(self.members)
        for day in range(self.days):
            morning = START + timedelta(days=day)
            night = morning - timedelta(hours=5)  # the storefronts upload the night's activity
            events = []
            if waiting:  # sign-ups over the first week
                todays = waiting[: max(1, len(self.members) // 7)]
                waiting = waiting[len(todays) :]
                events += [self.registration(m, night + timedelta(minutes=i)) for i, m in enumerate(todays)]
                joined += todays
            buyers = [m for m in joined if self.random.random() < 0.22]
            for i, member in enumerate(buyers):
                number += 1
                events.append(self.order(member, night + timedelta(minutes=30 + i % 240), number))
            self.send(events)
            if day == 3:
                self.send(events[:50])  # a storefront retries an upload: duplicates, nothing twice
            if day == 10:
                refunded = self.orders[5]
                self.send(
                    [
                        {
                            "event_id": "refund-1",
                            "type": "order.refunded",
                            "occurred_at": _stamp(night),
                            "member_id": refunded["member_id"],
                            "channel": "service",
                            "data": {
                                "order_id": refunded["data"]["order_id"],
                                "refund_id": "rf-1",
                                "amount": refunded["data"]["total"],
                                "currency": "EUR",
                            },
                        }
                    ]
                )
            if day % 3 == 1:
                self.open_tickets(joined, answer=day % 2 == 0)
            self.advance("P1D")  # the schedules run, including the report on the day before

    def open_tickets(self, joined: list[str], answer: bool) -> None:
        for priority in ("high", "normal"):
            status, ticket = self.client.call(
                "POST",
                "/v1/tickets",
                {
                    "subject": "Question about my order",
                    "priority": priority,
                    "member_id": self.random.choice(joined),
                },
            )
            if status != 201:
                raise RuntimeError(f"ticket: {status} {ticket}")
            self.tickets += 1
            if answer:
                status, _ = self.client.call(
                    "POST",
                    f"/v1/tickets/{ticket['ticket_id']}/replies",
                    {"author": "agent-1", "body": "Checking now."},
                )
                self.answered += status == 201


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local.demo", description=__doc__)
    parser.add_argument("--members", type=int, default=300)
    parser.add_argument("--days", type=int, default=42)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--outbox", default="outbox")
    args = parser.parse_args(argv)
    started = time.monotonic()
    stack = LocalStack(port=0, outbox_dir=Path(args.outbox), start=START)
    url = stack.start()
    print(f"local stack at {url}; playing {args.members} members over {args.days} days...", flush=True)
    scenario = Scenario(Client(url), args.members, args.days, args.seed)
    try:
        scenario.play()
        summary = summarize(scenario, stack, Path(args.outbox))
    finally:
        stack.stop()
    summary["wall_seconds"] = round(time.monotonic() - started, 1)
    print(render(summary))
    return 0 if summary["dead_letters"] == 0 else 1


def summarize(scenario: Scenario, stack: LocalStack, outbox: Path) -> dict[str, Any]:
    client = scenario.client
    points = 0
    for member in scenario.members:
        status, body = client.call("GET", f"/v1/members/{member}")
        if status == 200:
            points += body["points"]["available"]
    subjects: Counter[str] = Counter()
    reports = []
    for path in sorted(outbox.glob("*.eml")):
        subject = next(
            (line[9:] for line in path.read_text().splitlines() if line.startswith("Subject: ")), ""
        )
        kind = (
            "report"
            if subject.startswith("Daily report")
            else "birthday"
            if subject.startswith("Happy birthday")
            else "escalation"
            if subject.startswith("[Escalation]")
            else "other"
        )
        subjects[kind] += 1
        if kind == "report":
            reports.append(path)
    revenue = sum((Decimal(o["data"]["total"]) for o in scenario.orders), Decimal("0"))
    stack_status = stack.status()
    return {
        "members": len(scenario.members),
        "events": dict(scenario.statuses),
        "orders": len(scenario.orders),
        "revenue": f"{revenue} EUR",
        "points_available": points,
        "tickets": scenario.tickets,
        "tickets_answered": scenario.answered,
        "schedule_runs": dict(scenario.schedule_runs),
        "emails": dict(subjects),
        "latest_report": str(reports[-1]) if reports else None,
        "simulated_until": stack_status["now"],
        "dead_letters": sum(stack_status["dead_letters"].values()),
    }


def render(summary: dict[str, Any]) -> str:
    lines = ["", "Demo finished:"]
    lines += [f"  {key.replace('_', ' '):<18} {value}" for key, value in summary.items()]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
