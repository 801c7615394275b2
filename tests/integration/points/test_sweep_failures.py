"""The points sweep isolates failures per member and per tenant: a member whose sweep keeps
failing is recorded, retried by the next runs, then parked and listed by the ops command,
while the other members and tenants are swept; a parked member is skipped without a read
of its own."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.conftest import API_KEY, OTHER_API_KEY, Env, order_event

pytestmark = pytest.mark.integration

JOB = ("PointsSweep", "points_sweep")
RUN = timedelta(minutes=15)  # the sweep's schedule


def _earn(aws: Env, member: str, key: str = API_KEY) -> None:
    assert (
        aws.call("POST", "/v1/events", order_event(f"{member}-o1", member, "300.00"), key=key).status == 202
    )
    aws.pump().drain()


def _pending(aws: Env, member: str, key: str = API_KEY) -> int:
    points: int = aws.call("GET", f"/v1/members/{member}", key=key).json()["points"]["pending"]
    return points


def _set_version(aws: Env, member: str, version: Any) -> Any:
    """Set the version of a member's balance item (still listed in the points due index);
    the version it had."""
    done = aws.table("LOYALTY_TABLE").update_item(
        Key={"pk": f"T#demo#M#{member}", "sk": "#BALANCE"},
        UpdateExpression="SET version = :v",
        ExpressionAttributeValues={":v": version},
        ReturnValues="UPDATED_OLD",
    )
    return done["Attributes"]["version"]


def _corrupt_balance(aws: Env, member: str) -> Any:
    """A balance item the ledger cannot read; its version before."""
    return _set_version(aws, member, "not a number")


def _failure(aws: Env, member: str, tenant: str = "demo") -> dict[str, Any]:
    key = {"pk": f"T#{tenant}#JOBS", "sk": f"FAILED#points_sweep#{member}"}
    return aws.table("LOYALTY_TABLE").get_item(Key=key).get("Item") or {}


def _run(aws: Env, at: datetime) -> Any:
    """A run of the sweep: its result, or the exception it failed with."""
    try:
        return aws.run_job(*JOB, at)
    except Exception as err:  # noqa: BLE001 - the test looks at it
        return err


@contextmanager
def dynamodb_calls() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every DynamoDB call the functions make meanwhile: operation and parameters."""
    from loyalty import aws as loyalty_aws

    calls: list[tuple[str, dict[str, Any]]] = []

    def record(params: dict[str, Any], model: Any, **kwargs: Any) -> None:
        calls.append((model.name, params))

    events = boto3._get_default_session().events
    events.register("provide-client-params.dynamodb", record)
    loyalty_aws.reset()
    try:
        yield calls
    finally:
        events.unregister("provide-client-params.dynamodb", record)
        loyalty_aws.reset()


