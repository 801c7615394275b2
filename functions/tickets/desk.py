"""The service desk's use cases: open, read, change and message a ticket, and run its
timer (assign, escalate, close). Imports no boto3: it drives the ticket rules
(``tickets.logic``, ``sla``, ``escalation``, ``assignment``) over a store passed in
(``tickets.repository.TicketStore`` in the functions).

Every use case that writes is optimistic (``loyalty.commit.optimistic``): it reads the
ticket, decides, and commits one transaction conditioned on the version it read; a lost
race or a transient fault reads again and decides again, so a retried write is never
applied twice. What is stored with each write is derived from the revised ticket: its
summary, its place in the timer index (the next notice, assignment attempt or automatic
close) and in the breaching index."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from loyalty.commit import optimistic
from loyalty.errors import NotFound, ValidationFailed
from loyalty.events.stored import StoredEvent
from loyalty.system_events import SYSTEM_PREFIX, system_event
from loyalty.timeutil import iso, local_day, parse_rfc3339
from tickets import assignment, escalation, logic, sla, workflow
from tickets.domain import MessageKind, Metrics, Notification, Sla, Ticket
from tickets.items import Commit, report_of
from tickets.logic import Revision
from tickets.service_config import ServiceConfig


class Store(Protocol):  # what tickets.repository.TicketStore offers
    def load(self, tenant: str, ticket_id: str) -> Ticket | None: ...
    def commit(
        self,
        before: Ticket | None,
        after: Ticket,
        messages: Sequence[Any],
        changes: Sequence[Any],
        loads: Any,
        commit: Any,
        tz: ZoneInfo,
    ) -> Ticket: ...
    def staff_view(self, tenant: str) -> Any: ...
    def member_facts(self, tenant: str, member: str) -> Any: ...


@dataclass(frozen=True)
class Desk:
    store: Store
    config: ServiceConfig
    tz: ZoneInfo  # the program's: the activity index's days
    now: datetime


@dataclass(frozen=True)
class Evaluated:
    ticket: Ticket
    sla: Sla
    metrics: Metrics


def evaluate(ticket: Ticket, config: ServiceConfig, now: datetime) -> Evaluated:
    policy = logic.applied_policy(ticket, config)
    calendar = config.calendar(policy.calendar)
    state = sla.compute(ticket, policy, calendar, now)
    return Evaluated(ticket, state, sla.metrics(ticket, state, calendar, now))


def _earliest_active_due(state: Sla) -> datetime | None:
    dues = [
        t.due_at for t in (state.first_response, state.next_reply, state.resolution) if t.active and t.due_at
    ]
    return min(dues) if dues else None


def is_breaching(next_due: object, now: datetime) -> bool:
    """Whether a summary's earliest running due time (ISO, or None) is past or within
    the warning lead at ``now``."""
    return bool(next_due) and parse_rfc3339(str(next_due)) - escalation.WARNING_LEAD <= now


def summary(ticket: Ticket, state: Sla) -> dict[str, Any]:
    """What the list entries and the member's marker carry (no text)."""
    due = _earliest_active_due(state)
    found: dict[str, Any] = {
        "ticket_id": ticket.ticket_id,
        "status": ticket.status,
        "priority": ticket.priority,
        "category": ticket.category,
        "queue": ticket.queue,
        "created_at": iso(ticket.created_at),
        "policy": ticket.policy,
        "reopened": workflow.reopen_count(ticket.changes),
    }
    for name, value in (("assignee", ticket.assignee), ("member_id", ticket.member_id)):
        if value is not None:
            found[name] = value
    if due is not None:
        found["next_due"] = iso(due)
    return found


def _placement(desk: Desk, ticket: Ticket) -> tuple[dict[str, Any], datetime | None, datetime | None]:
    """The summary, timer and breaching key of ``ticket`` as it is now."""
    policy = logic.applied_policy(ticket, desk.config)
    state = sla.compute(ticket, policy, desk.config.calendar(policy.calendar), desk.now)
    notices = escalation.notices(state, desk.config.calendar(policy.calendar))
    assign_at = (
        ticket.assign_at if ticket.assignee is None and ticket.status not in ("resolved", "closed") else None
    )
    timer = escalation.timer_at(
        notices, ticket.notices_sent, desk.now, assign_at=assign_at, close_at=workflow.close_at(ticket)
    )
    due = _earliest_active_due(state)
    warn = due - escalation.WARNING_LEAD if due is not None else None
    return summary(ticket, state), timer, warn


