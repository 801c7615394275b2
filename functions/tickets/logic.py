"""Ticket rules: what opening, changing, messaging, assigning and closing a ticket does.
Pure: no AWS here, and no API models.

Each rule takes the ticket as read (with its timeline) and answers a :class:`Revision`:
the ticket after, the messages and changes to record, whether it was resolved now (a
``ticket.resolved`` event), and how the assignees' open loads move. Nothing derived is
patched in place: the SLA, metrics, summary and timer are computed from the revised
ticket (``tickets.sla``, ``tickets.escalation``), so a change of priority or category
that selects another policy recomputes the whole ticket from its creation.

Text of an erased ticket (its member's data was erased on request) is never stored
again: a message on it keeps its kind, time and author id but no body."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime

from loyalty.errors import Conflict
from tickets import workflow
from tickets.domain import (
    DONE_STATUSES,
    Category,
    Change,
    Message,
    MessageKind,
    Priority,
    Status,
    Ticket,
)
from tickets.service_config import Policy, ServiceConfig, match_policy

SYSTEM = "system"
ERASED_SUBJECT = "(erased)"


@dataclass(frozen=True)
class Revision:
    """What a rule did to a ticket: ``ticket`` after, what to record, and the effects."""

    before: Ticket | None
    ticket: Ticket
    messages: tuple[Message, ...] = ()
    changes: tuple[Change, ...] = ()
    resolved: bool = False  # the ticket became resolved: emit ticket.resolved
    loads: dict[str, int] = field(default_factory=dict)  # open-load change per staff id

    @property
    def changed(self) -> bool:
        return self.before is None or bool(self.messages or self.changes) or self.before != self.ticket


def new_ticket_id(now: datetime) -> str:
    """Time-ordered and unguessable: milliseconds since epoch plus 64 random bits."""
    return f"tk_{int(now.timestamp() * 1000):013d}{secrets.token_hex(8)}"


def new_message_id(now: datetime) -> str:
    return f"msg_{int(now.timestamp() * 1000):013d}{secrets.token_hex(6)}"


def holder(ticket: Ticket | None) -> str | None:
    """Whose open load the ticket counts in: its assignee while it is not done."""
    if ticket is None or ticket.status in DONE_STATUSES:
        return None
    return ticket.assignee


def load_moves(before: Ticket | None, after: Ticket) -> dict[str, int]:
    was, now = holder(before), holder(after)
    if was == now:
        return {}
    moves: dict[str, int] = {}
    if was is not None:
        moves[was] = -1
    if now is not None:
        moves[now] = moves.get(now, 0) + 1
    return moves


def policy_of(ticket: Ticket, config: ServiceConfig) -> Policy:
    """The policy that matches the ticket now (first match, in the configured order)."""
    return match_policy(config, ticket.priority, ticket.member_tier, ticket.channel, ticket.category)


def _stored_policy(config: ServiceConfig, ticket: Ticket) -> Policy:
    """The policy the ticket names, or the one matching now when the configuration no
    longer has it."""
    for policy in config.policies:
        if policy.name == ticket.policy:
            return policy
    return policy_of(ticket, config)


def applied_policy(ticket: Ticket, config: ServiceConfig) -> Policy:
    return _stored_policy(config, ticket)


def open_ticket(
    tenant_id: str,
    channel: str,
    now: datetime,
    config: ServiceConfig,
    *,
    subject: str,
    description: str,
    member_id: str | None,
    member_tier: str | None,
    member_erased: bool,
    priority: Priority,
    category: Category,
    queue: str,
) -> Ticket:
    """A new ticket opened at ``now``, status ``new``, under the first matching policy.
    The text of a ticket for an erased member is left out."""
    draft = Ticket(
        tenant_id=tenant_id,
        ticket_id=new_ticket_id(now),
        subject=ERASED_SUBJECT if member_erased else subject,
        description="" if member_erased else description,
        member_id=member_id,
        member_tier=member_tier,
        priority=priority,
        category=category,
        queue=queue,
        channel=channel,
        status="new",
        assignee=None,
        created_at=now,
        policy="",
        policy_version=0,
        erased=member_erased,
    )
    policy = policy_of(draft, config)
    return replace(draft, policy=policy.name, policy_version=policy.version)


def _change(at: datetime, by: str, name: str, before: str | None, after: str | None) -> Change:
    return Change(at=at, by=by, field=name, before=before, after=after)


def _with_status(ticket: Ticket, to: Status, by: str, at: datetime) -> tuple[Ticket, list[Change], bool]:
    if not workflow.change_status(ticket.status, to):
        return ticket, [], False
    resolved_at = at if to == "resolved" else (ticket.resolved_at if to == "closed" else None)
    after = replace(ticket, status=to, resolved_at=resolved_at)
    return after, [_change(at, by, "status", ticket.status, to)], to == "resolved"


def _rematch(ticket: Ticket, config: ServiceConfig, by: str, at: datetime) -> tuple[Ticket, list[Change]]:
    """Select the policy again after a change of what policies match on."""
    policy = policy_of(ticket, config)
    if (policy.name, policy.version) == (ticket.policy, ticket.policy_version):
        return ticket, []
    before = f"{ticket.policy}@{ticket.policy_version}"
    after = replace(ticket, policy=policy.name, policy_version=policy.version)
    return after, [_change(at, by, "policy", before, f"{policy.name}@{policy.version}")]


def with_current_policy(revision: Revision, config: ServiceConfig, at: datetime) -> Revision:
    """The revision with the ticket's policy as configured now: a new version of its policy
    (or, when the configuration dropped it, the policy that matches now) is recorded as a
    ``policy`` change by ``system``, so the stored version is the one its SLA was computed with."""
    ticket = revision.ticket
    policy = applied_policy(ticket, config)
    if (policy.name, policy.version) == (ticket.policy, ticket.policy_version):
        return revision
    change = _change(
        at, SYSTEM, "policy", f"{ticket.policy}@{ticket.policy_version}", f"{policy.name}@{policy.version}"
    )
    after = replace(
        ticket, policy=policy.name, policy_version=policy.version, changes=ticket.changes + (change,)
    )
    return replace(revision, ticket=after, changes=revision.changes + (change,))


def _finish(before: Ticket, after: Ticket, changes: list[Change], **kwargs: object) -> Revision:
    timeline = replace(after, changes=before.changes + tuple(changes))
    return Revision(
        before=before,
        ticket=timeline,
        changes=tuple(changes),
        loads=load_moves(before, timeline),
        **kwargs,  # type: ignore[arg-type]
    )


def patch(
    ticket: Ticket,
    config: ServiceConfig,
    by: str,
    at: datetime,
    *,
    status: Status | None = None,
    priority: Priority | None = None,
    category: Category | None = None,
    assignee: str | None = None,
    unassign: bool = False,
) -> Revision:
    """Change what a PATCH names. An invalid status change raises ``invalid_transition``
    (nothing changes); a closed ticket takes no change at all."""
    if ticket.status == "closed" and (status, priority, category, assignee, unassign) != (
        "closed",
        None,
        None,
        None,
        False,
    ):
        raise Conflict("a closed ticket cannot change", code="invalid_transition", field="status")
    after, changes, resolved = ticket, list[Change](), False
    if status is not None:
        after, changes, resolved = _with_status(after, status, by, at)
    if priority is not None and after.priority != priority:
        changes.append(_change(at, by, "priority", after.priority, priority))
        after = replace(after, priority=priority)
    if category is not None and after.category != category:
        changes.append(_change(at, by, "category", after.category, category))
        after = replace(after, category=category)
    new_assignee = None if unassign else (assignee if assignee is not None else after.assignee)
    if new_assignee != after.assignee:
        changes.append(_change(at, by, "assignee", after.assignee, new_assignee))
        after = replace(after, assignee=new_assignee)
    after, policy_changes = _rematch(after, config, by, at)
    return _finish(ticket, after, changes + policy_changes, resolved=resolved)


def add_message(
    ticket: Ticket, *, message_id: str, kind: MessageKind, author: str, body: str, at: datetime
) -> Revision:
    """Record a message. A public reply moves ``new`` to ``open``; a customer message
    moves ``pending`` or ``resolved`` back to ``open`` (a reopen); a note moves nothing.
    A closed ticket takes no message (``ticket_closed``)."""
    to = workflow.status_after_message(ticket.status, kind)
    message = Message(
        message_id=message_id, kind=kind, author=author, body="" if ticket.erased else body, at=at
    )
    after, changes, _ = _with_status(ticket, to, author if kind != "customer" else "customer", at)
    revision = _finish(ticket, replace(after, messages=ticket.messages + (message,)), changes)
    return replace(revision, messages=(message,))


def assign(ticket: Ticket, assignee: str, by: str, at: datetime) -> Revision:
    """Give the ticket to ``assignee`` (recorded in the history)."""
    if ticket.assignee == assignee:
        return Revision(before=ticket, ticket=ticket)
    after = replace(ticket, assignee=assignee)
    return _finish(ticket, after, [_change(at, by, "assignee", ticket.assignee, assignee)])


def auto_close(ticket: Ticket, at: datetime) -> Revision:
    """Close a ticket resolved for ``workflow.AUTO_CLOSE_AFTER`` (by ``system``)."""
    due = workflow.close_at(ticket)
    if due is None or at < due:
        return Revision(before=ticket, ticket=ticket)
    after, changes, _ = _with_status(ticket, "closed", SYSTEM, at)
    return _finish(ticket, after, changes)


def with_notices(ticket: Ticket, claims: frozenset[str]) -> Ticket:
    return replace(ticket, notices_sent=ticket.notices_sent | claims)
