"""The member due index and the hourly refresh: stored stage, RFM and tags follow
the clock with no new event, stage changes land on the timeline once, and a run
reads only the members that are due."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ingest.members.repository import ProfileStore
from loyalty import aws as loyalty_aws
from loyalty.timeutil import iso
from tests.conftest import Env, order_event, registration

pytestmark = pytest.mark.integration

DAY = timedelta(days=1)
JOB = ("MemberRefresh", "refresh_members")


def _send(aws: Env, *events: dict[str, Any]) -> None:
    response = aws.call("POST", "/v1/events", {"events": list(events)})
    assert response.status == 200 and {r["status"] for r in response.json()["results"]} == {"accepted"}
    aws.pump().drain()


def _stats(aws: Env, member: str) -> dict[str, Any]:
    item: dict[str, Any] = aws.table("LOYALTY_TABLE").get_item(
        Key={"pk": f"T#demo#M#{member}", "sk": "#STATS"}
    )["Item"]
    return item


def _stage_changes(aws: Env, member: str, at: datetime) -> list[dict[str, Any]]:
    events = aws.call("GET", f"/v1/members/{member}/events", at=at).json()["events"]
    return [e for e in events if e["type"] == "member.stage_changed"]


def _stamp(moment: datetime) -> str:
    return iso(moment)


def test_projector_stores_the_state_and_when_it_next_changes(aws: Env) -> None:
    _send(
        aws,
        registration("r-1", "ann", at="2026-03-09T09:00:00Z"),
        order_event("o-1", "ann", "40.00", at="2026-03-10T09:00:00Z"),
    )
    stats = _stats(aws, "ann")
    assert stats["lifecycle_stage"] == "new" and stats["tags"] == [] and stats["orders_last_30_days"] == 1
    assert stats["rfm"] == {"recency": 5, "frequency": 1, "monetary": 1, "segment": "promising"}
    assert stats["registered_at"] == "2026-03-09T09:00:00.000Z"
    assert stats["state_at"] == "2026-03-10T12:00:00.000Z"  # the stream record's creation time
    assert stats["due_at"] == "2026-04-09T09:00:00.001Z"  # just past 30 days after the order
    assert stats["gsi1pk"].startswith("T#demo#DUE#member#")
    assert stats["gsi1sk"] == "2026-04-09T09:00:00.001Z#ann"
    # A member who registered and never ordered is indexed too (new, then lapsed).
    _send(aws, registration("r-2", "bob", at="2026-03-10T08:00:00Z"))
    bob = _stats(aws, "bob")
    assert (bob["lifecycle_stage"], bob["due_at"], bob["orders_count"]) == (
        "new",
        "2026-04-09T08:00:00.001Z",
        0,
    )
    assert aws.call("GET", "/v1/members/bob").json()["stats"]["orders_count"] == 0


def test_one_order_member_goes_at_risk_then_lapsed_with_no_new_event(aws: Env) -> None:
    ordered = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    _send(aws, order_event("o-1", "ann", "40.00", at=_stamp(ordered)))

    first = aws.run_job(*JOB, ordered + 31 * DAY)
    assert (first["read"], first["refreshed"], first["stage_changes"]) == (1, 1, 1)
    assert _stats(aws, "ann")["lifecycle_stage"] == "active"

    before = _stats(aws, "ann")
    at_risk_run = ordered + 100 * DAY
    assert aws.run_job(*JOB, at_risk_run)["stage_changes"] == 1
    stored = _stats(aws, "ann")
    assert stored["lifecycle_stage"] == "at-risk" and stored["due_at"] == "2026-07-08T09:00:00.001Z"
    view = aws.call("GET", "/v1/members/ann", at=at_risk_run).json()
    assert view["lifecycle_stage"] == stored["lifecycle_stage"] and view["rfm"] == stored["rfm"]

    # Re-runs: nothing is due any more.
    assert aws.run_job(*JOB, at_risk_run)["read"] == 0
    assert aws.run_job(*JOB, at_risk_run + timedelta(hours=1))["read"] == 0
    # A run repeated against the state it started from finds its event stored and stores the state again.
    aws.table("LOYALTY_TABLE").put_item(Item=before)
    again = aws.run_job(*JOB, at_risk_run)
    assert (again["refreshed"], again["stage_changes"], again["failed"]) == (1, 0, 0)
    assert _stats(aws, "ann")["lifecycle_stage"] == "at-risk"

    assert aws.run_job(*JOB, ordered + 200 * DAY)["stage_changes"] == 1
    changes = _stage_changes(aws, "ann", ordered + 200 * DAY)
    assert [(c["data"]["from"], c["data"]["to"], c["occurred_at"]) for c in changes] == [
        ("at-risk", "lapsed", "2026-09-06T09:00:00.001Z"),
        ("active", "at-risk", "2026-06-08T09:00:00.001Z"),
        ("new", "active", "2026-04-09T09:00:00.001Z"),
    ]
    assert {c["channel"] for c in changes} == {"system"}
    assert changes[1]["event_id"] == "sys:stage:ann:2026-06-08T09:00:00.001Z"


def test_missed_runs_are_caught_up_with_each_change_at_its_own_instant(aws: Env) -> None:
    _send(aws, registration("r-1", "dan", at="2026-03-01T09:00:00Z"))
    run = aws.run_job(*JOB, datetime(2027, 6, 1, tzinfo=UTC))
    assert (run["read"], run["stage_changes"]) == (1, 1)
    stats = _stats(aws, "dan")
    assert stats["lifecycle_stage"] == "lapsed"
    assert "gsi1pk" not in stats and "due_at" not in stats  # nothing will change: out of the index
    (change,) = _stage_changes(aws, "dan", datetime(2027, 6, 1, tzinfo=UTC))
    assert change["occurred_at"] == "2026-03-31T09:00:00.001Z" and change["data"] == {
        "from": "new",
        "to": "lapsed",
    }
    # Stream subscriptions filter on type: the system event reaches none of them.
    pump = aws.pump()
    pump.drain()
    delivered = {s["function"]: s["delivered"] for s in pump.stats()}
    assert delivered["IngestProjector"] == 1  # the registration only


def test_vip_is_dropped_when_the_second_most_recent_order_leaves_the_window(aws: Env) -> None:
    now = aws.now
    _send(
        aws,
        *(
            order_event(f"o-{i}", "vic", "50.00", at=_stamp(now - days * DAY))
            for i, days in enumerate((40, 25, 2))
        ),
    )
    stats = _stats(aws, "vic")
    assert stats["tags"] == ["vip"] and stats["orders_last_30_days"] == 2
    leaves = now - 25 * DAY + 30 * DAY + timedelta(milliseconds=1)
    assert stats["due_at"] == iso(leaves)
    assert aws.run_job(*JOB, leaves - timedelta(milliseconds=1))["read"] == 0
    run = aws.run_job(*JOB, leaves + timedelta(minutes=5))
    assert (run["refreshed"], run["stage_changes"]) == (1, 0)
    refreshed = _stats(aws, "vic")
    assert refreshed["tags"] == [] and refreshed["orders_last_30_days"] == 1
    view = aws.call("GET", "/v1/members/vic", at=leaves + timedelta(minutes=5)).json()
    assert view["tags"] == refreshed["tags"]
    assert view["stats"]["orders_last_30_days"] == refreshed["orders_last_30_days"]


def _count_index_reads(aws: Env) -> list[int]:
    """ScannedCount of every gsi1 Query the loyalty table answers."""
    scanned: list[int] = []
    indexes: list[str | None] = []
    client = loyalty_aws.table(aws.env["LOYALTY_TABLE"]).meta.client

    def before(params: dict[str, Any], **_: Any) -> None:
        indexes.append(params.get("IndexName"))

    def after(parsed: dict[str, Any], **_: Any) -> None:
        if indexes.pop() == "gsi1":
            scanned.append(int(parsed.get("ScannedCount", 0)))

    client.meta.events.register("provide-client-params.dynamodb.Query", before)
    client.meta.events.register("after-call.dynamodb.Query", after)
    return scanned


def test_a_run_reads_only_the_due_members(aws: Env) -> None:
    now = aws.now
    due = [order_event(f"d-{n}", f"due-{n}", "20.00", at=_stamp(now - 29 * DAY)) for n in range(30)]
    fresh = [order_event(f"f-{n}", f"fresh-{n}", "20.00", at=_stamp(now - DAY)) for n in range(120)]
    for start in range(0, len(due) + len(fresh), 100):
        assert aws.call("POST", "/v1/events", {"events": (due + fresh)[start : start + 100]}).status == 200
    aws.pump().drain()

    scanned = _count_index_reads(aws)
    run = aws.run_job(*JOB, now + 2 * DAY)
    assert (run["read"], run["refreshed"], run["stage_changes"]) == (30, 30, 30)  # new -> active
    assert len(scanned) == 16  # 8 shards for each of the 2 tenants
    assert sum(scanned) == 30  # index items read: the due members only
    assert _stats(aws, "fresh-0")["lifecycle_stage"] == "new"


def test_a_concurrent_projector_update_wins(aws: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    now = aws.now
    _send(aws, order_event("o-1", "cid", "20.00", at=_stamp(now - 29 * DAY)))
    later = now + 2 * DAY
    (stale,) = ProfileStore(aws.env["LOYALTY_TABLE"]).due_members("demo", later)
    aws.now = later - timedelta(hours=1)
    _send(aws, order_event("o-2", "cid", "30.00", at=_stamp(aws.now)))
    projected = _stats(aws, "cid")

    def only_stale(self: ProfileStore, tenant: str, until: datetime) -> Iterator[dict[str, Any]]:
        return iter([stale] if tenant == "demo" else [])

    monkeypatch.setattr(ProfileStore, "due_members", only_stale)
    run = aws.run_job(*JOB, later)
    assert (run["read"], run["refreshed"], run["superseded"], run["failed"]) == (1, 0, 1, 0)
    assert _stats(aws, "cid") == projected
    assert _stage_changes(aws, "cid", later) == []


def test_storefronts_cannot_send_system_events(aws: Env) -> None:
    forged = {
        "event_id": "x-1",
        "type": "member.stage_changed",
        "occurred_at": "2026-03-10T09:00:00Z",
        "member_id": "m-1",
        "channel": "web",
        "data": {"from": "active", "to": "lapsed"},
    }
    assert aws.call("POST", "/v1/events", forged).status == 400
    taken = order_event("sys:stage:m-1:2026-03-10T09:00:00.001Z", "m-1", "10.00")
    response = aws.call("POST", "/v1/events", taken)
    assert response.status == 400 and response.json()["error"]["code"] == "reserved_event_id"


def _corrupt_stats(aws: Env, member: str) -> Any:
    """A stats item the refresh cannot read, still listed in the member due index; its version before."""
    done = aws.table("LOYALTY_TABLE").update_item(
        Key={"pk": f"T#demo#M#{member}", "sk": "#STATS"},
        UpdateExpression="SET version = :bad",
        ExpressionAttributeValues={":bad": "not a number"},
        ReturnValues="UPDATED_OLD",
    )
    return done["Attributes"]["version"]


def _refresh_failure(aws: Env, member: str) -> dict[str, Any]:
    key = {"pk": "T#demo#JOBS", "sk": f"FAILED#refresh_members#{member}"}
    item: dict[str, Any] = aws.table("LOYALTY_TABLE").get_item(Key=key).get("Item") or {}
    return item


def _try(aws: Env, at: datetime) -> Any:
    """A run of the refresh: its result, or the exception it failed with."""
    try:
        return aws.run_job(*JOB, at)
    except Exception as err:  # noqa: BLE001 - the test looks at it
        return err


def test_a_member_whose_refresh_keeps_failing_is_parked_and_the_others_are_refreshed(
    aws: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from infra import ops
    from loyalty import jobs
    from tests.integration.points.test_sweep_failures import dynamodb_calls

    now = aws.now
    _send(aws, *(order_event(f"o-{m}", m, "20.00", at=_stamp(now - 29 * DAY)) for m in ("ann", "bob", "cid")))
    _corrupt_stats(aws, "bob")
    first = now + 2 * DAY
    failed = _try(aws, first)
    recorded = _refresh_failure(aws, "bob")
    # bob stops neither ann nor cid
    assert (_stats(aws, "ann")["lifecycle_stage"], _stats(aws, "cid")["lifecycle_stage"]) == ("active",) * 2
    retried = _try(aws, first)  # Lambda's retry of the run counts once
    outcomes = [_try(aws, first + timedelta(hours=n)) for n in range(1, 5)]
    # The run fails while bob is retried; the fifth failed run parks him and succeeds.
    assert [isinstance(o, jobs.JobFailed) for o in (failed, retried, *outcomes)] == [True] * 5 + [False]
    assert isinstance(failed, jobs.JobFailed)
    assert {k: failed.result[k] for k in ("read", "refreshed", "stage_changes", "failed", "parked")} == {
        "read": 3,
        "refreshed": 2,
        "stage_changes": 2,
        "failed": 1,
        "parked": 0,
    }
    assert (recorded["state"], recorded["attempts"], recorded["error_class"]) == ("failed", 1, "ValueError")
    assert recorded["item"] == "bob" and "@" not in str(recorded)
    assert (outcomes[3]["read"], outcomes[3]["failed"], outcomes[3]["parked"]) == (1, 1, 1)
    assert (_refresh_failure(aws, "bob")["state"], _refresh_failure(aws, "bob")["attempts"]) == ("parked", 5)
    # Parked: skipped with no read of its own (one failure-record Query per tenant), and the run succeeds.
    with dynamodb_calls() as calls:
        later = aws.run_job(*JOB, first + timedelta(hours=5))
    assert (later["read"], later["failed"], later["parked"]) == (0, 0, 0)
    assert {operation for operation, _ in calls} == {"Query"}
    jobs_reads = [p for _, p in calls if str(p["ExpressionAttributeValues"][":pk"]).endswith("#JOBS")]
    assert len(jobs_reads) == 2  # demo and rival
    assert _stats(aws, "bob")["lifecycle_stage"] == "new"
    # Listed by the ops command.
    capsys.readouterr()
    table = aws.env["LOYALTY_TABLE"]
    assert ops.main(["failures", "--table", table, "--job", "refresh_members", "--json"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    listed = json.loads(line)
    assert (listed["tenant_id"], listed["item"], listed["state"], listed["attempts"]) == (
        "demo",
        "bob",
        "parked",
        5,
    )
    assert ops.main(["failures", "--table", table]) == 0
    [_, row] = capsys.readouterr().out.splitlines()
    assert row.split()[:5] == ["demo", "refresh_members", "bob", "parked", "5"]


def test_a_tenant_whose_member_due_index_cannot_be_read_does_not_stop_the_others(aws: Env) -> None:
    from loyalty import jobs
    from tests.conftest import OTHER_API_KEY
    from tests.integration.points.test_sweep_failures import failing_queries

    now = aws.now
    _send(aws, order_event("o-1", "ann", "20.00", at=_stamp(now - 29 * DAY)))
    theirs = order_event("o-2", "ray", "20.00", at=_stamp(now - 29 * DAY))
    assert aws.call("POST", "/v1/events", theirs, key=OTHER_API_KEY).status == 202
    aws.pump().drain()

    def demo_due_index(params: dict[str, Any]) -> bool:
        return str(params["ExpressionAttributeValues"][":pk"]).startswith("T#demo#DUE#member")

    with failing_queries(demo_due_index):
        failed = _try(aws, now + 2 * DAY)
    # demo comes first in the registry; its failure does not stop rival's refresh
    rival = aws.table("LOYALTY_TABLE").get_item(Key={"pk": "T#rival#M#ray", "sk": "#STATS"})["Item"]
    assert (rival["lifecycle_stage"], _stats(aws, "ann")["lifecycle_stage"]) == ("active", "new")
    assert isinstance(failed, jobs.JobFailed)
    assert (failed.result["tenants_failed"], failed.result["refreshed"], failed.result["failed"]) == (1, 1, 0)
    assert _refresh_failure(aws, "ann") == {}  # a tenant's failure is no member's
    result = aws.run_job(*JOB, now + 2 * DAY + timedelta(hours=1))
    assert (result["refreshed"], result["tenants_failed"]) == (1, 0)
    assert _stats(aws, "ann")["lifecycle_stage"] == "active"
