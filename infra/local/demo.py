"""`make demo`: a scripted storefront scenario against a fresh local stack.

Several hundred members sign up (with birthdays and consent) and order over six
simulated weeks from the web shop and the store POS; a few regulars shop about
every other day with bigger baskets. Members spend points on vouchers or pay
with points at checkout (held, then confirmed or cancelled), one order is
refunded in full and one in part, a batch is resent (idempotency). The service
desk (infra/local/demo_tickets.py) works tickets of every priority through the
tickets API on the second afternoon: one urgent complaint escalates level by level
(warning, breach, managers) while the clock moves a few minutes past each level, a
resolved ticket is reopened by the customer, one gets a goodwill credit, and the
resolved tickets' CSAT surveys are answered; more tickets follow every few days. The
clock moves a day at a time so the schedules fire: birthday greetings, ticket
escalations, the points sweep and the managers' daily, weekly and monthly KPI reports
(in outbox/; the summary prints the last monthly report's headline figures).
Then the clock moves on a year: the first weeks' points expire, announced a
month before, and tier anniversaries move members who no longer qualify down.
The default care rules (seeded on the tenant's first event) run all along: a staff
registry is saved through the admin API (two reps, one retired rep and the care desk,
the win-back rule's fallback), most members have a rep as owner, shoppers leave carts
(some order within four hours, which cancels the reminder), birthdays fall in the
weeks, and a year on every buyer is due a win-back call. A last evening leaves a few
carts late, so their reminders wait for the end of the quiet hours.
The summary reads the points story back from the API (ledgers, timelines,
balances), the care story (each rule's activity, the open care tasks) and the
desk's (every ticket, the breaching ticket's escalations, reopens, CSAT), and the
run fails unless it shows earning, redeeming, a clawback, an expiry, a tier change,
a care email, a care task, a care skip, tickets of every priority, the escalation
levels in order, a reopen and CSAT answers."""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import urllib.parse
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from infra.definitions import program_config_json
from infra.local.client import Client
from infra.local.demo_tickets import Desk, desk_story, missing_from_desk
from infra.local.stack import DEMO_ADMIN_KEY, DEMO_API_KEY, LocalStack

START = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)  # a Monday, 13:00 in Shanghai
CATEGORIES = ("shoes", "outerwear", "knitwear", "accessories", "denim")
# Each schedule runs at most once per clock step (a simulated day, longer in the
# year after), catching up on everything due since its last run
# (infra/local/scheduler.py). The stack's default of 24 runs per step costs
# minutes here, mostly in the points sweep and member refresh.
MAX_RUNS_PER_ADVANCE = 1
ORDER_CHANCE = 0.035  # a member orders on a given day: about once in four weeks
REGULAR_EVERY = 25  # every 25th member is a regular: about every other day, bigger baskets
REGULAR_ORDER_CHANCE = 0.5
# The KPI reports' recipients: the store manager (every report, in Chinese) and the
# regional manager (the monthly report, in English).
MANAGERS = (
    ("store-manager", "zh-CN", ("daily", "weekly", "monthly")),
    ("regional-manager", "en", ("monthly",)),
)
DESK_DAY = 1  # a Tuesday: the desk's afternoon of tickets (then two tickets every third day)
STAFF = (  # (staff id, active): the reps members are owned by, and the care desk
    ("rep-wang", True),
    ("rep-li", True),
    ("rep-zhao", False),  # retired: the tasks of their members go to the fallback
    ("care-desk", True),  # the win-back rule's fallback
)
OWNED_CHANCE = 0.7  # members with a rep as owner
CART_CHANCE = 0.01  # a member leaves a cart on a given day
CART_ORDER_CHANCE = 0.5  # ...and orders it within four hours
REWARDS = (
    (100, "free shipping"),
    (250, "2.50 CNY voucher"),
    (500, "5 CNY voucher"),
    (1000, "10 CNY voucher"),
    (2500, "25 CNY voucher"),
)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _points_rules() -> dict[str, Any]:
    rules: dict[str, Any] = json.loads(program_config_json())["points"]
    return rules


