"""The service desk's part of `make demo`: tickets through the tickets API, read back.

A desk team is saved on the staff registry through the admin API: two agents, a lead
and a manager on the queue `service` (the `cn-business` calendar). On a Tuesday
afternoon in Shanghai (business hours) customers open tickets of every priority and
several categories; the agents answer most at once, one customer gets a goodwill
credit, one ticket waits on the customer (`pending`), and one urgent complaint is left
unanswered. The clock then moves to just after each of its escalation instants (taken
from the product's own rule, `tickets.escalation.target_notices`, on the policy's
calendar), so the one-minute escalation schedule sends the warning, the breach and the
managers' notice in three separate runs; after each step the member's timeline is read,
so the summary shows at which step each level appeared. Meanwhile a resolved ticket
gets a customer message (a reopen) and is resolved again, and each resolution makes
the `ticket-csat` care rule email a survey, which the members answer with `survey.answered` events
(`kind: csat`) that set the tickets' CSAT. Every few days after, two more tickets are
opened (for a gold member when there is one), answered and resolved, or left a few
days and answered late (as are those opened while the desk is closed).

`desk_story` reads it all back from the API (every ticket, the breaching ticket's
`ticket.escalated` events on the member's timeline) and the outbox (the escalation
emails and the surveys); `missing_from_desk` names what the run failed to show: every
priority, the three levels in order each at its own step and once, an email per level,
a reopen, a survey and CSAT answers."""

from __future__ import annotations

import random
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from infra.definitions import service_config_json
from infra.local.client import Client
from infra.local.stack import DEMO_ADMIN_KEY
from tickets.escalation import RULE_TAG, target_notices
from tickets.service_config import ServiceConfig

SHANGHAI = ZoneInfo("Asia/Shanghai")
QUEUE = "service"
CALENDAR = "cn-business"  # the desk team's
DESK_TEAM = (  # (staff id, role, locale): the service queue's people, on cn-business
    ("agent-chen", "agent", "zh-CN"),
    ("agent-liu", "agent", "en"),
    ("lead-sun", "lead", "zh-CN"),
    ("manager-zhou", "manager", "zh-CN"),
)
AGENTS = tuple(staff_id for staff_id, role, _ in DESK_TEAM if role == "agent")
LEVELS = ("warning", "breach", "managers")
GOLD_TIERS = ("gold", "black")
# (subject, priority, category) of the background tickets, in turn
BACKGROUND = (
    ("Parcel not delivered yet", "normal", "delivery"),
    ("Return a pair of shoes", "high", "return"),
    ("Points missing after an order", "low", "billing"),
    ("The app shows an error at checkout", "urgent", "technical"),
    ("Rude staff at the store", "normal", "complaint"),
    ("Gift wrapping question", "low", "other"),
)
SUBJECT = re.compile(
    r"\[(tk_[0-9a-f]+)\].*\b(first_response|next_reply|resolution)\b.*\b(warning|breach|managers)\b"
)


class Scene(Protocol):
    """What the desk needs of the scenario: its API client, clock and event upload
    (``infra.local.demo.Scenario``)."""

    client: Client
    now: datetime

    def advance(self, period: str | None = None, *, to: datetime | None = None) -> None: ...
    def send(self, events: list[dict[str, Any]]) -> None: ...


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _local(text: str) -> str:
    return _instant(text).astimezone(SHANGHAI).strftime("%a %H:%M")


