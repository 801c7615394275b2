"""What a care email says and to whom: the template variables, the locale and the
message. Pure: no AWS here (``care_rules.rendering`` renders the templates).

The variables (docs/care-rules.md, "Templates") come from the member's facts and, for
a rule triggered by an event, the event: ``order`` for ``order.*`` events, ``ticket``
for ``ticket.*`` events, ``expiring`` from a ``points.expiring`` event or else from the
points account's stored ``expiring`` lots. A marketing email carries ``unsubscribe_url``
and the RFC 8058 headers; a transactional one carries the link only when it is given."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from care_rules import rendering
from care_rules.engine import Facts
from loyalty.messages import Email

Item = dict[str, Any]


def plain(value: Any) -> Any:
    """A stored value with DynamoDB's Decimals as ints where integral, else decimal strings."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [plain(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    return value


def _expiring(facts: Facts, event: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if event is not None and event.get("type") == "points.expiring":
        data = event.get("data") or {}
        lots = list(data.get("lots") or [])
        first = min((str(lot.get("expires_on")) for lot in lots), default=None)
        return {"points": int(data.get("points", 0)), "date": first}
    stored = {str(day): int(points) for day, points in (facts.balance.get("expiring") or {}).items()}
    if not stored:
        return None
    return {"points": sum(stored.values()), "date": min(stored)}


def _order(event: Mapping[str, Any]) -> dict[str, Any]:
    data = event.get("data") or {}
    return {
        "order_id": data.get("order_id"),
        "total": None if data.get("total") is None else str(data["total"]),
        "currency": data.get("currency") or "CNY",
    }


def _ticket(event: Mapping[str, Any]) -> dict[str, Any]:
    data = event.get("data") or {}
    return {"ticket_id": data.get("ticket_id"), "subject": data.get("subject") or ""}


def variables(
    facts: Facts,
    event: Mapping[str, Any] | None,
    *,
    locale: str,
    program_name: str,
    unsubscribe_url: str | None,
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "member": {
            "member_id": facts.member_id,
            "name": str(facts.profile.get("name") or ""),
            "tier": facts.tier,
            "points": {
                "available": int(facts.balance.get("available", 0)),
                "pending": int(facts.balance.get("pending", 0)),
            },
            "locale": locale,
        },
        "program": {"name": program_name},
    }
    expiring = _expiring(facts, event)
    if expiring is not None:
        found["expiring"] = expiring
    kind = str((event or {}).get("type") or "")
    if event is not None and kind.startswith("order."):
        found["order"] = _order(event)
    if event is not None and kind.startswith("ticket."):
        found["ticket"] = _ticket(event)
    if event is not None:
        found["event"] = {"type": kind, "data": plain(dict(event.get("data") or {}))}
    if unsubscribe_url:
        found["unsubscribe_url"] = unsubscribe_url
    return found


def member_locale(facts: Facts, tenant_locale: str) -> str:
    return rendering.pick_locale(facts.profile.get("locale"), tenant_locale)


def email(
    to: str,
    rendered: rendering.Rendered,
    *,
    tags: dict[str, str],
    unsubscribe_headers: dict[str, str] | None,
) -> Email:
    return Email(
        to=[to],
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        tags=tags,
        headers=dict(unsubscribe_headers or {}),
    )
