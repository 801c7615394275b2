"""Many clients at once against the local stack: every connection is taken and answered."""

from __future__ import annotations

import http.client
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import LocalClient

pytestmark = pytest.mark.e2e

CLIENTS = 60
REQUESTS_PER_CLIENT = 5
# On loopback the kernel completes a connection at once while the listen queue has room.
# One it cannot queue is dropped (its SYN is retried after a second) or reset, so a
# connect that takes this long, or fails, is a connection the server did not take.
CONNECT_TIMEOUT = 0.5
READ_TIMEOUT = 10.0
BUDGET = 12.0  # seconds for the whole burst


def test_sixty_concurrent_clients_are_all_answered(local: LocalClient) -> None:
    url = urlsplit(local.url)
    assert url.hostname == "127.0.0.1" and url.port is not None
    host, port = url.hostname, url.port
    start = threading.Barrier(CLIENTS, timeout=10)
    deadline = time.monotonic() + BUDGET

    def client(number: int) -> tuple[int, list[str]]:
        answered, failures = 0, []
        start.wait()
        for request in range(REQUESTS_PER_CLIENT):
            if time.monotonic() > deadline:
                failures.append(f"client {number}: request {request} not sent within {BUDGET} s")
                break
            connection = http.client.HTTPConnection(host, port, timeout=CONNECT_TIMEOUT)
            phase = "connect"
            try:
                connection.connect()
                assert connection.sock is not None
                connection.sock.settimeout(READ_TIMEOUT)
                phase = "request"
                connection.request("GET", "/_local/clock")
                response = connection.getresponse()
                body = response.read()
                if 200 <= response.status < 300 and "now" in json.loads(body):
                    answered += 1
                else:
                    failures.append(f"client {number}: HTTP {response.status} {body[:200]!r}")
            except (OSError, http.client.HTTPException) as err:
                failures.append(f"client {number}: {phase}: {type(err).__name__}: {err}")
            finally:
                connection.close()
        return answered, failures

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        outcomes = list(pool.map(client, range(CLIENTS)))

    failures = [failure for _, client_failures in outcomes for failure in client_failures]
    assert not failures, f"{len(failures)} of {CLIENTS * REQUESTS_PER_CLIENT} failed: {failures[:10]}"
    assert sum(answered for answered, _ in outcomes) == CLIENTS * REQUESTS_PER_CLIENT


WRITERS = 8
ROUNDS = 3


def test_eight_clients_writing_to_one_member_at_once_all_succeed(local: LocalClient) -> None:
    seed = {"adjustment_id": "e2e-seed-busy", "points": 1000, "reason": "opening balance"}
    status, _ = local.request("POST", "/v1/members/e2e-busy/adjustments", seed, key="local-admin-key")
    assert status == 201
    start = threading.Barrier(WRITERS, timeout=10)

    def writer(number: int) -> list[int]:
        statuses = []
        for round_ in range(ROUNDS):
            start.wait()
            body = {"redemption_id": f"e2e-busy-{round_}-{number}", "points": 10, "hold": number % 2 == 0}
            statuses.append(local.request("POST", "/v1/members/e2e-busy/redemptions", body)[0])
        return statuses

    with ThreadPoolExecutor(WRITERS) as pool:
        statuses = [s for found in pool.map(writer, range(WRITERS)) for s in found]
    assert statuses == [201] * WRITERS * ROUNDS
    status, member = local.request("GET", "/v1/members/e2e-busy")
    points = member["points"]
    assert (points["available"], points["held"]) == (1000 - 10 * WRITERS * ROUNDS, 5 * WRITERS * ROUNDS)
    status, ledger = local.request("GET", "/v1/members/e2e-busy/ledger?limit=100")
    assert len(ledger["entries"]) == 1 + WRITERS * ROUNDS  # each redemption exactly once
