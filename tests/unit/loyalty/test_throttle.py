"""Per-storefront throttling: the window and decision logic, and resolve() in front
of a handler, against a fake DynamoDB client (no AWS, no moto)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from loyalty import api, throttle

pytestmark = pytest.mark.unit
SECOND = 1_790_000_000


def _client_error(code: str, message: str = "") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "UpdateItem")


class FakeDynamo:
    """Just enough of UpdateItem for the counter: ADD with ``hits < :limit``."""

    def __init__(self, error: ClientError | None = None) -> None:
        self.error = error
        self.calls: list[dict[str, Any]] = []
        self.hits: dict[tuple[str, str], int] = {}

    def update_item(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.error is not None:
            raise self.error
        key = (kwargs["Key"]["pk"]["S"], kwargs["Key"]["sk"]["S"])
        limit = int(kwargs["ExpressionAttributeValues"][":limit"]["N"])
        if self.hits.get(key, 0) >= limit:
            raise _client_error("ConditionalCheckFailedException", "The conditional request failed")
        self.hits[key] = self.hits.get(key, 0) + 1
        return {}


@pytest.fixture
def dynamo(monkeypatch: pytest.MonkeyPatch) -> FakeDynamo:
    fake = FakeDynamo()
    monkeypatch.setattr(throttle.aws, "client", lambda service: fake)
    return fake


@pytest.mark.parametrize(
    ("now", "second"),
    [(SECOND, SECOND), (SECOND + 0.001, SECOND), (SECOND + 0.999999, SECOND), (SECOND + 1, SECOND + 1)],
)
def test_a_window_is_one_wall_clock_second(now: float, second: int) -> None:
    window = throttle.window(now)
    assert window.second == second
    assert window.sk == f"W#{second}"
    assert window.expires_at == second + 1 + throttle.TTL_SECONDS


@pytest.mark.parametrize("now", [SECOND, SECOND + 0.01, SECOND + 0.5, SECOND + 0.999])
def test_retry_after_is_whole_seconds_until_the_next_window(now: float) -> None:
    assert throttle.retry_after(now) == 1
    assert throttle.refused(now) == throttle.Decision(admitted=False, retry_after=1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3", 3),
        (3, 3),
        ("10000", 10_000),
        ("1", 1),
        (None, 100),
        ("", 100),
        ("abc", 100),
        ("2.5", 100),
        ("0", 100),
        ("-1", 100),
        ("10001", 100),
        (True, 100),
    ],
)
def test_the_limit_from_the_authorizer_context_falls_back_to_the_default(
    value: object, expected: int
) -> None:
    assert throttle.parse_limit(value, 100) == expected


def test_admit_counts_until_the_limit_then_refuses_until_the_next_second(dynamo: FakeDynamo) -> None:
    decisions = [throttle.admit("t", "demo", "pos-1", 3, now=SECOND + i / 10) for i in range(5)]
    assert [d.admitted for d in decisions] == [True, True, True, False, False]
    assert decisions[3].retry_after == 1
    assert throttle.admit("t", "demo", "pos-2", 3, now=SECOND + 0.5).admitted  # another storefront
    assert throttle.admit("t", "demo", "pos-1", 3, now=SECOND + 1).admitted  # the next window
    assert dynamo.hits == {
        ("T#demo#THROTTLE#pos-1", f"W#{SECOND}"): 3,
        ("T#demo#THROTTLE#pos-2", f"W#{SECOND}"): 1,
        ("T#demo#THROTTLE#pos-1", f"W#{SECOND + 1}"): 1,
    }


def test_admit_is_one_conditional_update_with_a_ttl(dynamo: FakeDynamo) -> None:
    throttle.admit("loyalty", "demo", "pos-1", 7, now=SECOND + 0.5)
    (call,) = dynamo.calls
    assert call["TableName"] == "loyalty"
    assert call["Key"] == {"pk": {"S": "T#demo#THROTTLE#pos-1"}, "sk": {"S": f"W#{SECOND}"}}
    assert call["UpdateExpression"].startswith("ADD hits :one")
    assert "expires_at" in call["UpdateExpression"]
    assert call["ConditionExpression"] == "attribute_not_exists(hits) OR hits < :limit"
    assert call["ExpressionAttributeValues"] == {
        ":one": {"N": "1"},
        ":limit": {"N": "7"},
        ":exp": {"N": str(SECOND + 1 + throttle.TTL_SECONDS)},
    }


def test_admit_reads_the_injectable_wall_clock(dynamo: FakeDynamo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(throttle, "wall_clock", lambda: SECOND + 42.7)
    throttle.admit("t", "demo", "pos-1", 1)
    assert dynamo.calls[0]["Key"]["sk"] == {"S": f"W#{SECOND + 42}"}


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "ThrottlingException"])
def test_a_counter_throttled_by_dynamodb_is_refused(monkeypatch: pytest.MonkeyPatch, code: str) -> None:
    monkeypatch.setattr(throttle.aws, "client", lambda service: FakeDynamo(_client_error(code)))
    assert throttle.admit("t", "demo", "pos-1", 3, now=SECOND) == throttle.Decision(False, 1)


def test_only_the_error_code_means_throttled(monkeypatch: pytest.MonkeyPatch) -> None:
    # A message that reads like a failed condition is not one: the code decides.
    error = _client_error("ValidationException", "The conditional request failed")
    monkeypatch.setattr(throttle.aws, "client", lambda service: FakeDynamo(error))
    with pytest.raises(ClientError):
        throttle.admit("t", "demo", "pos-1", 3, now=SECOND)


# resolve(): the throttle runs before the handler ---------------------------------


class RecordingApp:
    def __init__(self) -> None:
        self.resolved = 0

    def resolve(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.resolved += 1
        return {"statusCode": 200, "headers": {}, "body": "{}"}


def _event(**identity: Any) -> dict[str, Any]:
    return {"body": None, "headers": {}, "requestContext": {"authorizer": identity}}


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Any:
    from loyalty.settings import get_settings

    monkeypatch.setenv("LOYALTY_TABLE", "loyalty")
    monkeypatch.setenv("STOREFRONT_RATE_LIMIT", "2")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_resolve_answers_429_before_the_handler_runs(dynamo: FakeDynamo, settings: Any) -> None:
    app = RecordingApp()
    event = _event(tenant_id="demo", role="storefront", storefront="pos-1", rate_limit_per_second="1")
    assert api.resolve(app, event, None)["statusCode"] == 200  # type: ignore[arg-type]
    refused = api.resolve(app, event, None)  # type: ignore[arg-type]
    assert app.resolved == 1
    assert refused["statusCode"] == 429
    assert refused["headers"]["Retry-After"] == "1"
    assert json.loads(refused["body"]) == {
        "error": {
            "code": "throttled",
            "message": "too many requests: this storefront may send 1 per second",
            "field": None,
        }
    }


def test_resolve_uses_the_default_when_the_context_has_no_limit(dynamo: FakeDynamo, settings: Any) -> None:
    # e.g. an authorizer decision cached before the limit was passed on
    app = RecordingApp()
    event = _event(tenant_id="demo", role="storefront", storefront="pos-1")
    statuses = [api.resolve(app, event, None)["statusCode"] for _ in range(3)]  # type: ignore[arg-type]
    assert statuses == [200, 200, 429]


@pytest.mark.parametrize(
    "identity",
    [
        {"tenant_id": "demo", "role": "admin", "storefront": ""},
        {"tenant_id": "demo", "role": "admin", "storefront": "", "rate_limit_per_second": "1"},
        {},
    ],
)
def test_resolve_counts_storefront_keys_only(dynamo: FakeDynamo, settings: Any, identity: Any) -> None:
    app = RecordingApp()
    for _ in range(5):
        assert api.resolve(app, _event(**identity), None)["statusCode"] == 200  # type: ignore[arg-type]
    assert dynamo.calls == []


def test_a_high_limit_is_split_over_shards_that_add_up_to_it() -> None:
    assert throttle.shard_limits(100) == [100]
    assert throttle.shard_limits(500) == [500]
    assert throttle.shard_limits(501) == [251, 250]
    assert throttle.shard_limits(10_000) == [500] * 20
    assert all(
        sum(throttle.shard_limits(n)) == n and max(throttle.shard_limits(n)) <= throttle.SHARD_CAPACITY
        for n in range(1, 10_001, 37)
    )


def test_shards_never_admit_more_than_the_limit_and_no_item_takes_more_than_its_share(
    dynamo: FakeDynamo,
) -> None:
    import random as stdlib_random

    chooser = stdlib_random.Random(7)
    admitted = sum(
        throttle.admit("t", "demo", "pos-1", 1_200, now=SECOND + 0.5, pick=chooser.randrange).admitted
        for _ in range(1_500)
    )
    assert 1_190 <= admitted <= 1_200  # a request refused by two full shards may leave a little unused
    assert {k[0] for k in dynamo.hits} == {
        "T#demo#THROTTLE#pos-1",
        "T#demo#THROTTLE#pos-1#1",
        "T#demo#THROTTLE#pos-1#2",
    }
    assert max(dynamo.hits.values()) <= 400
    writes_per_admitted = len(dynamo.calls) / 1_500
    assert writes_per_admitted < 2


def test_a_full_shard_sends_the_request_to_another(dynamo: FakeDynamo) -> None:
    for _ in range(251):  # the first shard first every time, until it is full
        assert throttle.admit("t", "demo", "pos-1", 501, now=SECOND, pick=lambda n: 0).admitted
    assert dynamo.hits[("T#demo#THROTTLE#pos-1", f"W#{SECOND}")] == 251
    assert throttle.admit("t", "demo", "pos-1", 501, now=SECOND, pick=lambda n: 0).admitted  # to shard 1
    assert dynamo.hits[("T#demo#THROTTLE#pos-1#1", f"W#{SECOND}")] == 1
