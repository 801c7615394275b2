"""What of an event's data is personal, or free text a member wrote, by event
type: what an erasure removes from stored events (``timeline.scrub_personal_data``)
and what intake never stores for an erased member (``logic.ingest_one``). Order,
cart and points data hold none. Pure: no AWS here. The profile's personal
fields are listed in ``ingest.members.projection``; docs/data-model.md maps
every place personal data lives."""

from __future__ import annotations

from typing import Any

# None: the whole data (profile events); otherwise the fields removed.
PERSONAL_EVENT_DATA: dict[str, tuple[str, ...] | None] = {
    "member.registered": None,
    "member.updated": None,
    "review.submitted": ("text",),
    "survey.answered": ("comment",),
    "page.viewed": ("title",),
}
URL_FIELDS = ("url", "referrer")  # kept without their query string and fragment


def redact(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` without its personal data and free text (see PERSONAL_EVENT_DATA)."""
    if event_type not in PERSONAL_EVENT_DATA:
        return data
    fields = PERSONAL_EVENT_DATA[event_type]
    if fields is None:
        return {}
    kept = {name: value for name, value in data.items() if name not in fields}
    for name in URL_FIELDS:
        if isinstance(kept.get(name), str):
            kept[name] = kept[name].split("?", 1)[0].split("#", 1)[0]
    return kept
