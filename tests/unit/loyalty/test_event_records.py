"""One event schema: the item the event log stores is the event its stream
consumers read back, every EventsTable item comes from one builder, and each
consumer has a handler for exactly the types its subscription admits."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from boto3.dynamodb.types import TypeSerializer
from pydantic import TypeAdapter, ValidationError

from infra.definitions import FUNCTIONS
from ingest.events import logic
from loyalty import keys
from loyalty.events.models import EventIn
from loyalty.events.records import EventRecord
from loyalty.events.stored import DAY_INDEXED_TYPES, StoredEvent, event_item
from loyalty.system_events import system_event
from tests.conftest import order_event

pytestmark = pytest.mark.unit
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")
_SERIALIZER = TypeSerializer()


def _record(image: dict[str, Any] | None, created: float = NOW.timestamp() + 0.75) -> dict[str, Any]:
    """A stream record as Lambda delivers it, the image in DynamoDB JSON."""
    change: dict[str, Any] = {
        "ApproximateCreationDateTime": created,
        "Keys": {"pk": {"S": "T#demo#E#e-1"}, "sk": {"S": "EVENT"}},
        "SequenceNumber": "100",
        "SizeBytes": 1,
        "StreamViewType": "NEW_IMAGE",
    }
    if image is not None:
        change["NewImage"] = {name: _SERIALIZER.serialize(value) for name, value in image.items()}
    return {
        "eventID": "e1",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-central-1",
        "eventSourceARN": "arn:aws:dynamodb:eu-central-1:000000000000:table/events/stream/1",
        "dynamodb": change,
    }


def _order() -> StoredEvent:
    raw = order_event("o-1", "m-1", "70.00")
    raw["data"]["items"] = [{"sku": "s-1", "quantity": 2, "unit_price": "35.00"}]
    event = TypeAdapter(EventIn).validate_python(raw)
    sender = logic.Sender(storefront_id="web-shop", key_id="k1", channel="app")
    return logic.to_stored(event, "demo", NOW, BERLIN, sender)


def test_the_stored_item_reads_back_as_the_event_with_decimal_numbers() -> None:
    stored = _order()
    record = EventRecord.model_validate(_record(event_item(stored)))
    read = record.event
    assert read == stored.model_copy(update={"day": None})  # the day lives only in the index key
    assert read.data["items"][0]["quantity"] == Decimal(2)
    assert isinstance(read.data["items"][0]["quantity"], Decimal)
    assert read.storefront_channel == "app" and read.channel == stored.channel
    assert record.created_at == NOW  # whole seconds


def test_an_image_that_is_not_a_stored_event_does_not_parse() -> None:
    broken = {name: value for name, value in event_item(_order()).items() if name != "member_id"}
    with pytest.raises(ValidationError) as raised:
        EventRecord.model_validate(_record(broken))
    assert raised.value.title == EventRecord.__name__  # how the batch processor tells a poison pill
    with pytest.raises(ValidationError):
        EventRecord.model_validate(_record(None))  # no new image at all


def test_storefront_events_are_in_the_activity_index_only_when_counted() -> None:
    item = event_item(_order())
    assert item["gsi2sk"].startswith("2026-03-10#order.placed#")
    assert (item["pk"], item["sk"]) == (keys.event_pk("demo", "o-1"), keys.EVENT_SK)
    assert (item["storefront_id"], item["key_id"], item["storefront_channel"]) == ("web-shop", "k1", "app")
    change = logic.stage_changed("demo", "m-1", NOW, "active", "at-risk", NOW, BERLIN)
    assert change.type not in DAY_INDEXED_TYPES and "gsi2pk" not in event_item(change)
    assert "payload_hash" in event_item(change)


def test_a_points_notice_item_is_what_the_ledger_always_stored() -> None:
    at = "2026-03-10T12:00:00.000Z"
    notice = system_event(
        "demo", "m-1", "sys:points:m-1:tier:gold", "points.tier_changed", at, "2026-03-10", {}
    )
    assert event_item(notice) == {
        "pk": "T#demo#E#sys:points:m-1:tier:gold",
        "sk": "EVENT",
        "kind": "event",
        "tenant_id": "demo",
        "event_id": "sys:points:m-1:tier:gold",
        "type": "points.tier_changed",
        "member_id": "m-1",
        "channel": "system",
        "occurred_at": at,
        "received_at": at,
        "data": {},
        "gsi1pk": "T#demo#M#m-1",
        "gsi1sk": f"{at}#sys:points:m-1:tier:gold",
        **keys.day_index(
            "demo",
            "2026-03-10",
            "sys:points:m-1:tier:gold",
            "points.tier_changed",
            at,
            "sys:points:m-1:tier:gold",
        ),
    }
    with pytest.raises(ValueError):
        system_event("demo", "m-1", "points:m-1", "points.expiring", at, "2026-03-10", {})


@pytest.mark.parametrize(
    "fn", [fn for fn in FUNCTIONS if fn.stream is not None and fn.stream.table == "EventsTable"]
)
def test_each_consumer_handles_exactly_the_types_it_subscribes_to(fn: Any) -> None:
    module = importlib.import_module(fn.handler.rsplit(".", 1)[0])
    assert module.processor.model is EventRecord
    if fn.logical_id == "CareTriggers":  # every event: the tenant's rules decide (care_rules.triggers)
        assert fn.stream.event_types == () and not hasattr(module, "HANDLERS")
        return
    assert set(module.HANDLERS) == set(fn.stream.event_types)
