"""Which survey answers rate a ticket (tickets.csat), as the stream delivers them
(numbers as Decimal), and why a refused rating was refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from loyalty.events.stored import StoredEvent
from tickets import csat

pytestmark = pytest.mark.unit

AT = datetime(2026, 3, 10, 19, 0, tzinfo=timezone(timedelta(hours=8)))


def _event(type_: str = "survey.answered", **data: Any) -> StoredEvent:
    return StoredEvent(
        tenant_id="demo",
        event_id="sv-1",
        type=type_,
        member_id="m-1",
        channel="web",
        occurred_at=AT,
        received_at=datetime(2026, 3, 10, 11, 1, tzinfo=UTC),
        data={"survey_id": "s", "kind": "csat", "score": Decimal(4), "ticket_id": "tk_01", **data},
    )


def test_a_csat_answer_naming_a_ticket_rates_it_at_its_instant_in_utc() -> None:
    assert csat.csat_answer(_event()) == csat.CsatAnswer(
        tenant_id="demo",
        member_id="m-1",
        ticket_id="tk_01",
        score=4,
        at="2026-03-10T11:00:00.000Z",
        event_id="sv-1",
    )


@pytest.mark.parametrize(
    "event",
    [
        _event(kind="nps"),
        _event(ticket_id=None),
        _event(ticket_id=""),
        _event(score=Decimal(0)),
        _event(score=Decimal(6)),
        _event(score=Decimal("4.5")),
        _event(score=True),
        _event(score="4"),
        _event("review.submitted"),
    ],
    ids=["nps", "no-ticket", "empty-ticket", "zero", "six", "fraction", "bool", "text", "other-type"],
)
def test_anything_else_rates_nothing(event: StoredEvent) -> None:
    assert csat.csat_answer(event) is None


def test_the_refusal_says_why() -> None:
    answer = csat.csat_answer(_event())
    assert answer is not None
    assert csat.refusal(answer, False, None) == "unknown_ticket"
    assert csat.refusal(answer, True, None) == "other_member"  # a ticket without a member
    assert csat.refusal(answer, True, "m-2") == "other_member"
    assert csat.refusal(answer, True, "m-1") == "not_newer"