class Desk:
    """The service desk's tickets in the demo: who opened what, what was answered,
    resolved and rated."""

    def __init__(self, scene: Scene, seed: int) -> None:
        self.scene = scene
        self.client = scene.client
        self.random = random.Random(f"desk-{seed}")  # its own: the shoppers' draws stay the same
        self.config = ServiceConfig.model_validate_json(service_config_json())
        self.members: dict[str, str] = {}  # ticket id -> member id
        self.waiting: list[str] = []  # opened and not answered yet (background)
        self.surveyed: list[str] = []  # resolved, the survey not answered yet
        self.breaching: str | None = None
        # the breaching ticket's levels: (target, level) -> (reached at, first seen at a clock step)
        self.seen: dict[tuple[str, str], tuple[str, datetime]] = {}
        self.goodwill = 0
        self.turn = 0

    # -- staff and tickets ---------------------------------------------------------
    def register_team(self) -> None:
        """The desk team, saved by a manager through the admin API."""
        for staff_id, role, locale in DESK_TEAM:
            person = {
                "name": staff_id.replace("-", " ").title(),
                "email": f"{staff_id}@demo.example",
                "role": role,
                "queues": [] if role == "manager" else [QUEUE],
                "time_zone": "Asia/Shanghai",
                "locale": locale,
                "active": True,
                "calendar": CALENDAR,
                "max_open": 20,
            }
            self.client.expect(201, "PUT", f"/v1/admin/staff/{staff_id}", person, key=DEMO_ADMIN_KEY)

    def open(self, member: str, subject: str, priority: str, category: str) -> dict[str, Any]:
        body = {
            "subject": subject,
            "description": f"{subject}. Please help.",
            "member_id": member,
            "priority": priority,
            "category": category,
            "queue": QUEUE,
        }
        ticket: dict[str, Any] = self.client.expect(201, "POST", "/v1/tickets", body)
        self.members[ticket["ticket_id"]] = member
        return ticket

    def message(self, ticket: dict[str, Any], kind: str, body: str) -> dict[str, Any]:
        author = self.members[ticket["ticket_id"]] if kind == "customer" else ticket["assignee"] or AGENTS[0]
        request = {"kind": kind, "author": author, "body": body}
        answer: dict[str, Any] = self.client.expect(
            201, "POST", f"/v1/tickets/{ticket['ticket_id']}/messages", request
        )
        return answer

    def set_status(self, ticket: dict[str, Any], status: str) -> dict[str, Any]:
        by = ticket["assignee"] or AGENTS[0]
        answer: dict[str, Any] = self.client.expect(
            200, "PATCH", f"/v1/tickets/{ticket['ticket_id']}", {"status": status, "by": by}
        )
        if status == "resolved":
            self.surveyed.append(ticket["ticket_id"])
        return answer

    def goodwill_credit(self, ticket: dict[str, Any], points: int = 150) -> None:
        member = self.members[ticket["ticket_id"]]
        self.client.expect(
            201,
            "POST",
            f"/v1/members/{member}/adjustments",
            {
                "adjustment_id": f"goodwill-{ticket['ticket_id']}",
                "points": points,
                "reason": f"goodwill for the trouble (ticket {ticket['ticket_id']})",
            },
            key=DEMO_ADMIN_KEY,
        )
        self.goodwill += 1

    def answer_surveys(self, scores: dict[str, int] | None = None) -> None:
        """The members answer the surveys of the tickets in ``scores`` with its scores, or
        of every ticket resolved since the last answers (a random 3 to 5); the answers
        arrive through the events API."""
        if scores is None:
            scores = {ticket_id: self.random.randint(3, 5) for ticket_id in self.surveyed}
        events = []
        for ticket_id, score in scores.items():
            events.append(
                {
                    "event_id": f"csat-{ticket_id}",
                    "type": "survey.answered",
                    "occurred_at": _stamp(self.scene.now),
                    "member_id": self.members[ticket_id],
                    "channel": "web",
                    "data": {
                        "survey_id": "ticket-csat",
                        "kind": "csat",
                        "score": score,
                        "ticket_id": ticket_id,
                    },
                }
            )
        self.surveyed = [ticket_id for ticket_id in self.surveyed if ticket_id not in scores]
        if events:
            self.scene.send(events)

    # -- the Tuesday afternoon -------------------------------------------------------
    def step(self, to: datetime) -> None:
        """Move the clock to ``to`` (the schedules due run) and note which escalation levels
        of the breaching ticket are on the member's timeline by then."""
        self.scene.advance(to=to)
        ticket_id = self.breaching or ""
        for event in _escalations(self.client, self.members.get(ticket_id, ""), ticket_id):
            reached = (event["data"]["target"], event["data"]["level"])
            self.seen.setdefault(reached, (event["occurred_at"], self.scene.now))

    def escalation_instants(self, ticket: dict[str, Any]) -> dict[str, datetime]:
        """When the first response of ``ticket`` reaches each level, by the product's rule
        on its policy's calendar."""
        sla = ticket["sla"]
        applied = next(p for p in self.config.policies if p.name == sla["policy"])
        due = _instant(sla["first_response"]["due_at"])
        found = target_notices("first_response", due, self.config.calendar(applied.calendar))
        return {notice.level: notice.send_at for notice in found}

    def afternoon(self, members: list[str]) -> None:
        """Tickets of every priority opened in business hours, most answered at once, one
        urgent complaint left to escalate level by level, a reopen and CSAT answers."""
        scene = self.scene
        local = scene.now.astimezone(SHANGHAI)
        if local.weekday() >= 5 or not 13 <= local.hour < 17:
            raise RuntimeError(f"the desk's afternoon starts on a weekday afternoon in Shanghai, not {local}")
        pick = self.random.choice
        low = self.open(pick(members), "Change the delivery address", "low", "delivery")
        normal = self.open(pick(members), "Charged twice for one order", "normal", "billing")
        high = self.open(pick(members), "Return a jacket that does not fit", "high", "return")
        login = self.open(pick(members), "Cannot log in to the app", "urgent", "technical")
        urgent = self.open(pick(members), "Wrong item delivered, need it today", "urgent", "complaint")
        self.breaching = urgent["ticket_id"]
        for ticket in (low, normal, high, login):
            self.message(ticket, "reply", "Thank you, we are on it.")
        self.message(low, "note", "Customer to confirm the new address.")
        self.set_status(low, "pending")  # waiting on the customer: the resolution clock pauses
        self.goodwill_credit(high)
        for ticket in (normal, high, login):
            self.set_status(ticket, "resolved")  # ticket.resolved: the care rule sends a survey
        at = self.escalation_instants(urgent)
        minute = timedelta(minutes=1)
        self.step(at["warning"] + minute)  # the assignee is warned
        reopened = self.message(normal, "customer", "I was still charged twice, please check again.")
        self.step(at["breach"] + minute)  # past due: the queue's lead is told
        self.answer_surveys({high["ticket_id"]: 5, login["ticket_id"]: 4})
        self.message(reopened, "reply", "Refunded the second charge; sorry for the trouble.")
        self.set_status(reopened, "resolved")
        self.step(at["managers"] + minute)  # two business hours on: the managers are told
        self.answer_surveys({normal["ticket_id"]: 3})
        late = self.message(urgent, "reply", "Sorry for the wait: the right item ships today.")
        self.set_status(late, "resolved")
        self.step(at["managers"] + 30 * minute)  # the survey goes out
        self.answer_surveys({urgent["ticket_id"]: 2})

    # -- every few days --------------------------------------------------------------
    def background(self, members: list[str], answer: bool, regulars: list[str]) -> None:
        """Two new tickets (one for a gold member among ``regulars`` when there is one),
        answered and resolved at once when ``answer`` and the desk is open (its calendar),
        else left waiting; the tickets left waiting before are answered and resolved when
        the desk is open, and the surveys of the last resolved tickets answered."""
        self.answer_surveys()
        desk_open = self.answer_waiting()
        gold = self.gold_member(regulars)
        for n in range(2):
            subject, priority, category = BACKGROUND[self.turn % len(BACKGROUND)]
            self.turn += 1
            member = gold if n == 0 and gold else self.random.choice(members)
            ticket = self.open(member, subject, priority, category)
            if answer and desk_open:
                self.set_status(
                    self.message(ticket, "reply", "Done, thank you for your patience."), "resolved"
                )
            else:
                self.waiting.append(ticket["ticket_id"])

    def answer_waiting(self) -> bool:
        """When the desk is open now (its calendar), answer and resolve the tickets left
        waiting; whether it is open."""
        if not self.config.calendar(CALENDAR).is_open(self.scene.now):
            return False
        for ticket_id in self.waiting:
            ticket = self.client.expect(200, "GET", f"/v1/tickets/{ticket_id}")
            self.set_status(self.message(ticket, "reply", "Sorry for the wait, sorted now."), "resolved")
        self.waiting = []
        return True

    def gold_member(self, candidates: list[str]) -> str | None:
        """The first of ``candidates`` in a top tier (gold or black), if any (a member whose
        registration the stream has not delivered yet is not found: not gold)."""
        for member in candidates:
            status, view = self.client.request("GET", f"/v1/members/{member}")
            if status == 200 and view["tier"] in GOLD_TIERS:
                return member
        return None