def _events(desk: Desk, revision: Revision, escalated: Sequence[Notification] = ()) -> list[StoredEvent]:
    ticket = revision.ticket
    if ticket.member_id is None:
        return []
    found: list[StoredEvent] = []
    if revision.resolved:
        n = sum(1 for c in ticket.changes if c.field == "status" and c.after == "resolved")
        event_id = f"{SYSTEM_PREFIX}ticket.resolved:{ticket.ticket_id}:{n}"
        data = {"ticket_id": ticket.ticket_id, "policy": ticket.policy, "priority": ticket.priority}
        day = local_day(desk.now, desk.tz).isoformat()
        found.append(
            system_event(ticket.tenant_id, ticket.member_id, event_id, "ticket.resolved", desk.now, day, data)
        )
    for notice in escalated:
        # At the instant the level was reached: a redelivery writes the same item again.
        event_id = f"{SYSTEM_PREFIX}{escalation.event_id(ticket, notice)}"
        at_day = local_day(notice.send_at, desk.tz).isoformat()
        data = escalation.event_data(ticket, notice)
        found.append(
            system_event(
                ticket.tenant_id, ticket.member_id, event_id, "ticket.escalated", notice.send_at, at_day, data
            )
        )
    return found


def _commit(
    desk: Desk,
    revision: Revision,
    *,
    pointer: tuple[str, str | None, str] | None = None,
    cap: tuple[str, int] | None = None,
    escalated: Sequence[Notification] = (),
) -> Ticket:
    revision = logic.with_current_policy(revision, desk.config, desk.now)
    placed, timer, warn = _placement(desk, revision.ticket)
    found = evaluate(revision.ticket, desk.config, desk.now)  # as a read at this instant has it
    commit = Commit(
        summary=placed,
        timer_at=timer,
        warn_at=warn,
        events=_events(desk, revision, escalated),
        pointer=pointer,
        cap=cap,
        breaches=tuple(n for n in escalated if n.level == "breach"),
        report=report_of(found.ticket, found.sla, found.metrics),
    )
    return desk.store.commit(
        revision.before, revision.ticket, revision.messages, revision.changes, revision.loads, commit, desk.tz
    )


Pointer = tuple[str, str | None, str]  # a round-robin pointer move: (queue, before, after)
Cap = tuple[str, int]  # an automatic assignment's agent and their cap


def _assign(
    desk: Desk, ticket: Ticket, view: Any, owner_id: str | None
) -> tuple[Revision, Pointer | None, Cap | None]:
    """Try to give ``ticket`` to somebody now (the member's owner ``owner_id`` first, for a
    VIP member); otherwise plan the next attempt."""
    owner = next((p for p in view.staff if p.staff_id == owner_id), None) if owner_id else None
    choice = assignment.choose(
        ticket.queue,
        ticket.member_tier,
        owner,
        view.staff,
        view.loads,
        view.pointers.get(ticket.queue),
        desk.config,
        desk.now,
    )
    if choice.assignee is None:
        waiting = replace(ticket, assign_at=choice.retry_at)
        return Revision(before=ticket, ticket=waiting), None, None
    revision = logic.assign(replace(ticket, assign_at=None), choice.assignee, logic.SYSTEM, desk.now)
    revision = replace(revision, before=ticket, loads=logic.load_moves(ticket, revision.ticket))
    pointer = None
    if choice.via == "round_robin":
        pointer = (ticket.queue, view.pointers.get(ticket.queue), choice.assignee)
    person = next(p for p in view.staff if p.staff_id == choice.assignee)
    return revision, pointer, (person.staff_id, person.max_open)


def open_ticket(desk: Desk, tenant: str, channel: str, fields: dict[str, Any]) -> Evaluated:
    """Open a ticket and assign it (or plan when to); ``fields`` as the request gave them."""
    member = fields.get("member_id")
    facts = desk.store.member_facts(tenant, member) if member else None
    draft = logic.open_ticket(
        tenant,
        channel,
        desk.now,
        desk.config,
        subject=fields["subject"],
        description=fields.get("description", ""),
        member_id=member,
        member_tier=facts.tier if facts else None,
        member_erased=bool(facts and facts.erased),
        priority=fields["priority"],
        category=fields["category"],
        queue=fields["queue"],
    )
    owner_id = facts.owner if facts else None
    attempts = 0

    def attempt() -> Ticket:
        nonlocal attempts
        attempts += 1
        if attempts > 1:  # an earlier attempt may have committed before its reply was lost
            stored = desk.store.load(tenant, draft.ticket_id)
            if stored is not None:
                return stored
        revision, pointer, cap = _assign(desk, draft, desk.store.staff_view(tenant), owner_id)
        revision = replace(revision, before=None, loads=logic.load_moves(None, revision.ticket))
        return _commit(desk, revision, pointer=pointer, cap=cap)

    return evaluate(optimistic(attempt, what="ticket"), desk.config, desk.now)


def read(desk: Desk, tenant: str, ticket_id: str) -> Evaluated:
    ticket = desk.store.load(tenant, ticket_id)
    if ticket is None:
        raise NotFound("no such ticket", field="ticket_id")
    return evaluate(ticket, desk.config, desk.now)


