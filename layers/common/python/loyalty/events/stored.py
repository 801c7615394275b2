"""The stored event: the one shape of an event in the event log (EventsTable),
and the only code that builds an EventsTable item.

:class:`StoredEvent` is an event as the log holds it. Intake builds one from
what a storefront sent (``ingest.events.logic.to_stored``), the system records
its own (``loyalty.system_events``), and the stream consumers read one back
from a stream record's new image (``loyalty.events.records``): its fields are
the item's attributes (but ``day``, which only the activity index key holds),
so what is written is what is read. Read back, numbers in ``data`` are
``Decimal`` (never a float) and times are aware datetimes.

:func:`event_item` turns a stored event into its item: the key, the member
timeline index (gsi1) and, for the types in ``DAY_INDEXED_TYPES``, the daily
activity index (gsi2). Every new item of EventsTable is built here; the callers
(what writes to EventsTable) are:

* ``ingest/events/repository.py``, ``DynamoEventStore.put_new``: storefront
  events, by a conditional PutItem on the event id;
* ``ingest/members/schedule.py``, the member refresh job: ``member.stage_changed``,
  stored with the member's refreshed state in one transaction
  (``ProfileStore.save_refresh``);
* ``points/repository.py``, ``DynamoLedgerStore.commit``: the points notices
  (``points.tier_changed``, ``points.expiring``), in the ledger's transaction.
* ``care_rules/actions.py``, a care rule's points action: ``care.points_granted``, by a
  conditional PutItem on an id derived from the firing (the points ledger grants it).

The one other write is the erasure's UpdateItem of an event's ``data``
(``ingest/events/timeline.py``, ``scrub_personal_data``), which changes items
already stored and builds none."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from loyalty import keys
from loyalty.timeutil import iso

# Event types listed in the daily activity index (read by the daily report):
# storefront events that count in the day's figures, and the points notices.
DAY_INDEXED_TYPES = frozenset(
    {
        "order.placed",
        "order.refunded",
        "order.cancelled",
        "member.registered",
        "review.submitted",
        "survey.answered",
        "referral.completed",
        "points.tier_changed",
        "points.expiring",
    }
)


class StoredEvent(BaseModel):
    """An event as the event log holds it (the item's attributes, keys aside)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    tenant_id: str
    event_id: str
    type: str
    member_id: str
    channel: str  # as the event says (a web shop may report a sale in a store); system events: system
    occurred_at: AwareDatetime
    received_at: AwareDatetime
    data: dict[str, Any] = Field(default_factory=dict)
    payload_hash: str | None = None  # of what the storefront sent (stage changes too); points notices: none
    day: str | None = None  # occurred_at's day in the program's time zone; only in the activity index key
    expires_at: datetime | None = None  # high-volume behaviour events expire (TTL)
    storefront_id: str | None = None  # the storefront and key that sent it; None for system events
    key_id: str | None = None
    storefront_channel: str | None = None  # the storefront's own channel, when not the event's
    erased: bool = False  # the member was erased: personal data and free text were left out


def event_key(tenant: str, event_id: str) -> dict[str, str]:
    """The key of an event's item."""
    return {"pk": keys.event_pk(tenant, event_id), "sk": keys.EVENT_SK}


def event_item(event: StoredEvent) -> dict[str, Any]:
    """The EventsTable item of ``event`` (see the module docstring for every caller)."""
    occurred = iso(event.occurred_at)
    item: dict[str, Any] = {
        **event_key(event.tenant_id, event.event_id),
        "kind": "event",
        "tenant_id": event.tenant_id,
        "event_id": event.event_id,
        "type": event.type,
        "member_id": event.member_id,
        "channel": event.channel,
        "occurred_at": occurred,
        "received_at": iso(event.received_at),
        "data": event.data,
        "gsi1pk": keys.member_pk(event.tenant_id, event.member_id),
        "gsi1sk": f"{occurred}#{event.event_id}",
    }
    if event.payload_hash is not None:
        item["payload_hash"] = event.payload_hash
    if event.storefront_id is not None:
        item["storefront_id"] = event.storefront_id
    if event.key_id is not None:
        item["key_id"] = event.key_id
    if event.storefront_channel is not None:
        item["storefront_channel"] = event.storefront_channel
    if event.erased:
        item["erased"] = True
    if event.expires_at is not None:
        item["expires_at"] = int(event.expires_at.timestamp())
    if event.type in DAY_INDEXED_TYPES:
        if event.day is None:
            raise ValueError(f"event {event.event_id} ({event.type}) needs its day for the activity index")
        item.update(
            keys.day_index(event.tenant_id, event.day, event.event_id, event.type, occurred, event.event_id)
        )
    return item
