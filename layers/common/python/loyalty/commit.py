"""Optimistic writes: load, decide, commit, and try again when the commit lost.

Every read-modify-write in the project goes through :func:`optimistic`. An
attempt loads what it needs, decides, and commits under a condition (a version
check, a marker that must not exist). It retries, with jittered exponential
backoff, when

* the attempt raised :class:`LostRace` (its condition failed: someone else wrote
  first), or
* DynamoDB answered with a transient fault: a transaction cancelled because it
  collided with another one (``TransactionConflict``), throttling
  (``ProvisionedThroughputExceededException``, ``ThrottlingException``,
  ``RequestLimitExceeded``), an internal error, or a connection or read timeout.

A retried attempt re-reads everything, so an attempt whose commit did reach
DynamoDB before a timeout finds its own marker or version and does nothing a
second time. When the budget is spent it raises :class:`Contention`; the API
answers 503 with ``Retry-After`` and a stream record is reported as a batch
item failure, so Lambda delivers it again.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

T = TypeVar("T")

TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TransactionConflictException",
        "TransactionInProgressException",
        "InternalServerError",
        "ServiceUnavailable",
    }
)
# Reasons in a cancelled transaction that mean "try again", not "your condition failed".
TRANSIENT_REASONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})
TIMEOUTS = (ReadTimeoutError, ConnectTimeoutError, EndpointConnectionError, ConnectionClosedError)


class LostRace(Exception):
    """The attempt's commit condition failed: the item changed since it was read."""


class Contention(RuntimeError):
    """Every attempt lost a race or met a transient fault; the caller retries later."""

    retry_after = 1  # seconds, for the API's Retry-After


def is_transient(err: BaseException) -> bool:
    """A fault that a later attempt can get past (never a failed condition)."""
    if isinstance(err, TIMEOUTS):
        return True
    if not isinstance(err, ClientError):
        return False
    error = err.response.get("Error") or {}
    code = error.get("Code")
    if code in TRANSIENT_CODES:
        return True
    if code == "TransactionCanceledException":
        reasons = {str(r.get("Code")) for r in err.response.get("CancellationReasons") or []}
        return bool(reasons & TRANSIENT_REASONS) and "ConditionalCheckFailed" not in reasons
    return False


@dataclass(frozen=True)
class Budget:
    """Attempts and backoff: attempt ``n`` waits up to ``base * 2**n`` seconds
    (full jitter), at most ``cap``."""

    attempts: int = 10
    base: float = 0.01
    cap: float = 0.4

    def pause(self, attempt: int) -> float:
        return random.uniform(0, min(self.cap, self.base * 2**attempt))  # noqa: S311 - jitter


DEFAULT_BUDGET = Budget()


def optimistic(
    attempt: Callable[[], T],
    *,
    budget: Budget = DEFAULT_BUDGET,
    sleep: Callable[[float], None] = time.sleep,
    what: str = "item",
) -> T:
    """Run ``attempt`` until it commits; retry lost races and transient faults."""
    for n in range(budget.attempts):
        try:
            return attempt()
        except LostRace:
            pass
        except (ClientError, BotoCoreError) as err:
            if not is_transient(err):
                raise
        if n + 1 < budget.attempts:
            sleep(budget.pause(n))
    raise Contention(f"the {what} kept changing or DynamoDB stayed busy over {budget.attempts} attempts")
