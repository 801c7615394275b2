"""The payload hash behind duplicate and conflict: a canonical form of what the client sent."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
from pydantic import BaseModel, TypeAdapter, create_model

from ingest.events import logic
from loyalty.events.models import EventIn, MemberRegistered, OrderPlaced
from tests.conftest import order_event, registration

pytestmark = pytest.mark.unit
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")
_ADAPTER: TypeAdapter[EventIn] = TypeAdapter(EventIn)
ModelT = TypeVar("ModelT", bound=BaseModel)


def _event(raw: dict[str, Any]) -> EventIn:
    return _ADAPTER.validate_python(raw)


def _with_new_optional_fields(model: type[ModelT]) -> type[ModelT]:
    """The event model as a later schema might have it: new optional fields with defaults,
    on the event and on its data model."""
    data_model = model.model_fields["data"].annotation
    assert isinstance(data_model, type) and issubclass(data_model, BaseModel)
    newer_data = create_model(
        f"{data_model.__name__}Next",
        __base__=data_model,
        note=(str | None, None),
        gift_wrap=(bool, False),
        tags=(list[str], []),
    )
    return create_model(
        f"{model.__name__}Next",
        __base__=model,
        data=(newer_data, ...),
        campaign_id=(str | None, None),
    )


@pytest.mark.parametrize(
    ("model", "raw"),
    [
        (OrderPlaced, order_event("h-1", "m-1", "12.00")),
        (MemberRegistered, registration("h-2", "m-2", birthday="1990-03-11")),
    ],
    ids=["order.placed", "member.registered"],
)
def test_hash_is_unchanged_by_a_new_optional_field(
    model: type[OrderPlaced] | type[MemberRegistered], raw: dict[str, Any]
) -> None:
    today = model.model_validate(raw)
    later = _with_new_optional_fields(model).model_validate(raw)
    assert later.model_dump()["campaign_id"] is None and later.model_dump()["data"]["gift_wrap"] is False
    assert logic.payload_hash(later) == logic.payload_hash(today)
    assert logic.payload_hash(today) == logic.payload_hash(_event(raw))
    # What used to be hashed does change: every resend of an older event was a conflict.
    assert logic.legacy_payload_hash(later) != logic.legacy_payload_hash(today)


def test_explicit_null_equals_an_omitted_optional_field() -> None:
    order = order_event("h-3", "m-1", "12.00")
    with_nulls = copy.deepcopy(order)
    with_nulls["data"]["items"][0]["category"] = None
    without = copy.deepcopy(order)
    del without["data"]["items"][0]["category"]
    assert logic.payload_hash(_event(with_nulls)) == logic.payload_hash(_event(without))

    member = registration("h-4", "m-2")
    nulls = copy.deepcopy(member)
    nulls["data"].update(phone=None, birthday=None, locale=None, owner=None)
    nulls["data"]["consent"]["email"]["source"] = None
    omitted = copy.deepcopy(member)
    del omitted["data"]["consent"]["email"]["source"]
    assert logic.payload_hash(_event(nulls)) == logic.payload_hash(_event(omitted))


def _changed(raw: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(raw)
    target: Any = changed
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return changed


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("data", "total"), "99.00"),
        (("member_id",), "m-2"),
        (("channel",), "store"),
        (("occurred_at",), "2026-03-10T09:00:01Z"),
        (("data", "items", 0, "category"), "boots"),
        (("data", "items", 0, "quantity"), 2),
        (("data", "items"), []),
    ],
)
def test_a_different_value_gives_a_different_hash(path: tuple[str | int, ...], value: Any) -> None:
    raw = order_event("h-5", "m-1", "12.00")
    assert logic.payload_hash(_event(_changed(raw, path, value))) != logic.payload_hash(_event(raw))


def test_a_value_where_the_field_was_omitted_gives_a_different_hash() -> None:
    member = registration("h-6", "m-2")
    assert logic.payload_hash(_event(_changed(member, ("data", "phone"), "+4915112345678"))) != (
        logic.payload_hash(_event(member))
    )


class _Store:
    def __init__(self, stored_hash: str) -> None:
        self.stored_hash = stored_hash

    def is_erased(self, tenant_id: str, member_id: str) -> bool:
        return False

    def put_new(self, event: logic.StoredEvent) -> str | None:
        return self.stored_hash


def test_a_stored_legacy_hash_is_a_duplicate_and_anything_else_a_conflict() -> None:
    event = _event(registration("h-7", "m-2", birthday="1990-03-11"))
    legacy = logic.legacy_payload_hash(event)
    assert legacy != logic.payload_hash(event)
    assert logic.ingest_one(event, "t", NOW, BERLIN, _Store(legacy)).status == "duplicate"
    assert logic.ingest_one(event, "t", NOW, BERLIN, _Store(logic.payload_hash(event))).status == "duplicate"
    other = _event(registration("h-7", "m-2", birthday="1990-03-12"))
    result = logic.ingest_one(event, "t", NOW, BERLIN, _Store(logic.legacy_payload_hash(other)))
    assert result.status == "conflict" and result.errors[0].code == "conflict"
