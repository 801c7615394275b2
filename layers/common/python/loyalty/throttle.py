"""Per-storefront request throttling: a fixed one-second window counter.

One item per (tenant, storefront) and wall-clock second, ``T#<t>#THROTTLE#<storefront>`` /
``W#<epoch second>``. Admitting a request is one UpdateItem: ``ADD hits :one`` on
condition that the window holds fewer than ``limit`` hits, so a refused request
writes nothing. Windows expire through the table's TTL (``expires_at``).

The decision logic (window key, retry-after, limit parsing) is pure; only
``admit`` touches DynamoDB."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from botocore.exceptions import ClientError

from loyalty import aws, keys
from loyalty.dynamo import is_condition_failure

WINDOW_SECONDS = 1
SHARD_CAPACITY = 500  # admitted requests per second one counter item takes
TTL_SECONDS = 120  # a window item outlives its second by two minutes, then TTL removes it
MIN_LIMIT = 1
MAX_LIMIT = 10_000
# DynamoDB throttled the counter item itself: the storefront is far over any limit.
_OVERLOAD_CODES = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)


def wall_clock() -> float:
    # Wall clock: throttling is about the real request rate, and the simulated local clock can stand still.
    return time.time()


@dataclass(frozen=True)
class Window:
    second: int  # epoch second the window starts at
    sk: str
    expires_at: int  # epoch seconds, the table's TTL attribute


@dataclass(frozen=True)
class Decision:
    admitted: bool
    retry_after: int = 0  # seconds, for the Retry-After header when not admitted


def window(now: float) -> Window:
    second = math.floor(now) - math.floor(now) % WINDOW_SECONDS
    return Window(second=second, sk=f"W#{second}", expires_at=second + WINDOW_SECONDS + TTL_SECONDS)


def retry_after(now: float) -> int:
    """Whole seconds until the next window opens (HTTP delta-seconds), at least 1."""
    return max(1, math.ceil(window(now).second + WINDOW_SECONDS - now))


def parse_limit(value: object, default: int) -> int:
    """The limit the authorizer passed in its context (API Gateway hands context
    values over as strings); ``default`` when it is missing or out of range."""
    if isinstance(value, bool):
        return default
    try:
        limit = int(str(value))
    except ValueError:
        return default
    return limit if MIN_LIMIT <= limit <= MAX_LIMIT else default


def refused(now: float) -> Decision:
    return Decision(admitted=False, retry_after=retry_after(now))


def shard_limits(limit: int) -> list[int]:
    """Each counter shard's share of ``limit`` (they add up to it exactly)."""
    shards = max(1, math.ceil(limit / SHARD_CAPACITY))
    base, extra = divmod(limit, shards)
    return [base + (1 if i < extra else 0) for i in range(shards)]


def shard_pk(tenant: str, storefront: str, shard: int) -> str:
    base = keys.throttle_pk(tenant, storefront)
    return base if shard == 0 else f"{base}#{shard}"


def shards_to_try(count: int, pick: Callable[[int], int]) -> list[int]:
    """A random shard, and one other in case it is full."""
    first = pick(count)
    return [first] if count == 1 else [first, (first + 1 + pick(count - 1)) % count]


def admit(
    table_name: str,
    tenant: str,
    storefront: str,
    limit: int,
    now: float | None = None,
    pick: Callable[[int], int] = random.randrange,
) -> Decision:
    """Count one request in the storefront's current window, or refuse it (writing nothing)."""
    at = wall_clock() if now is None else now
    current = window(at)
    limits = shard_limits(limit)
    for shard in shards_to_try(len(limits), pick):
        try:
            aws.client("dynamodb").update_item(
                TableName=table_name,
                Key={"pk": {"S": shard_pk(tenant, storefront, shard)}, "sk": {"S": current.sk}},
                UpdateExpression="ADD hits :one SET expires_at = if_not_exists(expires_at, :exp)",
                ConditionExpression="attribute_not_exists(hits) OR hits < :limit",
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":limit": {"N": str(limits[shard])},
                    ":exp": {"N": str(current.expires_at)},
                },
            )
        except ClientError as err:
            if is_condition_failure(err):
                continue  # this shard is full: try another
            if err.response.get("Error", {}).get("Code") in _OVERLOAD_CODES:
                return refused(at)
            raise
        return Decision(admitted=True)
    return refused(at)