# -- reading it back ------------------------------------------------------------------
def _escalation_emails(outbox: Path) -> tuple[dict[str, Counter[str]], int]:
    """The escalation emails' levels by ticket, in the order sent, and the count of
    CSAT surveys, from the outbox."""
    levels: dict[str, Counter[str]] = {}
    surveys = 0
    for path in sorted(outbox.glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        rule = message["X-Loyalty-Rule"]
        if rule == "ticket-csat":
            surveys += 1
        found = SUBJECT.search(str(message["Subject"] or "")) if rule == RULE_TAG else None
        if found:
            levels.setdefault(found.group(1), Counter())[f"{found.group(2)} {found.group(3)}"] += 1
    return levels, surveys


def _escalations(client: Client, member: str, ticket_id: str) -> list[dict[str, Any]]:
    """The ``ticket.escalated`` events of ``ticket_id`` on the member's timeline, in the
    order the levels were reached."""
    if not ticket_id:
        return []
    found = [
        event
        for event in client.pages(f"/v1/members/{member}/events", "events")
        if event["type"] == "ticket.escalated" and event["data"]["ticket_id"] == ticket_id
    ]
    return sorted(found, key=lambda e: (e["occurred_at"], LEVELS.index(e["data"]["level"])))


def desk_story(desk: Desk, outbox: Path) -> dict[str, Any]:
    """Every ticket the demo opened as the API returns it now, the breaching ticket's
    escalations (timeline and emails), reopens and CSAT."""
    tickets = [desk.client.expect(200, "GET", f"/v1/tickets/{t['ticket_id']}") for t in _all(desk.client)]
    emails, surveys = _escalation_emails(outbox)
    breaching = desk.breaching or ""
    return {
        **_tally(tickets),
        "breaching ticket": breaching,
        "its escalations": [  # the level, when it was reached, and the clock step that showed it
            f"{target} {level} {_local(at)} (seen {_local(_stamp(seen))})"
            for (target, level), (at, seen) in desk.seen.items()
        ],
        "its events": len(_escalations(desk.client, desk.members.get(breaching, ""), breaching)),
        "its emails": dict(emails.get(breaching, Counter())),
        "its csat": next((t["csat"] for t in tickets if t["ticket_id"] == breaching), None),
        "escalation emails": sum(sum(levels.values()) for levels in emails.values()),
        "csat surveys": surveys,
        "goodwill credits": desk.goodwill,
    }


def _tally(tickets: list[dict[str, Any]]) -> dict[str, Any]:
    """The tickets counted by priority, category, policy, status, breached target and
    assignee, their reopens and one-touch resolutions, and their CSAT answers by score."""
    by = {field: Counter(str(t[field]) for t in tickets) for field in ("priority", "category", "status")}
    scores = Counter(int(t["csat"]) for t in tickets if t["csat"] is not None)
    breached = Counter(target for t in tickets for target, hit in t["metrics"]["breached"].items() if hit)
    return {
        "tickets opened": len(tickets),
        "by priority": {p: by["priority"][p] for p in ("low", "normal", "high", "urgent")},
        "by category": dict(by["category"].most_common()),
        "by policy": dict(Counter(t["sla"]["policy"] for t in tickets).most_common()),
        "by status": dict(by["status"].most_common()),
        "sla breached": {
            target: breached[target] for target in ("first_response", "next_reply", "resolution")
        },
        "assignees": dict(sorted(Counter(str(t["assignee"]) for t in tickets).items())),
        "reopened": sum(t["reopened"] for t in tickets),
        "one touch": sum(t["metrics"]["one_touch"] for t in tickets),
        "csat": {score: scores[score] for score in range(5, 0, -1)},  # answers by score
        "csat average": round(sum(s * n for s, n in scores.items()) / max(1, scores.total()), 2),
    }


def _all(client: Client) -> list[dict[str, Any]]:
    """Every ticket's summary, oldest first."""
    return sorted(client.pages("/v1/tickets", "items"), key=lambda t: (t["created_at"], t["ticket_id"]))


def missing_from_desk(desk: Desk, story: dict[str, Any]) -> list[str]:
    """The parts of the desk's story the run did not show."""
    reached = [level for target, level in desk.seen if target == "first_response"]
    steps = {seen for _, seen in desk.seen.values()}
    shown = {
        "every priority": all(story["by priority"].values()),
        "escalation level by level": reached == list(LEVELS) and len(steps) == len(LEVELS),
        "each level once": story["its events"] == len(LEVELS),
        "an escalation email per level": all(
            story["its emails"].get(f"first_response {level}") for level in LEVELS
        ),
        "a reopen": story["reopened"] > 0,
        "a csat survey": story["csat surveys"] > 0,
        "csat answers": sum(story["csat"].values()) >= 4 and story["its csat"] is not None,
    }
    return [part for part, ok in shown.items() if not ok]
