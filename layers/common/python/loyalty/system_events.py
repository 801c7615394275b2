"""Events the system itself records in the event log (tier changes, points
about to expire): stored like storefront events, so they appear on the
member's timeline and reach stream consumers, but with ``channel`` ``system``
and a deterministic id, so recording one twice overwrites it with itself."""

from __future__ import annotations

from typing import Any

from loyalty import keys


def event_item(
    tenant: str, member: str, event_id: str, event_type: str, at: str, day: str, data: dict[str, Any]
) -> dict[str, Any]:
    return {
        "pk": keys.event_pk(tenant, event_id),
        "sk": "EVENT",
        "kind": "event",
        "tenant_id": tenant,
        "event_id": event_id,
        "type": event_type,
        "member_id": member,
        "channel": "system",
        "occurred_at": at,
        "received_at": at,
        "data": data,
        "gsi1pk": keys.member_pk(tenant, member),
        "gsi1sk": f"{at}#{event_id}",
        **keys.day_index(tenant, day, event_id, event_type, at, event_id),
    }
