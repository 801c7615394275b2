"""POST /v1/events through the gateway emulation: real API Gateway events, authorizer included."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

import pytest

from tests.conftest import OTHER_API_KEY, Env, order_event, registration

pytestmark = pytest.mark.integration


def test_single_event_is_accepted_then_duplicate(aws: Env) -> None:
    event = order_event("e-1", "m-1", "12.00")
    first = aws.call("POST", "/v1/events", event)
    assert first.status == 202
    assert first.json()["results"] == [
        {"event_id": "e-1", "status": "accepted", "errors": [], "warnings": []}
    ]
    again = aws.call("POST", "/v1/events", event)
    assert again.status == 200
    assert again.json()["results"][0]["status"] == "duplicate"


def test_same_id_different_payload_is_a_conflict_and_changes_nothing(aws: Env) -> None:
    assert aws.call("POST", "/v1/events", order_event("e-1", "m-1", "12.00")).status == 202
    conflict = aws.call("POST", "/v1/events", order_event("e-1", "m-1", "99.00"))
    assert conflict.status == 409
    assert conflict.json()["error"]["code"] == "conflict"
    stored = aws.table("EVENTS_TABLE").get_item(Key={"pk": "T#demo#E#e-1", "sk": "EVENT"})["Item"]
    assert stored["data"]["total"] == "12.00"


def test_equal_instant_in_another_offset_is_a_duplicate(aws: Env) -> None:
    aws.call("POST", "/v1/events", order_event("e-1", "m-1", "5.00", at="2026-03-10T09:00:00Z"))
    again = aws.call("POST", "/v1/events", order_event("e-1", "m-1", "5.00", at="2026-03-10T10:00:00+01:00"))
    assert again.json()["results"][0]["status"] == "duplicate"


def _hash_as_stored_before(event: dict) -> str:
    """payload_hash as events were stored before it left out unsent fields: the full model
    dump, every default and null included, occurred_at in UTC, keys sorted, compact."""
    from ingest.events.models import EventBatch, EventsRequest
    from loyalty.timeutil import iso

    model = EventsRequest.model_validate(event).root
    assert not isinstance(model, EventBatch)  # one event, not a batch
    body = model.model_dump(mode="json")
    assert isinstance(model.occurred_at, datetime)
    body["occurred_at"] = iso(model.occurred_at)
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def test_resend_of_an_event_stored_with_the_legacy_hash_is_a_duplicate(aws: Env) -> None:
    event = registration("l-1", "m-1", birthday="1990-03-11", at="2026-03-10T09:00:00Z")
    assert aws.call("POST", "/v1/events", event).status == 202
    table = aws.table("EVENTS_TABLE")
    key = {"pk": "T#demo#E#l-1", "sk": "EVENT"}
    legacy = _hash_as_stored_before(event)
    assert table.get_item(Key=key)["Item"]["payload_hash"] != legacy  # new events get the canonical hash
    table.update_item(
        Key=key, UpdateExpression="SET payload_hash = :h", ExpressionAttributeValues={":h": legacy}
    )

    again = aws.call("POST", "/v1/events", event)
    assert again.status == 200 and again.json()["results"][0]["status"] == "duplicate"
    batch = aws.call("POST", "/v1/events", {"events": [event]})
    assert batch.json()["results"][0]["status"] == "duplicate"
    changed = registration("l-1", "m-1", birthday="1990-03-12", at="2026-03-10T09:00:00Z")
    conflict = aws.call("POST", "/v1/events", changed)
    assert conflict.status == 409 and conflict.json()["error"]["code"] == "conflict"
    assert table.get_item(Key=key)["Item"]["payload_hash"] == legacy


def test_batch_returns_a_result_per_event_in_order(aws: Env) -> None:
    good = order_event("b-1", "m-1", "10.00")
    bad = order_event("b-2", "m-1", "ten euros")
    unknown = {**order_event("b-3", "m-1", "1.00"), "type": "order.teleported"}
    response = aws.call("POST", "/v1/events", {"events": [good, bad, unknown, good]})
    assert response.status == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected", "rejected", "duplicate"]
    assert results[1]["errors"][0]["field"] == "data.total"
    assert results[2]["errors"][0]["field"] == "type"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**order_event("x", "m", "1.00"), "occurred_at": "2026-03-10T09:00:00"}, "occurred_at"),
        ({**order_event("x", "m", "1.00"), "occurred_at": "0001-01-01T00:00:00+00:03"}, "occurred_at"),
        ({**order_event("x", "m", "1.00"), "occurred_at": "9999-12-31T23:59:00-01:00"}, "occurred_at"),
        ({**order_event("x", "m", "1.00"), "channel": "fax"}, "channel"),
        ({**order_event("x", "m", "1.00"), "member_id": ""}, "member_id"),
        ({**order_event("x", "m", "1.00"), "event_id": "x" * 129}, "event_id"),
        ({**order_event("x", "m", "1.00"), "surprise": 1}, "surprise"),
        ({**order_event("x", "m", "1.00"), "type": "nope"}, "type"),
    ],
)
def test_invalid_single_event_gets_400_with_field(aws: Env, body: dict, field: str) -> None:
    response = aws.call("POST", "/v1/events", body)
    assert response.status == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["field"] == field
    assert "Item" not in aws.table("EVENTS_TABLE").get_item(Key={"pk": "T#demo#E#x", "sk": "EVENT"})


def test_event_far_in_the_future_is_rejected(aws: Env) -> None:
    response = aws.call("POST", "/v1/events", order_event("f-1", "m-1", "1.00", at="2026-03-10T12:06:00Z"))
    assert response.status == 400
    assert response.json()["error"]["code"] == "occurred_in_future"
    near = aws.call("POST", "/v1/events", order_event("f-2", "m-1", "1.00", at="2026-03-10T12:04:00Z"))
    assert near.status == 202


def test_malformed_json_and_wrong_content_type_are_4xx(aws: Env) -> None:
    assert aws.call("POST", "/v1/events", raw=b"{not json").status == 400
    wrong = aws.call(
        "POST", "/v1/events", raw=b"a=1", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert wrong.status == 415
    assert wrong.json()["error"]["code"] == "unsupported_media_type"


def test_oversized_batch_is_rejected_whole(aws: Env) -> None:
    events = [order_event(f"o-{i}", "m-1", "1.00") for i in range(101)]
    response = aws.call("POST", "/v1/events", {"events": events})
    assert response.status == 400
    assert response.json()["error"]["field"] == "events"
    assert "Item" not in aws.table("EVENTS_TABLE").get_item(Key={"pk": "T#demo#E#o-0", "sk": "EVENT"})


def test_missing_or_unknown_key_is_401(aws: Env) -> None:
    assert aws.call("POST", "/v1/events", order_event("k", "m", "1.00"), key=None).status == 401
    response = aws.call("POST", "/v1/events", order_event("k", "m", "1.00"), key="not-a-key")
    assert response.status == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_tenants_are_isolated(aws: Env) -> None:
    aws.call("POST", "/v1/events", order_event("t-1", "shared-id", "50.00"))
    # The rival storefront uses the same event id: a separate event in its own tenant.
    rival = aws.call("POST", "/v1/events", order_event("t-1", "shared-id", "7.00"), key=OTHER_API_KEY)
    assert rival.status == 202
    aws.pump().drain()
    mine = aws.call("GET", "/v1/members/shared-id").json()
    theirs = aws.call("GET", "/v1/members/shared-id", key=OTHER_API_KEY).json()
    assert mine["points"]["pending"] == 50
    assert theirs["points"]["pending"] == 7


def test_unknown_route_and_method(aws: Env) -> None:
    assert aws.call("GET", "/v1/nothing").status == 404
    assert aws.call("DELETE", "/v1/events").status == 405


def _typed(event_type: str, data: dict, event_id: str = "t-1") -> dict:
    return {
        "event_id": event_id,
        "type": event_type,
        "occurred_at": "2026-03-10T09:00:00Z",
        "member_id": "m-1",
        "channel": "app",
        "data": data,
    }


@pytest.mark.parametrize(
    ("event_type", "data"),
    [
        ("order.cancelled", {"order_id": "o-1", "reason": "changed mind"}),
        ("page.viewed", {"url": "https://shop.example/boots", "title": "Boots"}),
        (
            "cart.updated",
            {
                "cart_id": "c-1",
                "currency": "CNY",
                "items": [{"sku": "boot-42", "quantity": 1, "unit_price": "99.00"}],
            },
        ),
        ("review.submitted", {"review_id": "r-1", "sku": "boot-42", "rating": 5}),
        ("survey.answered", {"survey_id": "s-1", "kind": "nps", "score": 0}),
        ("survey.answered", {"survey_id": "s-2", "kind": "csat", "score": 5}),
        ("referral.completed", {"referral_id": "ref-1", "referred_member_id": "m-2"}),
        ("member.updated", {"phone": "+4915112345678", "owner": "rep-7", "birthday": "--02-29"}),
    ],
)
def test_every_event_type_is_accepted(aws: Env, event_type: str, data: dict) -> None:
    response = aws.call("POST", "/v1/events", _typed(event_type, data))
    assert response.status == 202, response.json()


@pytest.mark.parametrize(
    ("event_type", "data", "field"),
    [
        ("survey.answered", {"survey_id": "s", "kind": "nps", "score": 11}, "data"),
        ("survey.answered", {"survey_id": "s", "kind": "csat", "score": 0}, "data"),
        ("review.submitted", {"review_id": "r", "rating": 6}, "data.rating"),
        ("member.updated", {"birthday": "1990-02-30"}, "data.birthday"),
        ("member.updated", {"time_zone": "Mars/Olympus"}, "data.time_zone"),
        ("member.updated", {"phone": "0151 123"}, "data.phone"),
        ("order.placed", {"order_id": "o", "currency": "eur", "total": "1.00"}, "data.currency"),
        ("order.placed", {"order_id": "o", "currency": "CNY", "total": "-1.00"}, "data.total"),
    ],
)
def test_bad_event_data_is_rejected_with_its_field(aws: Env, event_type: str, data: dict, field: str) -> None:
    response = aws.call("POST", "/v1/events", _typed(event_type, data))
    assert response.status == 400
    assert response.json()["error"]["field"] == field


def test_page_views_expire_and_orders_are_kept(aws: Env) -> None:
    aws.call("POST", "/v1/events", _typed("page.viewed", {"url": "https://shop.example/"}, "pv-1"))
    aws.call("POST", "/v1/events", order_event("o-keep", "m-1", "1.00"))
    table = aws.table("EVENTS_TABLE")
    viewed = table.get_item(Key={"pk": "T#demo#E#pv-1", "sk": "EVENT"})["Item"]
    assert int(viewed["expires_at"]) == int(aws.now.timestamp()) + 90 * 86400
    assert "expires_at" not in table.get_item(Key={"pk": "T#demo#E#o-keep", "sk": "EVENT"})["Item"]


def test_body_over_one_mebibyte_is_413_and_stores_nothing(aws: Env) -> None:
    big = _typed("page.viewed", {"url": "https://shop.example/" + "a" * 2000}, "big-0")
    events = [{**big, "event_id": f"big-{i}"} for i in range(600)]
    response = aws.call("POST", "/v1/events", {"events": events})
    assert response.status == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert "Item" not in aws.table("EVENTS_TABLE").get_item(Key={"pk": "T#demo#E#big-0", "sk": "EVENT"})


def test_every_event_records_the_storefront_and_key_that_sent_it(aws: Env) -> None:
    sale = order_event("pos-sale-1", "m-1", "30.00")
    sale["channel"] = "store"  # the web shop's key reports a sale made in a store
    assert aws.call("POST", "/v1/events", sale).status == 202
    stored = aws.table("EVENTS_TABLE").get_item(Key={"pk": "T#demo#E#pos-sale-1", "sk": "EVENT"})["Item"]
    assert stored["channel"] == "store"
    assert (stored["storefront_id"], stored["storefront_channel"]) == ("demo-web", "web")
    assert stored["key_id"]  # which of the storefront's keys, not the key itself
    assert stored["key_id"] not in ("test-key-demo",) and "test-key-demo" not in str(stored)
    event = aws.call("GET", "/v1/members/m-1/events").json()["events"][0]
    assert (event["channel"], event["storefront_id"]) == ("store", "demo-web")