@contextmanager
def failing_queries(when: Callable[[dict[str, Any]], bool]) -> Iterator[None]:
    """Every Query of the functions whose parameters match ``when`` is refused."""
    from loyalty import aws as loyalty_aws

    def refuse(params: dict[str, Any], **kwargs: Any) -> None:
        if when(params):
            error = {"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}
            raise ClientError(error, "Query")  # type: ignore[arg-type]

    events = boto3._get_default_session().events
    events.register("provide-client-params.dynamodb.Query", refuse)
    loyalty_aws.reset()
    try:
        yield
    finally:
        events.unregister("provide-client-params.dynamodb.Query", refuse)
        loyalty_aws.reset()


def _park(aws: Env, first: datetime) -> list[Any]:
    """Five runs, 15 minutes apart, with m-2's balance unreadable."""
    return [_run(aws, first + n * RUN) for n in range(5)]


def test_a_member_whose_sweep_keeps_failing_is_parked_and_the_others_are_swept(aws: Env) -> None:
    from loyalty import jobs

    for member in ("m-1", "m-2", "m-3"):
        _earn(aws, member)
    _corrupt_balance(aws, "m-2")
    first = aws.now + timedelta(days=15)
    failed = _run(aws, first)
    recorded = _failure(aws, "m-2")
    # m-2 stops neither m-1 nor m-3 (whichever shard comes first)
    assert (_pending(aws, "m-1"), _pending(aws, "m-2"), _pending(aws, "m-3")) == (0, 300, 0)
    retried = _run(aws, first)  # Lambda's retry of the same run counts once
    outcomes = [_run(aws, first + n * RUN) for n in range(1, 5)]
    # The run fails while m-2 is retried; the fifth failed run parks it and succeeds.
    assert [isinstance(o, jobs.JobFailed) for o in (failed, retried, *outcomes)] == [True] * 5 + [False]
    assert isinstance(failed, jobs.JobFailed)
    assert {k: failed.result[k] for k in ("members", "commits", "failed", "parked")} == {
        "members": 3,
        "commits": 2,
        "failed": 1,
        "parked": 0,
    }
    assert (recorded["state"], recorded["attempts"], recorded["error_class"]) == ("failed", 1, "ValueError")
    assert recorded["item"] == "m-2" and "@" not in str(recorded)
    assert {k: outcomes[3][k] for k in ("members", "failed", "parked")} == {
        "members": 1,
        "failed": 1,
        "parked": 1,
    }
    failure = _failure(aws, "m-2")
    assert (failure["state"], failure["attempts"]) == ("parked", 5)
    assert failure["first_failed_at"] == "2026-03-25T12:00:00.000Z"
    assert failure["last_failed_at"] == "2026-03-25T13:00:00.000Z"
    # Parked: skipped by later runs, which succeed; a new member is swept as ever.
    _earn(aws, "m-4")
    later = aws.run_job(*JOB, first + timedelta(days=15))
    assert (later["members"], later["commits"], later["failed"], later["parked"]) == (1, 1, 0, 0)
    assert _pending(aws, "m-4") == 0
    assert _failure(aws, "m-2")["state"] == "parked"


def test_a_parked_member_is_skipped_with_one_query_of_failure_records_per_tenant(aws: Env) -> None:
    from loyalty import jobs

    _earn(aws, "m-2")
    _corrupt_balance(aws, "m-2")
    first = aws.now + timedelta(days=15)
    _park(aws, first)
    assert _failure(aws, "m-2").get("state") == jobs.PARKED
    with dynamodb_calls() as calls:
        result = aws.run_job(*JOB, first + 5 * RUN)
    assert (result["members"], result["failed"]) == (0, 0)
    assert {operation for operation, _ in calls} == {"Query"}  # no read or write of the member
    failure_reads = [p for _, p in calls if str(p["ExpressionAttributeValues"][":pk"]).endswith("#JOBS")]
    assert sorted(p["ExpressionAttributeValues"][":pk"] for p in failure_reads) == [
        "T#demo#JOBS",
        "T#rival#JOBS",
    ]


def test_a_dismissed_member_is_retried_while_still_due(aws: Env) -> None:
    from infra import ops

    _earn(aws, "m-2")
    version = _corrupt_balance(aws, "m-2")
    first = aws.now + timedelta(days=15)
    _park(aws, first)
    _set_version(aws, "m-2", version)  # an operator repairs the item
    assert aws.run_job(*JOB, first + 5 * RUN)["members"] == 0  # still parked
    table = aws.env["LOYALTY_TABLE"]
    assert (
        ops.main(["dismiss", "--table", table, "--tenant", "demo", "--job", "points_sweep", "--item", "m-2"])
        == 0
    )
    result = aws.run_job(*JOB, first + 6 * RUN)
    assert (result["members"], result["commits"], result["failed"]) == (1, 1, 0)
    assert _pending(aws, "m-2") == 0 and _failure(aws, "m-2") == {}


def test_a_member_swept_meanwhile_loses_its_failure_record(aws: Env) -> None:
    from loyalty import jobs

    _earn(aws, "m-2")
    version = _corrupt_balance(aws, "m-2")
    first = aws.now + timedelta(days=15)
    assert isinstance(_run(aws, first), jobs.JobFailed)
    assert _failure(aws, "m-2").get("state") == jobs.FAILED
    _set_version(aws, "m-2", version)
    # A ledger operation applies what is due first: the member leaves the due index.
    spend = {"redemption_id": "r-1", "points": 10}
    assert (
        aws.call("POST", "/v1/members/m-2/redemptions", spend, at=first + timedelta(minutes=1)).status == 201
    )
    result = aws.run_job(*JOB, first + RUN)
    assert (result["members"], result["failed"]) == (0, 0)
    assert _failure(aws, "m-2") == {}  # no longer due: forgotten


def test_a_deferred_run_keeps_the_failure_records_of_members_it_did_not_reach(aws: Env) -> None:
    from loyalty import jobs
    from loyalty.jobs import ScheduledInvocation
    from loyalty.timeutil import iso
    from points.schedule import RESERVE_MS, run_sweep

    for member in ("m-2", "m-5"):
        _earn(aws, member)
        _corrupt_balance(aws, member)
    first = aws.now + timedelta(days=15)
    assert isinstance(_run(aws, first), jobs.JobFailed)

    class Running:
        def get_remaining_time_in_millis(self) -> int:
            return RESERVE_MS - 1

    short = run_sweep(ScheduledInvocation(job="points_sweep", scheduled_time=iso(first + RUN)), Running())
    assert (short.members, short.failed, short.deferred) == (0, 0, True)
    for member in ("m-2", "m-5"):
        assert (_failure(aws, member).get("state"), _failure(aws, member).get("attempts")) == (jobs.FAILED, 1)


def test_a_tenant_whose_due_index_cannot_be_read_does_not_stop_the_others(aws: Env) -> None:
    from loyalty import jobs

    _earn(aws, "m-1")
    _earn(aws, "r-1", key=OTHER_API_KEY)
    first = aws.now + timedelta(days=15)

    def demo_due_index(params: dict[str, Any]) -> bool:
        return str(params["ExpressionAttributeValues"][":pk"]).startswith("T#demo#DUE#points")

    with failing_queries(demo_due_index):
        failed = _run(aws, first)
    # demo comes first in the registry; its failure does not stop rival's sweep
    assert (_pending(aws, "m-1"), _pending(aws, "r-1", key=OTHER_API_KEY)) == (300, 0)
    assert isinstance(failed, jobs.JobFailed)
    assert (failed.result["tenants_failed"], failed.result["members"], failed.result["failed"]) == (1, 1, 0)
    assert _failure(aws, "m-1") == {}  # a tenant's failure is no member's
    result = aws.run_job(*JOB, first + RUN)
    assert (result["members"], result["tenants_failed"]) == (1, 0)
    assert _pending(aws, "m-1") == 0


def test_the_ops_command_lists_the_parked_member(aws: Env, capsys: pytest.CaptureFixture[str]) -> None:
    from infra import ops

    _earn(aws, "m-2")
    _corrupt_balance(aws, "m-2")
    _park(aws, aws.now + timedelta(days=15))
    table = aws.env["LOYALTY_TABLE"]
    capsys.readouterr()
    assert ops.main(["failures", "--table", table]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert len(listing) == 2, listing
    row = listing[1]
    assert row.split()[:5] == ["demo", "points_sweep", "m-2", "parked", "5"]
    assert "ValueError" in row
    assert (
        ops.main(["failures", "--table", table, "--job", "points_sweep", "--state", "parked", "--json"]) == 0
    )
    [line] = capsys.readouterr().out.splitlines()
    listed = json.loads(line)
    assert (listed["tenant_id"], listed["job"], listed["item"], listed["attempts"]) == (
        "demo",
        "points_sweep",
        "m-2",
        5,
    )


def _emf(out: str) -> list[dict[str, Any]]:
    documents = [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]
    return [d for d in documents if d.get("service") == "points" and "PointsSweptMembers" in d]


def test_failed_and_parked_members_are_counted_as_metrics(
    aws: Env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _earn(aws, "m-2")
    _corrupt_balance(aws, "m-2")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    first = aws.now + timedelta(days=15)
    capsys.readouterr()
    _park(aws, first)
    aws.run_job(*JOB, first + 5 * RUN)
    emitted = _emf(capsys.readouterr().out)
    assert [(m["JobItemsFailed"], m["JobItemsParked"]) for m in emitted] == [([1.0], [0.0])] * 4 + [
        ([1.0], [1.0]),
        ([0.0], [0.0]),
    ]
