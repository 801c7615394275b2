"""Per-storefront throttling through the gateway emulation: a fixed one-second
window per storefront, the limit set by the admin API and passed by the authorizer."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import API_KEY, TENANT, Env, order_event

pytestmark = pytest.mark.integration
ADMIN = f"admin-{API_KEY}"
SECOND = 1_790_000_000  # a wall-clock second; the throttle's clock is frozen inside it


class FrozenClock:
    def __init__(self) -> None:
        self.now = SECOND + 0.25

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FrozenClock:
    from loyalty import throttle

    frozen = FrozenClock()
    monkeypatch.setattr(throttle, "wall_clock", frozen)
    return frozen


def _create(aws: Env, storefront_id: str, limit: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"storefront_id": storefront_id, "name": storefront_id, "channel": "store"}
    if limit is not None:
        body["rate_limit_per_second"] = limit
    response = aws.call("POST", "/v1/admin/storefronts", body, key=ADMIN)
    assert response.status == 201, response.json()
    return response.json()


def _everything(aws: Env) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for env_var in ("EVENTS_TABLE", "LOYALTY_TABLE", "IDEMPOTENCY_TABLE"):
        items += aws.table(env_var).scan()["Items"]
    return sorted(items, key=repr)


def _counter(aws: Env, storefront_id: str, second: int = SECOND) -> dict[str, Any] | None:
    key = {"pk": f"T#{TENANT}#THROTTLE#{storefront_id}", "sk": f"W#{second}"}
    item: dict[str, Any] | None = aws.table("LOYALTY_TABLE").get_item(Key=key).get("Item")
    return item


def test_the_fourth_request_in_a_second_is_429_and_changes_nothing(aws: Env, clock: FrozenClock) -> None:
    created = _create(aws, "pos-berlin", limit=3)
    assert created["storefront"]["rate_limit_per_second"] == 3
    key = created["key"]["api_key"]
    # Every route of the storefront counts against the same window.
    assert aws.call("POST", "/v1/events", order_event("e-1", "m-1", "10.00"), key=key).status == 202
    assert aws.call("GET", "/v1/members/m-1/events", key=key).status == 200
    assert aws.call("POST", "/v1/events", order_event("e-2", "m-1", "10.00"), key=key).status == 202

    before = _everything(aws)
    clock.now = SECOND + 0.99
    refused = aws.call("POST", "/v1/events", order_event("e-4", "m-1", "10.00"), key=key)
    assert refused.status == 429
    assert refused.json() == {
        "error": {
            "code": "throttled",
            "message": "too many requests: this storefront may send 3 per second",
            "field": None,
        }
    }
    assert refused.headers["retry-after"] == "1"
    assert refused.headers["content-type"] == "application/json"
    assert _everything(aws) == before  # not the event, not the counter: nothing
    counter = _counter(aws, "pos-berlin")
    assert counter is not None and counter["hits"] == 3
    assert counter["expires_at"] == SECOND + 1 + 120  # TTL: gone two minutes after its second

    clock.now = SECOND + 1.0  # the next window
    assert aws.call("POST", "/v1/events", order_event("e-4", "m-1", "10.00"), key=key).status == 202
    counter = _counter(aws, "pos-berlin", SECOND + 1)
    assert counter is not None and counter["hits"] == 1


def test_other_storefronts_of_the_tenant_are_unaffected(aws: Env, clock: FrozenClock) -> None:
    berlin = _create(aws, "pos-berlin", limit=3)["key"]["api_key"]
    hamburg = _create(aws, "pos-hamburg", limit=3)["key"]["api_key"]
    for _ in range(3):
        assert aws.call("GET", "/v1/members/nobody", key=berlin).status == 404
    assert aws.call("GET", "/v1/members/nobody", key=berlin).status == 429
    # Same tenant, same second: its own window.
    for _ in range(3):
        assert aws.call("GET", "/v1/members/nobody", key=hamburg).status == 404
    assert aws.call("GET", "/v1/members/nobody", key=hamburg).status == 429
    # The tenant's web shop keeps the default limit (100).
    for i in range(5):
        assert aws.call("POST", "/v1/events", order_event(f"w-{i}", "m-1", "1.00")).status == 202
    web = _counter(aws, "demo-web")
    assert web is not None and web["hits"] == 5


def test_both_keys_of_a_storefront_share_its_limit(aws: Env, clock: FrozenClock) -> None:
    first = _create(aws, "pos-berlin", limit=2)["key"]["api_key"]
    second = aws.call("POST", "/v1/admin/storefronts/pos-berlin/keys", key=ADMIN).json()["api_key"]
    assert aws.call("GET", "/v1/members/nobody", key=first).status == 404
    assert aws.call("GET", "/v1/members/nobody", key=second).status == 404
    assert aws.call("GET", "/v1/members/nobody", key=second).status == 429


def test_admin_calls_are_not_throttled(aws: Env, clock: FrozenClock) -> None:
    _create(aws, "pos-berlin", limit=1)
    for _ in range(5):
        assert aws.call("GET", "/v1/admin/storefronts/pos-berlin", key=ADMIN).status == 200
    patched = aws.call("PATCH", "/v1/admin/storefronts/pos-berlin", {"rate_limit_per_second": 1}, key=ADMIN)
    assert patched.status == 200
    counters = [i for i in aws.table("LOYALTY_TABLE").scan()["Items"] if "#THROTTLE#" in i["pk"]]
    assert counters == []  # admin requests are never counted


def test_patch_sets_the_limit_the_authorizer_passes_on(aws: Env, clock: FrozenClock) -> None:
    created = _create(aws, "pos-berlin", limit=3)
    key = created["key"]["api_key"]
    patched = aws.call("PATCH", "/v1/admin/storefronts/pos-berlin", {"rate_limit_per_second": 5}, key=ADMIN)
    assert patched.status == 200, patched.json()
    body = patched.json()
    assert body["rate_limit_per_second"] == 5
    assert [k["key_id"] for k in body["keys"]] == [created["key"]["key_id"]]
    assert aws.call("GET", "/v1/admin/storefronts/pos-berlin", key=ADMIN).json()["rate_limit_per_second"] == 5
    # The local gateway runs the authorizer on every request (AWS caches it up to 300 s).
    for _ in range(5):
        assert aws.call("GET", "/v1/members/nobody", key=key).status == 404
    assert aws.call("GET", "/v1/members/nobody", key=key).status == 429
    # Key changes after the patch keep the limit (and the patch moved the version).
    assert aws.call("POST", "/v1/admin/storefronts/pos-berlin/keys", key=ADMIN).status == 201
    assert aws.call("GET", "/v1/admin/storefronts/pos-berlin", key=ADMIN).json()["rate_limit_per_second"] == 5


def test_the_authorizer_puts_the_limit_in_the_context(aws: Env) -> None:
    from infra.definitions import AUTHORIZER
    from infra.local.runtime import invoke

    created = _create(aws, "pos-berlin", limit=7)

    def context(key: str) -> dict[str, Any]:
        request = {"type": "REQUEST", "methodArn": "arn:x/live/GET/v1", "headers": {"x-api-key": key}}
        policy = invoke(AUTHORIZER, aws.handlers[AUTHORIZER.logical_id], request)
        result: dict[str, Any] = policy["context"]
        return result

    assert context(created["key"]["api_key"])["rate_limit_per_second"] == "7"
    assert context(API_KEY)["rate_limit_per_second"] == "100"  # no limit of its own: the default
    assert "rate_limit_per_second" not in context(ADMIN)


def test_the_default_limit_comes_from_settings(
    aws: Env, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from loyalty.settings import get_settings

    monkeypatch.setenv("STOREFRONT_RATE_LIMIT", "2")
    get_settings.cache_clear()
    _create(aws, "pos-berlin")
    assert aws.call("GET", "/v1/admin/storefronts/pos-berlin", key=ADMIN).json()["rate_limit_per_second"] == 2
    assert aws.call("GET", "/v1/members/nobody").status == 404
    assert aws.call("GET", "/v1/members/nobody").status == 404
    assert aws.call("GET", "/v1/members/nobody").status == 429
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rate_limit_per_second": 0}, "rate_limit_per_second"),
        ({"rate_limit_per_second": 10_001}, "rate_limit_per_second"),
        ({"rate_limit_per_second": -5}, "rate_limit_per_second"),
        ({"rate_limit_per_second": "5"}, "rate_limit_per_second"),
        ({"rate_limit_per_second": 5.5}, "rate_limit_per_second"),
        ({"rate_limit_per_second": True}, "rate_limit_per_second"),
        ({"rate_limit_per_second": None}, "body"),  # neither a limit nor scopes
        ({}, "body"),
        ({"rate_limit_per_second": 5, "name": "x"}, "name"),
    ],
)
def test_patch_validation_errors_are_400s(aws: Env, body: dict[str, Any], field: str) -> None:
    _create(aws, "pos-berlin", limit=3)
    response = aws.call("PATCH", "/v1/admin/storefronts/pos-berlin", body, key=ADMIN)
    assert response.status == 400
    error = response.json()["error"]
    assert set(error) == {"code", "message", "field"}
    assert error["code"] == "validation_error" and error["field"] == field
    assert aws.call("GET", "/v1/admin/storefronts/pos-berlin", key=ADMIN).json()["rate_limit_per_second"] == 3


def test_patch_errors_other_than_validation(aws: Env) -> None:
    _create(aws, "pos-berlin", limit=3)
    body = {"rate_limit_per_second": 5}
    missing = aws.call("PATCH", "/v1/admin/storefronts/nope", body, key=ADMIN)
    assert missing.status == 404
    assert missing.json()["error"] == {
        "code": "not_found",
        "message": "no such storefront",
        "field": "storefront_id",
    }
    assert (
        aws.table("LOYALTY_TABLE").get_item(Key={"pk": "TENANT#demo", "sk": "STOREFRONT#nope"}).get("Item")
        is None
    )  # the update created nothing
    storefront_key = aws.call("PATCH", "/v1/admin/storefronts/pos-berlin", body, key=API_KEY)
    assert storefront_key.status == 403 and storefront_key.json()["error"]["code"] == "forbidden"
    rival = aws.call("PATCH", "/v1/admin/storefronts/pos-berlin", body, key="admin-test-key-rival")
    assert rival.status == 404
    assert aws.call("GET", "/v1/admin/storefronts/pos-berlin", key=ADMIN).json()["rate_limit_per_second"] == 3


@pytest.mark.parametrize("limit", [0, 10_001, "3"])
def test_create_validates_the_limit(aws: Env, limit: Any) -> None:
    body = {
        "storefront_id": "pos-berlin",
        "name": "Berlin",
        "channel": "store",
        "rate_limit_per_second": limit,
    }
    response = aws.call("POST", "/v1/admin/storefronts", body, key=ADMIN)
    assert response.status == 400
    assert response.json()["error"]["field"] == "rate_limit_per_second"
    assert aws.call("GET", "/v1/admin/storefronts/pos-berlin", key=ADMIN).status == 404


def test_no_storefront_limit_above_the_stage_limit(aws: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    from loyalty.settings import get_settings

    monkeypatch.setenv("API_RATE_LIMIT", "50")
    get_settings.cache_clear()
    try:
        body = {"storefront_id": "pos-1", "name": "Store", "channel": "store", "rate_limit_per_second": 51}
        refused = aws.call("POST", "/v1/admin/storefronts", body, key=ADMIN)
        assert (refused.status, refused.json()["error"]["field"]) == (400, "rate_limit_per_second")
        created = aws.call("POST", "/v1/admin/storefronts", {**body, "rate_limit_per_second": 50}, key=ADMIN)
        assert created.status == 201
        patch = aws.call("PATCH", "/v1/admin/storefronts/pos-1", {"rate_limit_per_second": 60}, key=ADMIN)
        assert patch.status == 400
        assert aws.call("GET", "/v1/admin/storefronts/pos-1", key=ADMIN).json()["rate_limit_per_second"] == 50
    finally:
        get_settings.cache_clear()
