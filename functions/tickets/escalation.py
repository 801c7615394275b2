"""Escalation levels of a ticket's SLA targets: which notices exist, which are due,
when the ticket's timer fires next, who is told, and what they are told.

Guarantees:

* Only an *active* target (running now, not paused, not achieved, with a due time)
  has notices: ``warning`` at ``due_at - WARNING_LEAD`` (wall clock), ``breach`` at
  ``due_at``, ``managers`` ``MANAGERS_AFTER_MINUTES`` business minutes after ``due_at``
  on the policy's calendar. So a notice whose send time passed while its target was
  achieved or paused is never due: it no longer exists.
* Every instant out is UTC, so a notice's ``claim`` (ticket, target, level and due
  time) is the same whatever zone the due time came in. A moved due time gives other
  claims: its notices are re-armed, and the claims already sent for the old due time
  do not hold them back.
* ``due_notices`` gives every unsent notice whose send time has come, however late the
  check runs (all past levels, once each when the caller records each claim as sent).
* ``timer_at`` is never before ``now``: something already due is due now.
* Recipients are distinct by address (case-insensitive); retired staff get nothing.
* An email names the ticket id and the ASCII target and level in its subject, in either
  locale, so mail filters work; it carries the ticket's subject line only while the
  ticket is not erased, and never its description or messages. Event data carries no
  free text.

Pure: no AWS, no API models."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence, Set
from datetime import UTC, datetime, timedelta

from loyalty.messages import Email
from loyalty.staff.model import Staff, settled_locale
from loyalty.timeutil import iso
from tickets.calendar import BusinessCalendar
from tickets.domain import LEVELS, TARGETS, Level, Notification, Sla, Target, Ticket

WARNING_LEAD = timedelta(minutes=15)
MANAGERS_AFTER_MINUTES = 120
EVENT_TYPE = "ticket.escalated"
EVENT_PREFIX = "tkesc-"
RULE_TAG = "ticket-escalation"

_LEVEL_ORDER = {level: n for n, level in enumerate(LEVELS)}
_TARGET_ORDER = {target: n for n, target in enumerate(TARGETS)}

TARGET_NAMES: dict[str, dict[Target, str]] = {
    "en": {"first_response": "first response", "next_reply": "next reply", "resolution": "resolution"},
    "zh-CN": {"first_response": "首次响应", "next_reply": "下次回复", "resolution": "解决"},
}
LEVEL_NAMES: dict[str, dict[Level, str]] = {
    "en": {
        "warning": "due in 15 minutes",
        "breach": "past due",
        "managers": "past due for 2 business hours",
    },
    "zh-CN": {"warning": "即将超时", "breach": "已超时", "managers": "超时已达 2 个工作小时"},
}
LABELS: dict[str, dict[str, str]] = {
    "en": {
        "ticket": "Ticket",
        "target": "Target",
        "level": "Level",
        "priority": "Priority",
        "queue": "Queue",
        "policy": "SLA policy",
        "due": "Due",
        "subject": "Subject",
    },
    "zh-CN": {
        "ticket": "工单",
        "target": "目标",
        "level": "级别",
        "priority": "优先级",
        "queue": "队列",
        "policy": "SLA 策略",
        "due": "到期时间",
        "subject": "主题",
    },
}


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("a timezone-aware datetime is required")
    return at.astimezone(UTC)


def _order(notice: Notification) -> tuple[datetime, int, int]:
    return notice.send_at, _TARGET_ORDER[notice.target], _LEVEL_ORDER[notice.level]


def target_notices(target: Target, due_at: datetime, calendar: BusinessCalendar) -> list[Notification]:
    """The three levels of one target due at ``due_at``."""
    due = _utc(due_at)
    send = {
        "warning": due - WARNING_LEAD,
        "breach": due,
        "managers": calendar.add_business_minutes(due, MANAGERS_AFTER_MINUTES),
    }
    return [Notification(target=target, level=level, due_at=due, send_at=send[level]) for level in LEVELS]


def notices(sla: Sla, calendar: BusinessCalendar) -> list[Notification]:
    """Every notice of every active target, ordered by send time (then target, level)."""
    found: list[Notification] = []
    for target in TARGETS:
        state = sla.target(target)
        if state.active and state.due_at is not None:
            found.extend(target_notices(target, state.due_at, calendar))
    return sorted(found, key=_order)


def due_notices(all_notices: Sequence[Notification], sent: Set[str], now: datetime) -> list[Notification]:
    """The notices to send now: their send time has come and their claim is not in ``sent``."""
    now = _utc(now)
    due = [n for n in all_notices if n.send_at <= now and n.claim not in sent]
    return sorted(due, key=_order)


def timer_at(
    all_notices: Sequence[Notification],
    sent: Set[str],
    now: datetime,
    *,
    assign_at: datetime | None,
    close_at: datetime | None,
) -> datetime | None:
    """When the ticket needs attention next: the earliest of its unsent notices' send
    times, the next assignment attempt and the automatic close; a past one is ``now``.
    None when there is nothing to wait for."""
    now = _utc(now)
    candidates = [n.send_at for n in all_notices if n.claim not in sent]
    candidates += [_utc(at) for at in (assign_at, close_at) if at is not None]
    if not candidates:
        return None
    return max(min(candidates), now)


def _leads(ticket: Ticket, staff: Sequence[Staff]) -> list[Staff]:
    return [p for p in staff if p.active and p.role == "lead" and ticket.queue in p.queues]


def _people(notice: Notification, ticket: Ticket, staff: Sequence[Staff]) -> list[Staff]:
    if notice.level == "managers":
        return [p for p in staff if p.active and p.role == "manager"]
    if notice.level == "warning" and ticket.assignee is not None:
        assignee = [p for p in staff if p.staff_id == ticket.assignee and p.active]
        if assignee:
            return assignee
    return _leads(ticket, staff)


def recipients(
    notice: Notification,
    ticket: Ticket,
    staff: Sequence[Staff],
    tenant_emails: Sequence[str],
    *,
    default_locale: str = "en",
) -> list[tuple[str, str]]:
    """(address, locale) of everyone a notice goes to, distinct by address, in order.

    ``warning``: the assignee when active, else the queue's leads; ``breach``: the queue's
    leads (active, role ``lead``, the ticket's queue in their queues); ``managers``: the
    active managers and then ``tenant_emails`` (in ``default_locale``, settled to
    ``zh-CN`` or ``en``). ``staff`` is the tenant's registry."""
    pairs = [(p.email, str(p.locale)) for p in _people(notice, ticket, staff)]
    if notice.level == "managers":
        tenant_locale: str = settled_locale(default_locale)
        pairs += [(address, tenant_locale) for address in tenant_emails]
    seen: set[str] = set()
    found: list[tuple[str, str]] = []
    for address, locale in pairs:
        key = address.strip().lower()
        if key and key not in seen:
            seen.add(key)
            found.append((address.strip(), locale))
    return found


def _texts(locale: str) -> str:
    return locale if locale in LABELS else "en"


def subject_line(ticket: Ticket, notice: Notification, locale: str) -> str:
    """``[tk_…] first_response breach: past due`` (en) or
    ``[tk_…] 首次响应 已超时 (first_response breach)`` (zh-CN)."""
    lang = _texts(locale)
    codes = f"{notice.target} {notice.level}"
    if lang == "zh-CN":
        names = f"{TARGET_NAMES[lang][notice.target]} {LEVEL_NAMES[lang][notice.level]}"
        return f"[{ticket.ticket_id}] {names} ({codes})"
    return f"[{ticket.ticket_id}] {codes}: {LEVEL_NAMES[lang][notice.level]}"


def local_time(at: datetime, calendar: BusinessCalendar | None) -> str:
    """``2026-10-09 17:30 (Asia/Shanghai)``: in the calendar's zone (UTC without one)."""
    zone = calendar.zone if calendar is not None else "UTC"
    local = at.astimezone(calendar.tz) if calendar is not None else _utc(at)
    return f"{local:%Y-%m-%d %H:%M} ({zone})"


def email(
    ticket: Ticket,
    notice: Notification,
    to: Sequence[str],
    locale: str,
    *,
    sla: Sla,
    calendar: BusinessCalendar | None = None,
) -> Email:
    """The plain-text notice for ``to`` (who share ``locale``): ticket id, target and
    level, priority, queue, policy, the due time in ``calendar``'s zone, and the ticket's
    subject line unless the ticket is erased."""
    lang = _texts(locale)
    label = LABELS[lang]
    lines = [
        f"{label['ticket']}: {ticket.ticket_id}",
        f"{label['target']}: {TARGET_NAMES[lang][notice.target]} ({notice.target})",
        f"{label['level']}: {LEVEL_NAMES[lang][notice.level]} ({notice.level})",
        f"{label['priority']}: {ticket.priority}",
        f"{label['queue']}: {ticket.queue}",
        f"{label['policy']}: {sla.policy} v{sla.policy_version}",
        f"{label['due']}: {local_time(notice.due_at, calendar)}",
    ]
    if not ticket.erased:
        lines.append(f"{label['subject']}: {ticket.subject}")
    return Email(
        to=list(to),
        subject=subject_line(ticket, notice, lang),
        text="\n".join(lines) + "\n",
        tags={"Rule": RULE_TAG, "Tenant": ticket.tenant_id},
    )


def event_id(ticket: Ticket, notice: Notification) -> str:
    """The ``ticket.escalated`` event's id: the same for the same claim, another for
    another claim (38 characters)."""
    digest = hashlib.sha256(f"{ticket.ticket_id}|{notice.claim}".encode()).hexdigest()
    return f"{EVENT_PREFIX}{digest[:32]}"


def event_data(ticket: Ticket, notice: Notification) -> dict[str, str]:
    """The ``ticket.escalated`` event's data: identifiers and the due time only."""
    return {
        "ticket_id": ticket.ticket_id,
        "target": notice.target,
        "level": notice.level,
        "due_at": iso(notice.due_at),
    }
