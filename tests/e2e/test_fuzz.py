"""Fuzzing from the committed OpenAPI document (schemathesis) against the local
stack: valid and invalid inputs alike must never produce a server error, and
every 4xx must use the error contract."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from tests.e2e.conftest import LocalClient, running_stack

pytestmark = pytest.mark.e2e

DOC = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
schema = schemathesis.openapi.from_path(str(DOC))


def error_contract(ctx: Any, response: Any, case: Any) -> bool | None:
    """A 4xx body is {"error": {"code", "message", "field"}}; the unsubscribe pages, which
    people open from an email, answer HTML (docs/care-rules.md, "Unsubscribe")."""
    content_type = " ".join(response.headers.get("content-type") or [])
    if case.path.startswith("/v1/unsubscribe/") and content_type.startswith("text/html"):
        return None
    if 400 <= response.status_code < 500:
        body = json.loads(response.content or b"null")
        assert isinstance(body, dict) and set(body) == {"error"}, body
        assert isinstance(body["error"].get("code"), str) and isinstance(body["error"].get("message"), str), (
            body
        )
    return None


EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "30"))


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalClient]:
    """A stack of its own, so fuzzed data never meets the scenario tests."""
    with running_stack(tmp_path_factory.mktemp("fuzz-outbox")) as client:
        yield client


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_errors_follow_the_contract(case: Any, fuzzed: LocalClient) -> None:
    key = "local-admin-key" if case.path.startswith("/v1/admin/") else "local-dev-key"
    case.call_and_validate(
        base_url=fuzzed.url,
        headers={"x-api-key": key},
        checks=[not_a_server_error, error_contract],
        timeout=60,
    )


def test_whatever_the_fuzzer_stored_flows_through_streams_and_schedules(fuzzed: LocalClient) -> None:
    """Accepted fuzz input must not poison a consumer or a scheduled job."""
    status, clock = fuzzed.request("POST", "/_local/clock", {"advance": "P2D"}, key=None)
    assert status == 200, clock
    assert [run for run in clock["ran"] if not run["ok"]] == []
    status, report = fuzzed.request("GET", "/_local/status", key=None)
    assert status == 200
    assert set(report["dead_letters"].values()) == {0}, report
