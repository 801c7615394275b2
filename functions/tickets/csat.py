"""Which survey answers rate a ticket, and what a refused rating means. Pure: no AWS.

Guarantees: :func:`csat_answer` turns a stored ``survey.answered`` event into the
rating of one ticket only when its ``data.kind`` is ``csat``, it names a ``ticket_id``
and its score is a whole number from 1 to 5 (an NPS answer, or a CSAT answer without a
ticket, rates nothing). A rating carries the event's ``occurred_at`` (canonical ISO,
so instants compare as strings) and id: the latest answer wins, and a redelivery or an
older answer changes nothing (``tickets.csat_store``). :func:`refusal` names why a
rating was not applied: the ticket is unknown, belongs to another member, or already
holds an answer as new or newer."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from loyalty.events.stored import StoredEvent
from loyalty.timeutil import iso

SURVEY_ANSWERED = "survey.answered"
CSAT_KIND = "csat"
LOWEST, HIGHEST = 1, 5

Refusal = Literal["unknown_ticket", "other_member", "not_newer"]


@dataclass(frozen=True)
class CsatAnswer:
    """A member's rating of one of their tickets."""

    tenant_id: str
    member_id: str
    ticket_id: str
    score: int
    at: str  # the answer's occurred_at, canonical ISO (loyalty.timeutil.iso)
    event_id: str


def _score(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    if value != int(value) or not LOWEST <= int(value) <= HIGHEST:
        return None
    return int(value)


def csat_answer(event: StoredEvent) -> CsatAnswer | None:
    """The ticket rating ``event`` carries, or None when it rates no ticket."""
    data = event.data
    if event.type != SURVEY_ANSWERED or data.get("kind") != CSAT_KIND:
        return None
    ticket_id = data.get("ticket_id")
    score = _score(data.get("score"))
    if not isinstance(ticket_id, str) or not ticket_id or score is None:
        return None
    return CsatAnswer(
        tenant_id=event.tenant_id,
        member_id=event.member_id,
        ticket_id=ticket_id,
        score=score,
        at=iso(event.occurred_at),
        event_id=event.event_id,
    )


def refusal(answer: CsatAnswer, ticket_exists: bool, ticket_member: str | None) -> Refusal:
    """Why a rating whose conditional write failed was not applied, from the ticket as
    it stood (whether it exists, whose it is)."""
    if not ticket_exists:
        return "unknown_ticket"
    if ticket_member != answer.member_id:
        return "other_member"
    return "not_newer"