class Scenario:
    def __init__(self, client: Client, members: int, days: int, seed: int) -> None:
        self.client = client
        self.random = random.Random(seed)
        self.members = [f"m{n:04d}" for n in range(1, members + 1)]
        self.regulars = set(self.members[::REGULAR_EVERY])
        self.joined: list[str] = []
        self.days = days
        self.now = START
        self.statuses: Counter[str] = Counter()
        self.orders: list[dict[str, Any]] = []
        self.schedule_runs: Counter[str] = Counter()
        self.carts = 0
        self.desk = Desk(self, seed)

    def send(self, events: list[dict[str, Any]]) -> None:
        for start in range(0, len(events), 100):
            body = self.client.expect(200, "POST", "/v1/events", {"events": events[start : start + 100]})
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
                "time_zone": "Asia/Shanghai",
                "locale": "zh-CN" if self.random.random() < 0.8 else "en",
                "consent": {
                    "email": {"granted": self.random.random() < 0.9, "at": _stamp(at), "source": "web"}
                },
                **self.owner(),
            },
        }

    def owner(self) -> dict[str, str]:
        if self.random.random() >= OWNED_CHANCE:
            return {}
        reps = [staff_id for staff_id, _ in STAFF if staff_id.startswith("rep-")]
        return {"owner": self.random.choice(reps)}

    def register_staff(self) -> None:
        """The tenant's staff registry, saved by a manager through the admin API."""
        for staff_id, active in STAFF:
            person: dict[str, Any] = {
                "name": staff_id.replace("-", " ").title(),
                "email": f"{staff_id}@demo.example",
                "role": "rep" if staff_id.startswith("rep-") else "agent",
                "queues": [],
                "time_zone": "Asia/Shanghai",
                "locale": "zh-CN",
                "active": active,
            }
            self.client.expect(201, "PUT", f"/v1/admin/staff/{staff_id}", person, key=DEMO_ADMIN_KEY)
        for staff_id, locale, kinds in MANAGERS:  # the KPI reports' recipients
            manager = {
                "name": staff_id.replace("-", " ").title(),
                "email": f"{staff_id}@demo.example",
                "role": "manager",
                "time_zone": "Asia/Shanghai",
                "locale": locale,
                "reports": list(kinds),
            }
            self.client.expect(201, "PUT", f"/v1/admin/staff/{staff_id}", manager, key=DEMO_ADMIN_KEY)

    def cart(self, member: str, at: datetime, number: int) -> dict[str, Any]:
        self.carts += 1
        price = f"{self.random.randint(19, 199)}.00"
        return {
            "event_id": f"cart-{number:05d}",
            "type": "cart.updated",
            "occurred_at": _stamp(at),
            "member_id": member,
            "channel": "web",
            "data": {
                "cart_id": f"c-{number:05d}",
                "currency": "CNY",
                "items": [
                    {"sku": f"sku-{self.random.randint(100, 999)}", "quantity": 1, "unit_price": price}
                ],
            },
        }

    def carts_of_the_day(
        self, joined: list[str], night: datetime, number: int
    ) -> tuple[list[dict[str, Any]], int]:
        """Some shoppers leave a cart in the evening; about half order it within four
        hours (which cancels the reminder), the others get reminded."""
        events: list[dict[str, Any]] = []
        for i, member in enumerate(m for m in joined if self.random.random() < CART_CHANCE):
            left = night - timedelta(hours=6, minutes=i)
            events.append(self.cart(member, left, self.carts + 1))
            if self.random.random() < CART_ORDER_CHANCE:
                number += 1
                events.append(self.order(member, left + timedelta(hours=1), number))
        return events, number

    def order(self, member: str, at: datetime, number: int) -> dict[str, Any]:
        regular = member in self.regulars
        items: list[dict[str, Any]] = []
        total = Decimal("0")
        for line in range(self.random.randint(2, 4) if regular else self.random.randint(1, 3)):
            low, high = (29, 199) if regular else (9, 149)
            price = f"{self.random.randint(low, high)}.{self.random.choice(['00', '50', '90', '95'])}"
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
                "currency": "CNY",
                "total": str(total),
                "items": items,
            },
        }
        self.orders.append(event)
        return event

    def refund(self, number: int, order: dict[str, Any], amount: str, at: datetime) -> dict[str, Any]:
        return {
            "event_id": f"refund-{number}",
            "type": "order.refunded",
            "occurred_at": _stamp(at),
            "member_id": order["member_id"],
            "channel": "service",
            "data": {
                "order_id": order["data"]["order_id"],
                "refund_id": f"rf-{number}",
                "amount": amount,
                "currency": "CNY",
            },
        }

    def advance(self, period: str | None = None, *, to: datetime | None = None) -> None:
        """Move the clock by an ISO-8601 period or to a moment; the schedules due run."""
        request = {"advance": period} if to is None else {"to": _stamp(to)}
        body = self.client.expect(200, "POST", "/_local/clock", request, key=None)
        failed = [r for r in body["ran"] if not r["ok"]]
        if failed:
            raise RuntimeError(f"scheduled runs failed: {failed}")
        self.schedule_runs.update(r["schedule"] for r in body["ran"])
        self.now = datetime.fromisoformat(body["now"].replace("Z", "+00:00"))

    def play(self) -> None:
        number = 0
        joined = self.joined
        waiting = list(self.members)
        self.register_staff()
        self.desk.register_team()
        for day in range(self.days):
            morning = START + timedelta(days=day)
            night = morning - timedelta(hours=5)  # the storefronts upload the night's activity
            known = list(joined)  # members delivered by the last clock step
            if joined:
                self.use_points(joined, day)
            events = []
            if waiting:  # sign-ups over the first week
                todays = waiting[: max(1, len(self.members) // 7)]
                waiting = waiting[len(todays) :]
                events += [self.registration(m, night + timedelta(minutes=i)) for i, m in enumerate(todays)]
                joined += todays
            buyers = [
                m
                for m in joined
                if self.random.random() < (REGULAR_ORDER_CHANCE if m in self.regulars else ORDER_CHANCE)
            ]
            for i, member in enumerate(buyers):
                number += 1
                events.append(self.order(member, night + timedelta(minutes=30 + i % 240), number))
            carts, number = self.carts_of_the_day(joined, night, number)
            self.send(events + carts)
            if day == 3:
                self.send(events[:50])  # a storefront retries an upload: duplicates, nothing twice
            if day == min(10, self.days // 2) and self.orders:
                refunded = self.orders[min(5, len(self.orders) - 1)]  # still pending: taken from pending
                self.send([self.refund(1, refunded, refunded["data"]["total"], night)])
            if day == 24:
                self.return_one_item(night)
            if day == DESK_DAY:
                self.desk.afternoon(known)  # moves the clock on by minutes, within the afternoon
            elif day % 3 == 1:
                self.desk.background(known, day % 2 == 0, sorted(self.regulars & set(known)))
            # the schedules run, including the report on the day before
            self.advance(to=START + timedelta(days=day + 1))
        self.desk.answer_waiting()  # the weeks' last tickets, when the desk is open

    def return_one_item(self, night: datetime) -> None:
        """A customer returns one item of an order whose points were released:
        the clawback takes the item's share from the available points."""
        released_by = _stamp(night - timedelta(days=15))
        order = next(
            (o for o in self.orders if o["occurred_at"] < released_by and len(o["data"]["items"]) > 1), None
        )
        if order is not None:
            item = order["data"]["items"][0]
            amount = str(Decimal(item["unit_price"]) * item["quantity"])
            self.send([self.refund(2, order, amount, night)])

    def use_points(self, joined: list[str], day: int) -> None:
        """A few members a day spend points: a voucher in the app (redeemed at once)
        or paying with points at the web checkout (held until the payment settles:
        confirmed, cancelled when it fails, or left to lapse when the shopper leaves)."""
        for member in self.random.sample(joined, min(len(joined), max(2, len(joined) // 100))):
            view = self.client.expect(200, "GET", f"/v1/members/{member}")
            affordable = [reward for reward in REWARDS if reward[0] <= view["points"]["available"]]
            if not affordable:
                continue
            points, reward = self.random.choice(affordable[-2:])
            path = f"/v1/members/{member}/redemptions"
            request = {"redemption_id": f"rd-{day:03d}-{member}", "points": points, "reward": reward}
            if self.random.random() < 0.6:
                _check_status(self.client.expect(201, "POST", path, request), "redeemed")
                continue
            _check_status(self.client.expect(201, "POST", path, {**request, "hold": True}), "held")
            outcome = self.random.random()
            if outcome < 0.8:
                _check_status(
                    self.client.expect(200, "POST", f"{path}/{request['redemption_id']}/confirm"), "redeemed"
                )
            elif outcome < 0.95:
                _check_status(
                    self.client.expect(200, "POST", f"{path}/{request['redemption_id']}/cancel"), "cancelled"
                )
            # else: the shopper left; the hold lapses after hold_minutes

    def a_year_later(self) -> None:
        """Nobody orders again: the last orders' return window ends, a month
        before the first lots expire the members hear of it, then the first
        weeks' lots expire and the tiers reached in those weeks (when their
        points were released, a return window after the orders) come up for
        their anniversary."""
        rules = _points_rules()
        self.advance(f"P{rules['pending_days']}D")  # the last pending points are released
        notice = timedelta(days=max(1, int(rules["expiring_notice_days"])))
        anniversary = START.replace(year=START.year + 1)  # the first lots expire
        end = anniversary + timedelta(days=int(rules["pending_days"]) + 1 + self.days * 5 // 6)
        # The sweep runs once per clock step: steps of the notice period, the
        # first inside the month before the first lots expire, announce every
        # lot before it expires.
        steps = (end - anniversary) // notice + 1
        self.advance(to=max(self.now, end - steps * notice))
        while self.now < end:
            self.advance(to=min(end, self.now + notice))

    def a_late_evening(self) -> None:
        """A few members leave carts in the evening, member-local: their reminders come
        due at night, wait for the end of the quiet hours and go out next morning."""
        zone = ZoneInfo("Asia/Shanghai")
        local = self.now.astimezone(zone)
        evening = datetime.combine(local.date(), datetime.min.time(), tzinfo=zone) + timedelta(hours=18)
        if evening <= self.now:
            evening += timedelta(days=1)
        members = self.random.sample(self.joined, min(len(self.joined), 5))
        self.advance(to=evening + timedelta(minutes=len(members)))  # events are not accepted ahead of time
        self.send(
            [self.cart(m, evening + timedelta(minutes=i), self.carts + 1) for i, m in enumerate(members)]
        )
        self.advance(to=evening + timedelta(hours=4, minutes=30))  # 22:30: inside the quiet hours
        self.advance(to=evening + timedelta(hours=15, minutes=30))  # 09:30 next morning


def _check_status(redemption: dict[str, Any], status: str) -> None:
    if redemption["status"] != status:
        raise RuntimeError(f"redemption {redemption['redemption_id']}: {redemption['status']}, not {status}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local.demo", description=__doc__)
    parser.add_argument("--members", type=int, default=300)
    parser.add_argument("--days", type=int, default=42)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--outbox", default="outbox")
    args = parser.parse_args(argv)
    started = time.monotonic()
    stack = LocalStack(
        port=0, outbox_dir=Path(args.outbox), start=START, max_runs_per_advance=MAX_RUNS_PER_ADVANCE
    )
    url = stack.start()
    print(f"local stack at {url}; playing {args.members} members over {args.days} days...", flush=True)
    scenario = Scenario(Client(url, key=DEMO_API_KEY), args.members, args.days, args.seed)
    try:
        scenario.play()
        print(
            f"{_stamp(scenario.now)}: moving the clock on a year (points expire, tiers are reviewed)...",
            flush=True,
        )
        scenario.a_year_later()
        print(
            f"{_stamp(scenario.now)}: a late evening of carts (care reminders wait for the morning)...",
            flush=True,
        )
        scenario.a_late_evening()
        print(
            f"{_stamp(scenario.now)}: reading the points, care and desk story back from the API...",
            flush=True,
        )
        summary = summarize(scenario, stack, Path(args.outbox))
    finally:
        stack.stop()
    summary["wall_seconds"] = round(time.monotonic() - started, 1)
    print(render(summary))
    problems = []
    if summary["dead_letters"]:
        problems.append(f"{summary['dead_letters']} dead letters")
    missing = missing_from_story(summary)
    if missing:
        problems.append("the points story is incomplete: nothing shown for " + ", ".join(missing))
    missing = missing_from_desk(scenario.desk, summary["desk"])
    if missing:
        problems.append("the desk's story is incomplete: nothing shown for " + ", ".join(missing))
    if summary["ledger_check"] != "ok":
        problems.append(f"ledgers and balances disagree: {summary['ledger_check']}")
    for problem in problems:
        print(f"demo failed: {problem}", file=sys.stderr)
    return 1 if problems else 0


def missing_from_story(summary: dict[str, Any]) -> list[str]:
    shown = {
        "earning": summary["points_earned"] > 0,
        "redeeming": summary["points_redeemed"] > 0,
        "clawback": summary["points_clawed_back"] > 0,
        "expiry": summary["points_expired"] > 0,
        "tier change": sum(summary["tier_changes"].values()) > 0,
        "care email": sum(summary["care"]["care_sent"].values()) > 0,
        "care task": sum(summary["care"]["care_tasks"].values()) > 0,
        "care skip": sum(summary["care"]["care_skipped"].values()) > 0,
        **{
            f"{kind} report": summary["reports"]["emailed"].get(kind, 0) > 0
            for kind in ("daily", "weekly", "monthly")
        },
    }
    return [part for part, ok in shown.items() if not ok]


def points_story(client: Client, members: list[str]) -> dict[str, Any]:
    """Every member's view and ledger, and the timeline of each member who could
    have changed tier, as the API returns them."""
    rules = _points_rules()
    tiers_config = rules["tiers"]
    rank = {tier["name"]: i for i, tier in enumerate(tiers_config)}
    # Qualifying points never exceed the points earned in a lifetime, so a member
    # who earned fewer than the first tier's threshold never changed tier.
    first_threshold = min((tier["threshold"] for tier in tiers_config if tier["threshold"] > 0), default=0)
    net: Counter[str] = Counter()  # signed points moved, by ledger entry type
    redemptions: Counter[str] = Counter(
        {"vouchers": 0, "held at checkout": 0, "confirmed": 0, "cancelled or lapsed": 0}
    )
    tiers: Counter[str] = Counter({name: 0 for name in rank})
    moves: Counter[str] = Counter({"up": 0, "down": 0})
    steps: Counter[tuple[str, str]] = Counter()  # (from, to)
    balances: Counter[str] = Counter()
    expiring: Counter[str] = Counter({"points": 0, "members": 0})
    for member in members:
        view = client.expect(200, "GET", f"/v1/members/{member}")
        tiers[view["tier"]] += 1
        points = view["points"]
        balances.update({bucket: points[bucket] for bucket in ("available", "pending", "held")})
        if points["expiring"]:
            expiring.update({"points": sum(lot["points"] for lot in points["expiring"]), "members": 1})
        for entry in client.pages(f"/v1/members/{member}/ledger", "entries"):
            net[entry["type"]] += entry["available"] + entry["pending"] + entry["held"]
            if entry["type"] == "redeem":
                redemptions["confirmed" if entry["held"] else "vouchers"] += 1
            elif entry["type"] == "hold":
                redemptions["held at checkout"] += 1
            elif entry["type"] == "release-hold":
                redemptions["cancelled or lapsed"] += 1
        if points["lifetime_earned"] < first_threshold:
            continue
        for event in client.pages(f"/v1/members/{member}/events", "events"):
            if event["type"] == "points.tier_changed":
                step = (event["data"]["from"], event["data"]["to"])
                steps[step] += 1
                moves["up" if rank[step[1]] > rank[step[0]] else "down"] += 1
    held_total = sum(balances.values())
    return {
        "points_earned": net["earn"],
        "points_redeemed": -net["redeem"],
        "points_clawed_back": -net["clawback"],
        "points_expired": -net["expire"],
        "points_adjusted": net["adjust"],
        "redemptions": dict(redemptions),
        "tier_changes": dict(moves),
        "tier_moves": {  # ups, then downs, from the lowest tier
            f"{old}->{new}": steps[(old, new)]
            for old, new in sorted(steps, key=lambda step: (rank[step[1]] < rank[step[0]], rank[step[0]]))
        },
        "tiers": dict(tiers),
        "expiring_soon": f"{expiring['points']} points of {expiring['members']} members, "
        f"within {rules['expiring_notice_days']} days",
        "points_balances": dict(balances),
        "ledger_check": "ok"
        if sum(net.values()) == held_total
        else f"entries sum to {sum(net.values())}, balances to {held_total}",
    }


def care_story(client: Client, first: str, last: str) -> dict[str, Any]:
    """Each care rule's activity from ``first`` through ``last`` (program-local days) and
    the open care tasks, as the API returns them: sends by rule, tasks by assignee, skips
    and deferrals by reason."""
    rules = client.expect(200, "GET", "/v1/admin/care-rules", key=DEMO_ADMIN_KEY)["rules"]
    sent: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    deferred: Counter[str] = Counter()
    for rule in rules:
        rule_id = rule["rule_id"]
        for start, end in _day_ranges(first, last):
            activity = client.expect(
                200,
                "GET",
                f"/v1/admin/care-rules/{rule_id}/activity?from={start}&to={end}",
                key=DEMO_ADMIN_KEY,
            )
            sent[rule_id] += activity["outcomes"]["sent"]
            for reason, count in activity["reasons"].items():
                if count:
                    (deferred if reason == "quiet_hours" else skipped)[reason] += count
    assignees: Counter[str] = Counter()
    assigned_by: Counter[str] = Counter()
    for task in client.pages("/v1/care-tasks", "tasks"):
        assignees[task["assignee"]] += 1
        assigned_by[task.get("assigned_by") or "?"] += 1
    return {
        "care_sent": {rule: n for rule, n in sorted(sent.items()) if n},
        "care_tasks": dict(sorted(assignees.items())),
        "care_tasks_by": dict(sorted(assigned_by.items())),
        "care_skipped": dict(skipped.most_common()),
        "care_deferred": dict(deferred.most_common()),
    }


def _day_ranges(first: str, last: str, days: int = 400) -> list[tuple[str, str]]:
    """``first`` through ``last`` in ranges the activity route takes (at most 400 days)."""
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    ranges = []
    while start <= end:
        stop = min(end, start + timedelta(days=days))
        ranges.append((start.isoformat(), stop.isoformat()))
        start = stop + timedelta(days=1)
    return ranges


def summarize(scenario: Scenario, stack: LocalStack, outbox: Path) -> dict[str, Any]:
    story = points_story(scenario.client, scenario.joined)
    zone = ZoneInfo("Asia/Shanghai")
    care = care_story(
        scenario.client,
        START.astimezone(zone).date().isoformat(),
        scenario.now.astimezone(zone).date().isoformat(),
    )
    subjects: Counter[str] = Counter()
    reports: Counter[str] = Counter()
    for path in sorted(outbox.glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        rule, report = message["X-Loyalty-Rule"], message["X-Loyalty-Report"]
        kind = (
            f"report: {report}"
            if report
            else "escalation"
            if rule == "ticket-escalation"
            else f"care: {rule}"
            if rule
            else "other"
        )
        subjects[kind] += 1
        if report:
            reports[str(report)] += 1
    revenue = sum((Decimal(o["data"]["total"]) for o in scenario.orders), Decimal("0"))
    stack_status = stack.status()
    return {
        "members": len(scenario.joined),
        "events": dict(scenario.statuses),
        "orders": len(scenario.orders),
        "revenue": f"{revenue} CNY",
        **story,
        "schedule_runs": dict(scenario.schedule_runs),
        "emails": dict(subjects),
        "reports": monthly_headline(scenario.client, dict(reports)),
        "simulated_until": stack_status["now"],
        "dead_letters": sum(stack_status["dead_letters"].values()),
        "care": {"carts_left": scenario.carts, **care},
        "desk": desk_story(scenario.desk, outbox),
    }


HEADLINE = (
    "orders",
    "net_revenue",
    "active_customers",
    "repurchase_rate",
    "churn_rate",
    "retention_rate",
    "nps",
    "csat",
    "sla_first_response",
    "points_liability",
)


def monthly_headline(client: Client, emailed: dict[str, int]) -> dict[str, Any]:
    """The reports emailed, by kind, and the headline figures of the last monthly
    report, read back through the reports API."""
    listed: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = "/v1/reports?period=monthly&limit=100" + (
            f"&cursor={urllib.parse.quote(cursor)}" if cursor else ""
        )
        page = client.expect(200, "GET", query, key=DEMO_ADMIN_KEY)
        listed += page["reports"]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    out: dict[str, Any] = {"emailed": emailed, "monthly_reports": len(listed)}
    if listed:
        last = client.expect(200, "GET", f"/v1/reports/{listed[-1]['report_id']}", key=DEMO_ADMIN_KEY)
        out["last_monthly"] = f"{last['report_id']} ({last['start']} to {last['end']}, end exclusive)"
        out["headline"] = {name: last["figures"].get(name) for name in HEADLINE}
        out["previous"] = {name: last["previous"].get(name) for name in HEADLINE}
    return out


def render(summary: dict[str, Any]) -> str:
    lines = ["", "Demo finished:"]
    sections = {
        "care": "Care (default rules; read back through the admin API and /v1/care-tasks):",
        "desk": "Service desk (read back through /v1/tickets, the member timeline and the outbox):",
        "reports": "KPI reports (outbox/, and the last monthly report through /v1/reports):",
    }
    lines += [
        f"  {key.replace('_', ' '):<18} {value}" for key, value in summary.items() if key not in sections
    ]
    for section, title in sections.items():
        if section in summary:
            lines += ["", title]
            lines += [f"  {key.replace('_', ' '):<18} {value}" for key, value in summary[section].items()]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
