"""Pure logic: no AWS, no moto."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from pydantic import TypeAdapter

from ingest.events import logic as ingest
from ingest.events.models import EventIn
from ingest.members.projection import MemberStats, apply_order, birthday_month_day, profile_changes
from loyalty.program import Points
from points.ledger import quote

pytestmark = pytest.mark.unit
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")


def _event(**overrides: object) -> EventIn:
    body: dict[str, object] = {
        "event_id": "e-1",
        "type": "order.placed",
        "occurred_at": "2026-03-10T09:00:00Z",
        "member_id": "m-1",
        "channel": "web",
        "data": {"order_id": "o-1", "currency": "CNY", "total": "10.00"},
    }
    body.update(overrides)
    return TypeAdapter(EventIn).validate_python(body)


class FakeStore:
    def __init__(self) -> None:
        self.hashes: dict[str, str] = {}

    def is_erased(self, tenant_id: str, member_id: str) -> bool:
        return False

    def put_new(self, event: ingest.StoredEvent) -> str | None:
        if event.event_id in self.hashes:
            return self.hashes[event.event_id]
        assert event.payload_hash is not None  # intake always hashes what was sent
        self.hashes[event.event_id] = event.payload_hash
        return None


def test_payload_hash_ignores_offset_notation_but_not_content() -> None:
    a = ingest.payload_hash(_event())
    assert a == ingest.payload_hash(_event(occurred_at="2026-03-10T10:00:00+01:00"))
    assert a != ingest.payload_hash(_event(member_id="m-2"))


def test_ingest_one_outcomes() -> None:
    store = FakeStore()
    assert ingest.ingest_one(_event(), "t", NOW, BERLIN, store).status == "accepted"
    assert ingest.ingest_one(_event(), "t", NOW, BERLIN, store).status == "duplicate"
    assert ingest.ingest_one(_event(member_id="x"), "t", NOW, BERLIN, store).status == "conflict"
    future = _event(event_id="e-2", occurred_at="2026-03-10T12:05:01Z")
    assert ingest.ingest_one(future, "t", NOW, BERLIN, store).status == "rejected"
    assert "e-2" not in store.hashes


def test_stored_day_uses_program_time_zone() -> None:
    stored = ingest.to_stored(_event(occurred_at="2026-03-10T23:30:00Z"), "t", NOW, BERLIN)
    assert stored.day == "2026-03-11"


def test_money_is_never_a_float() -> None:
    with pytest.raises(ValueError):
        _event(data={"order_id": "o", "currency": "CNY", "total": 10.5})
    with pytest.raises(ValueError):
        _event(data={"order_id": "o", "currency": "CNY", "total": "1e3"})


def test_stats_keep_event_time_order() -> None:
    stats = apply_order(MemberStats(), "2026-03-05T00:00:00.000Z", Decimal("10"), 365)
    stats = apply_order(stats, "2026-03-01T00:00:00.000Z", Decimal("5.55"), 365)
    assert (stats.orders_count, stats.total_spend) == (2, Decimal("15.55"))
    assert stats.first_order_at == "2026-03-01T00:00:00.000Z"
    assert stats.last_order_at == "2026-03-05T00:00:00.000Z"
    assert stats.average_order_value == Decimal("7.78")


def test_profile_changes_leave_absent_fields() -> None:
    assert profile_changes({"email": "a@b.c", "name": None}) == {"email": "a@b.c"}
    assert birthday_month_day("--02-29") == birthday_month_day("2000-02-29") == "02-29"


@pytest.mark.parametrize(
    ("total", "expected"), [("0.99", 0), ("1", 1), ("120.99", 120), ("1000000.00", 1000000)]
)
def test_points_floor_whole_units(total: str, expected: int) -> None:
    day = date(2026, 3, 10)
    found = quote(Decimal(total), [], day, "member", Points(), first_order=False, birthday_month=False)
    assert found.order_points == expected


def test_redact_keeps_no_personal_data_or_free_text() -> None:
    from ingest.events.privacy import redact

    assert redact("member.updated", {"email": "a@b.c", "name": "Ann"}) == {}
    assert redact("review.submitted", {"review_id": "r", "rating": 4, "text": "great"}) == {
        "review_id": "r",
        "rating": 4,
    }
    page = {
        "url": "https://s.example/p?e=a%40b.c#top",
        "title": "Ann's wishlist",
        "referrer": "https://x/?q=1",
    }
    assert redact("page.viewed", page) == {"url": "https://s.example/p", "referrer": "https://x/"}
    order = {"order_id": "o", "total": "1.00"}
    assert redact("order.placed", order) is order