def _change(desk: Desk, tenant: str, ticket_id: str, decide: Callable[[Ticket], Revision]) -> Evaluated:
    def attempt() -> Ticket:
        ticket = desk.store.load(tenant, ticket_id)
        if ticket is None:
            raise NotFound("no such ticket", field="ticket_id")
        revision = decide(ticket)
        if not revision.changed:
            return ticket
        return _commit(desk, revision)

    return evaluate(optimistic(attempt, what="ticket"), desk.config, desk.now)


def patch_ticket(desk: Desk, tenant: str, ticket_id: str, by: str, fields: dict[str, Any]) -> Evaluated:
    """Apply a PATCH: ``fields`` holds only what the request named (``assignee`` may be None)."""
    assignee = fields.get("assignee")
    if assignee is not None:
        person = next((p for p in desk.store.staff_view(tenant).staff if p.staff_id == assignee), None)
        if person is None or not person.active:
            raise ValidationFailed("assignee is not an active person on the staff registry", field="assignee")

    def decide(ticket: Ticket) -> Revision:
        revision = logic.patch(
            ticket,
            desk.config,
            by,
            desk.now,
            status=fields.get("status"),
            priority=fields.get("priority"),
            category=fields.get("category"),
            assignee=assignee,
            unassign="assignee" in fields and assignee is None,
        )
        if revision.ticket.assignee is None and ticket.assignee is not None:
            # Unassigned by hand: the next timer run assigns it again.
            revision = replace(revision, ticket=replace(revision.ticket, assign_at=desk.now))
        return revision

    return _change(desk, tenant, ticket_id, decide)


def post_message(
    desk: Desk, tenant: str, ticket_id: str, kind: MessageKind, author: str, body: str
) -> Evaluated:
    message_id = logic.new_message_id(desk.now)

    def decide(ticket: Ticket) -> Revision:
        if any(m.message_id == message_id for m in ticket.messages):
            return Revision(before=ticket, ticket=ticket)  # committed before its reply was lost
        return logic.add_message(
            ticket, message_id=message_id, kind=kind, author=author, body=body, at=desk.now
        )

    return _change(desk, tenant, ticket_id, decide)


# The timer ---------------------------------------------------------------------------


@dataclass
class TimerResult:
    closed: bool = False
    assigned: bool = False
    notices: int = 0  # notices recorded as sent by this run


Send = Callable[[Ticket, Notification, Sla], None]  # sends a notice's emails, once (claims)


def run_timer(
    desk: Desk, tenant: str, ticket_id: str, send: Send, owner_of: Callable[[Ticket], str | None]
) -> TimerResult:
    """Everything due on the ticket at ``desk.now``: close it when resolved long enough,
    assign it when its attempt is due, and send each due escalation notice once; then
    store the next timer."""
    result = TimerResult()

    def attempt() -> TimerResult:
        ticket = desk.store.load(tenant, ticket_id)
        outcome = TimerResult()
        if ticket is None:
            return outcome
        revision = logic.auto_close(ticket, desk.now)
        outcome.closed = revision.ticket.status != ticket.status
        pointer: Pointer | None = None
        cap: Cap | None = None
        current = revision.ticket
        if (
            current.assignee is None
            and current.assign_at is not None
            and current.assign_at <= desk.now
            and current.status not in ("resolved", "closed")
        ):
            assigned, pointer, cap = _assign(desk, current, desk.store.staff_view(tenant), owner_of(current))
            outcome.assigned = assigned.ticket.assignee is not None
            revision = replace(
                revision,
                ticket=assigned.ticket,
                changes=revision.changes + assigned.changes,
                loads=logic.load_moves(ticket, assigned.ticket),
            )
        evaluated = evaluate(revision.ticket, desk.config, desk.now)
        calendar = desk.config.calendar(logic.applied_policy(revision.ticket, desk.config).calendar)
        due = escalation.due_notices(
            escalation.notices(evaluated.sla, calendar), revision.ticket.notices_sent, desk.now
        )
        sent: list[Notification] = []
        failure: Exception | None = None
        for notice in due:
            try:
                send(revision.ticket, notice, evaluated.sla)
            except Exception as err:  # noqa: BLE001 - raised again below, once the rest is stored
                failure = err
                break
            sent.append(notice)
        if sent:
            revision = replace(
                revision, ticket=logic.with_notices(revision.ticket, frozenset(n.claim for n in sent))
            )
        outcome.notices = len(sent)
        # A notice that could not be sent does not hold back the close, the assignment and
        # the notices that went out: they are stored, and the failed notice stays due.
        _commit(desk, revision, pointer=pointer, cap=cap, escalated=sent)
        if failure is not None:
            raise failure
        return outcome

    found = optimistic(attempt, what="ticket")
    result.closed, result.assigned, result.notices = found.closed, found.assigned, found.notices
    return result


def owner_for(store: Store, tenant: str) -> Callable[[Ticket], str | None]:
    def owner(ticket: Ticket) -> str | None:
        return store.member_facts(tenant, ticket.member_id).owner if ticket.member_id else None

    return owner
