"""Events the system itself records in the event log (lifecycle stage changes,
tier changes, points about to expire): stored like storefront events, so they
appear on the member's timeline and reach the activity index, but with
``channel`` ``system`` and a deterministic id starting with ``sys:``, which
storefront event ids may not: recording one twice finds it stored (or
overwrites it with itself), and it can never collide with a storefront's."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from loyalty.events.stored import StoredEvent
from loyalty.timeutil import parse_rfc3339

SYSTEM_PREFIX = "sys:"
SYSTEM_CHANNEL = "system"


def system_event(
    tenant: str,
    member: str,
    event_id: str,
    event_type: str,
    at: datetime | str,
    day: str,
    data: dict[str, Any],
    *,
    received_at: datetime | None = None,
    payload_hash: str | None = None,
) -> StoredEvent:
    """The system event ``event_type`` of the member at ``at`` (a datetime, or a stored
    time's canonical string), on the program-local ``day``; received at ``at`` unless
    ``received_at`` is given. Its item is built by ``loyalty.events.stored.event_item``."""
    if not event_id.startswith(SYSTEM_PREFIX):
        raise ValueError(f"a system event id starts with {SYSTEM_PREFIX}: {event_id}")
    occurred = parse_rfc3339(at) if isinstance(at, str) else at
    return StoredEvent(
        tenant_id=tenant,
        event_id=event_id,
        type=event_type,
        member_id=member,
        channel=SYSTEM_CHANNEL,
        occurred_at=occurred,
        received_at=received_at or occurred,
        data=data,
        payload_hash=payload_hash,
        day=day,
    )
