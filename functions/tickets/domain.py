"""What a service ticket is, in the shapes the ticket rules share. Pure: no AWS, no API
models. ``tickets.workflow`` (statuses and transitions), ``tickets.sla`` (targets,
pauses and metrics), ``tickets.escalation`` (levels and notifications) and
``tickets.assignment`` (who gets a ticket) all read these; the data access turns the
stored items into them and back.

A ticket's timeline is its own record: every message and every change is an entry
of its own (``Message``, ``Change``), kept in time order, and everything derived
(the SLA of each target, the metrics, the next timer) is computed from the ticket
and its timeline, never patched in place. So a change of policy or calendar, or a
late correction, recomputes the whole ticket."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Priority = Literal["low", "normal", "high", "urgent"]
Category = Literal["complaint", "return", "delivery", "technical", "billing", "other"]
Status = Literal["new", "open", "pending", "on_hold", "resolved", "closed"]
MessageKind = Literal["reply", "note", "customer"]
Target = Literal["first_response", "next_reply", "resolution"]
Level = Literal["warning", "breach", "managers"]

STATUSES: tuple[Status, ...] = ("new", "open", "pending", "on_hold", "resolved", "closed")
TARGETS: tuple[Target, ...] = ("first_response", "next_reply", "resolution")
LEVELS: tuple[Level, ...] = ("warning", "breach", "managers")
DONE_STATUSES: frozenset[Status] = frozenset({"resolved", "closed"})  # not open for the member view
DEFAULT_QUEUE = "service"


@dataclass(frozen=True)
class Message:
    """A message on the ticket: a public agent ``reply``, an internal ``note`` or a
    ``customer`` message."""

    message_id: str
    kind: MessageKind
    author: str
    body: str
    at: datetime


@dataclass(frozen=True)
class Change:
    """One recorded change: ``field`` went from ``before`` to ``after`` at ``at``,
    by ``by`` (a staff id, ``system`` or a storefront channel). Fields: ``status``,
    ``priority``, ``assignee``, ``category``, ``policy``."""

    at: datetime
    by: str
    field: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class Ticket:
    """A ticket as stored, with its timeline (messages and changes in time order)."""

    tenant_id: str
    ticket_id: str
    subject: str
    description: str
    member_id: str | None
    member_tier: str | None  # the member's tier when the ticket was opened (policy matching)
    priority: Priority
    category: Category
    queue: str
    channel: str
    status: Status
    assignee: str | None
    created_at: datetime
    policy: str  # the applied SLA policy's name
    policy_version: int
    version: int = 0  # optimistic concurrency: one more per stored change
    resolved_at: datetime | None = None  # the latest resolve, while resolved or closed
    csat: int | None = None  # 1..5 from a ``survey.answered`` of kind csat
    csat_at: str | None = None  # that answer's occurred_at (stored form): a later answer wins
    csat_event_id: str | None = None
    erased: bool = False
    assign_at: datetime | None = None  # while unassigned: the next assignment attempt
    notices_sent: frozenset[str] = frozenset()  # the ``Notification.claim`` of every notice sent
    messages: tuple[Message, ...] = ()
    changes: tuple[Change, ...] = ()


@dataclass(frozen=True)
class TargetState:
    """One SLA target of a ticket at an instant.

    ``due_at``: when it is (or was) due; None while it is not running (paused, not set,
    or never started). ``achieved_at``: when it was met; None while outstanding.
    ``breached``: met late, or still outstanding past ``due_at`` (for next reply: any
    episode breached). ``business_minutes``/``calendar_minutes``: running time counted
    so far (to ``achieved_at`` or to now), pauses excluded."""

    due_at: datetime | None
    achieved_at: datetime | None
    breached: bool
    business_minutes: int
    calendar_minutes: int
    paused: bool = False
    active: bool = False  # running now and not achieved: escalations apply


@dataclass(frozen=True)
class Sla:
    policy: str
    policy_version: int
    first_response: TargetState
    next_reply: TargetState
    resolution: TargetState

    def target(self, name: Target) -> TargetState:
        state: TargetState = getattr(self, name)
        return state


@dataclass(frozen=True)
class Minutes:
    business: int
    calendar: int


@dataclass(frozen=True)
class Metrics:
    """The per-ticket figures (see docs/tickets.md "Metrics")."""

    first_response: Minutes | None  # None until the first public reply
    resolution: Minutes | None  # None until resolved
    longest_reply_wait: Minutes | None  # the longest customer-message-to-reply wait (open ones count to now)
    breached: dict[str, bool] = field(default_factory=dict)  # per target
    achieved: dict[str, bool] = field(default_factory=dict)  # per target
    reopened: int = 0
    one_touch: bool = False
    csat: int | None = None


@dataclass(frozen=True)
class Notification:
    """An escalation notice: ``level`` of ``target``, whose due time is ``due_at``,
    to be sent at ``send_at``. Sent once per (ticket, target, level, due_at): a moved
    due time is another notification."""

    target: Target
    level: Level
    due_at: datetime
    send_at: datetime

    @property
    def claim(self) -> str:
        return f"{self.target}#{self.level}#{self.due_at.isoformat()}"
