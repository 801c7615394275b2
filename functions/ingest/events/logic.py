"""Event intake rules: validation beyond the schema, the idempotency outcome,
and what is stored of an event (``loyalty.events.stored.StoredEvent``: the
one shape every consumer of the event log reads). Pure: no AWS here."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter, ValidationError

from ingest.events import privacy
from loyalty.errors import TAG_ERRORS, field_path
from loyalty.events.models import EVENT_TYPES, EventIn
from loyalty.events.stored import StoredEvent
from loyalty.program import ProgramConfig
from loyalty.system_events import SYSTEM_CHANNEL, SYSTEM_PREFIX, system_event
from loyalty.timeutil import iso, local_day

FUTURE_TOLERANCE = timedelta(minutes=5)
# High-volume behaviour events expire; everything else is kept (the stored event
# is also the idempotency record, so ids stay unique for at least this long).
RETENTION = {"page.viewed": timedelta(days=90), "cart.updated": timedelta(days=90)}

_EVENT_ADAPTER: TypeAdapter[EventIn] = TypeAdapter(EventIn)

EventStatus = Literal["accepted", "duplicate", "conflict", "rejected"]


@dataclass(frozen=True)
class Problem:
    """Why an event was refused, or what a client should know about an accepted one."""

    code: str
    message: str
    field: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What became of one event (the handler turns it into the API's result)."""

    event_id: str | None
    status: EventStatus
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class Sender:
    """The storefront and key a request came with (from the authorizer)."""

    storefront_id: str
    key_id: str
    channel: str  # the storefront's own channel


class EventStore(Protocol):
    def put_new(self, event: StoredEvent) -> str | None:
        """Store the event unless its id exists; return the existing payload hash if it does."""

    def is_erased(self, tenant_id: str, member_id: str) -> bool:
        """Whether the member's personal data was erased on request."""


# Events the system records itself (never sent by a storefront): their ids start
# with SYSTEM_PREFIX, which storefront event ids may not, so they cannot collide.
STAGE_CHANGED = "member.stage_changed"
SYSTEM_EVENT_TYPES = frozenset({STAGE_CHANGED})


