"""Ticket statuses: which changes are allowed, what a message does to the status, the
reopen count and the automatic close. Pure: no AWS, no I/O.

Guarantees: a status change is allowed only along :data:`TRANSITIONS` (``closed`` leads
nowhere); asking for the current status is no change and no error; an invalid change
raises ``Conflict`` with code ``invalid_transition`` and a message on a closed ticket
raises ``Conflict`` with code ``ticket_closed``, so the caller changes nothing. Every
instant out is UTC."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from loyalty.errors import Conflict
from tickets.domain import Change, MessageKind, Status, Ticket

# A resolved ticket closes by itself this long (calendar time) after it was resolved.
AUTO_CLOSE_AFTER = timedelta(days=7)

TRANSITIONS: Mapping[Status, frozenset[Status]] = {
    "new": frozenset({"open", "pending", "on_hold", "resolved"}),
    "open": frozenset({"pending", "on_hold", "resolved"}),
    "pending": frozenset({"open", "on_hold", "resolved"}),
    "on_hold": frozenset({"open", "pending", "resolved"}),
    "resolved": frozenset({"open", "closed"}),
    "closed": frozenset(),
}


def change_status(current: Status, to: Status) -> bool:
    """True when ``current`` → ``to`` is a change; False when it is the same status.
    Raises ``Conflict`` (``invalid_transition``) for a change that is not allowed."""
    if to == current:
        return False
    if to not in TRANSITIONS[current]:
        raise Conflict(f"a {current} ticket cannot become {to}", field="status", code="invalid_transition")
    return True


def status_after_message(current: Status, kind: MessageKind) -> Status:
    """The status after a message of ``kind``: a public ``reply`` opens a ``new`` ticket;
    a ``customer`` message opens a ``pending`` or ``resolved`` one (from resolved: a
    reopen); anything else keeps the status. Raises ``Conflict`` (``ticket_closed``) on
    a closed ticket, whatever the kind."""
    if current == "closed":
        raise Conflict("the ticket is closed", code="ticket_closed")
    if kind == "reply" and current == "new":
        return "open"
    if kind == "customer" and current in ("pending", "resolved"):
        return "open"
    return current


def status_changes(changes: Sequence[Change]) -> list[Change]:
    """The ``status`` changes, in time order (changes at the same instant keep their order)."""
    return sorted((c for c in changes if c.field == "status"), key=lambda c: c.at)


def reopen_count(changes: Sequence[Change]) -> int:
    """How often the ticket was reopened: status changes from ``resolved`` to anything
    but ``closed``."""
    return sum(
        1 for c in status_changes(changes) if c.before == "resolved" and c.after not in ("resolved", "closed")
    )


def last_resolved(ticket: Ticket) -> datetime | None:
    """When the ticket was last resolved, from its history (else its ``resolved_at``),
    while it is resolved or closed; None otherwise."""
    if ticket.status not in ("resolved", "closed"):
        return None
    resolves = [c.at for c in status_changes(ticket.changes) if c.after == "resolved"]
    at = resolves[-1] if resolves else ticket.resolved_at
    return at.astimezone(UTC) if at is not None else None


def close_at(ticket: Ticket) -> datetime | None:
    """When a resolved ticket closes by itself (``resolved_at`` + 7 days); None unless resolved."""
    if ticket.status != "resolved":
        return None
    at = ticket.resolved_at or last_resolved(ticket)
    return (at + AUTO_CLOSE_AFTER).astimezone(UTC) if at is not None else None