def _hash(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def payload_hash(event: EventIn) -> str:
    """The hash of what the client sent, in canonical form: fields it left out or sent as
    null are not part of it, so adding an optional field to a model keeps resends of
    events sent before the change duplicates, while any other change is a conflict."""
    body = event.model_dump(mode="json", exclude_unset=True, exclude_none=True)
    body["occurred_at"] = iso(event.occurred_at)
    return _hash(body)


def legacy_payload_hash(event: EventIn) -> str:
    """The hash events were stored with before payload_hash left out unsent fields: every
    field, defaults included. Kept only so resends of those events still answer duplicate
    (a stored hash equal to either one is a duplicate); it is never stored any more."""
    body = event.model_dump(mode="json")
    body["occurred_at"] = iso(event.occurred_at)
    return _hash(body)


def stage_changed(
    tenant_id: str, member_id: str, at: datetime, before: str, after: str, now: datetime, tz: ZoneInfo
) -> StoredEvent:
    """The timeline event for a lifecycle stage change at ``at``. Its id is derived
    from the member and the instant, so recording it again finds it stored."""
    body: dict[str, Any] = {
        "event_id": f"{SYSTEM_PREFIX}stage:{member_id}:{iso(at)}",
        "type": STAGE_CHANGED,
        "occurred_at": iso(at),
        "member_id": member_id,
        "channel": SYSTEM_CHANNEL,
        "data": {"from": before, "to": after},
    }
    return system_event(
        tenant_id,
        member_id,
        body["event_id"],
        STAGE_CHANGED,
        at,
        local_day(at, tz).isoformat(),
        body["data"],
        received_at=now,
        payload_hash=_hash(body),
    )


def to_stored(
    event: EventIn, tenant_id: str, now: datetime, tz: ZoneInfo, sender: Sender | None = None
) -> StoredEvent:
    return StoredEvent(
        tenant_id=tenant_id,
        event_id=event.event_id,
        type=event.type,
        member_id=event.member_id,
        channel=event.channel,
        occurred_at=event.occurred_at,
        received_at=now,
        data=event.data.model_dump(mode="json", exclude_none=True),
        payload_hash=payload_hash(event),
        day=local_day(event.occurred_at, tz).isoformat(),
        expires_at=now + RETENTION[event.type] if event.type in RETENTION else None,
        storefront_id=sender.storefront_id if sender else None,
        key_id=sender.key_id if sender else None,
        # the event's own channel is kept; the storefront's too when it differs
        storefront_channel=sender.channel if sender and sender.channel != event.channel else None,
    )


def check_time(event: EventIn, now: datetime) -> Problem | None:
    if event.occurred_at > now + FUTURE_TOLERANCE:
        return Problem(
            code="occurred_in_future",
            message="occurred_at is more than 5 minutes in the future",
            field="occurred_at",
        )
    return None


def check_event_id(event: EventIn) -> Problem | None:
    if event.event_id.startswith(SYSTEM_PREFIX):
        return Problem(
            code="reserved_event_id",
            message=f"event ids starting with {SYSTEM_PREFIX} are reserved for events the system records",
            field="event_id",
        )
    return None


def currency_warnings(event: EventIn, program: ProgramConfig) -> list[Problem]:
    """An order or refund in a currency the program cannot convert is stored (it stays
    on the timeline) but earns nothing and stays out of the member's spend."""
    currency = getattr(event.data, "currency", None)
    if event.type not in ("order.placed", "order.refunded") or currency is None:
        return []
    if program.to_base(Decimal(1), currency) is not None:
        return []
    return [
        Problem(
            code="currency_not_convertible",
            message=f"no exchange rate from {currency} to {program.currency}: "
            "the order earns no points and is not counted in spend",
            field="data.currency",
        )
    ]


def ingest_one(
    event: EventIn,
    tenant_id: str,
    now: datetime,
    tz: ZoneInfo,
    store: EventStore,
    program: ProgramConfig | None = None,
    sender: Sender | None = None,
) -> Outcome:
    if error := check_event_id(event) or check_time(event, now):
        return Outcome(event_id=event.event_id, status="rejected", errors=[error])
    stored = to_stored(event, tenant_id, now, tz, sender)
    warnings = currency_warnings(event, program or ProgramConfig())
    if event.type in privacy.PERSONAL_EVENT_DATA and store.is_erased(tenant_id, event.member_id):
        # Accepted (a resend stays a duplicate: the hash is of what was sent), but
        # nothing personal of an erased member is stored again.
        stored = stored.model_copy(update={"data": privacy.redact(event.type, stored.data), "erased": True})
        warnings.append(
            Problem(
                code="member_erased",
                message="the member's personal data was erased on request: it was not stored",
                field="member_id",
            )
        )
    existing = store.put_new(stored)
    if existing is None:
        return Outcome(event_id=event.event_id, status="accepted", warnings=warnings)
    if existing == stored.payload_hash or existing == legacy_payload_hash(event):
        return Outcome(event_id=event.event_id, status="duplicate", warnings=warnings)
    return Outcome(
        event_id=event.event_id,
        status="conflict",
        errors=[
            Problem(code="conflict", message="event_id was used with a different payload", field="event_id")
        ],
    )


def _validation_errors(err: ValidationError) -> list[Problem]:
    return [
        Problem(
            code=e["type"],
            message=e["msg"],
            field="type" if e["type"] in TAG_ERRORS else field_path(tuple(e["loc"]), EVENT_TYPES),
        )
        for e in err.errors()
    ]


def ingest_batch(
    raw_events: list[dict[str, Any]],
    tenant_id: str,
    now: datetime,
    tz: ZoneInfo,
    store: EventStore,
    program: ProgramConfig | None = None,
    sender: Sender | None = None,
) -> list[Outcome]:
    """Each event is validated and stored on its own; results come back in order."""
    results: list[Outcome] = []
    for raw in raw_events:
        raw_id = raw.get("event_id")
        try:
            event = _EVENT_ADAPTER.validate_python(raw)
        except ValidationError as err:
            results.append(
                Outcome(
                    event_id=raw_id if isinstance(raw_id, str) else None,
                    status="rejected",
                    errors=_validation_errors(err),
                )
            )
            continue
        results.append(ingest_one(event, tenant_id, now, tz, store, program, sender))
    return results
