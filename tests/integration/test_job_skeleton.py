"""The outline every scheduled job runs (``loyalty.jobs.skeleton``), driven by two small jobs
of its own against moto: one tenant's failure is isolated, a failing item is recorded,
retried, cleared once it succeeds or is no longer due, and parked after five runs, and a run
whose time budget runs out defers the rest, keeps the marker before the first day it did not
finish and keeps the failure records of the items it did not reach; the next run catches up."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import Env

pytestmark = pytest.mark.integration

DAY = timedelta(days=1)
TODAY = date(2026, 3, 10)  # the day of the fixture's clock in Europe/Berlin
LOG = logging.getLogger("job-skeleton")


class Metrics:
    """Records what a run emits."""

    def __init__(self) -> None:
        self.emitted: dict[str, float] = {}

    def add_metric(self, name: str, unit: Any, value: float) -> None:
        self.emitted[name] = value


class Budget:
    """A Lambda context whose time runs short once ``handled()`` reaches ``items``."""

    def __init__(self, items: int) -> None:
        self.items = items
        self.handled: Any = lambda: 0

    def get_remaining_time_in_millis(self) -> int:
        from loyalty.jobs import RESERVE_MS

        return RESERVE_MS - 1 if self.handled() >= self.items else 300_000


def _invocation(job: str, at: datetime) -> Any:
    from loyalty.jobs import ScheduledInvocation
    from loyalty.timeutil import iso

    return ScheduledInvocation(job=job, scheduled_time=iso(at))


def _jobs() -> Any:
    """The two jobs, defined once the layer is importable with the fixture's settings."""
    from loyalty import jobs
    from loyalty.tenants import Tenant

    class DueRun(jobs.JobRun):
        handled: list[str] = []

    class Due(jobs.DueJob[DueRun, str]):
        """Items listed per tenant; ``failing`` items raise, a tenant in ``broken`` cannot be read."""

        name = "skeleton_due"
        item_label = "test item"
        items_label = "test items"

        def __init__(self, at: datetime, due: dict[str, list[str]], context: Any = None) -> None:
            super().__init__(
                _invocation(self.name, at), DueRun(), context=context, logger=LOG, metrics=Metrics()
            )
            self.due = due
            self.failing: set[str] = set()
            self.broken: set[str] = set()
            self.calls: list[str] = []

        def items_of(self, tenant: Tenant) -> Iterable[str]:
            if tenant.tenant_id in self.broken:
                raise ConnectionError("the due index cannot be read")
            return list(self.due.get(tenant.tenant_id, []))

        def key_of(self, item: str) -> str:
            return item

        def handle(self, tenant: Tenant, item: str) -> jobs.Outcome:
            self.calls.append(item)
            if item in self.failing:
                raise ValueError(f"cannot handle {item}")
            self.run.handled.append(f"{tenant.tenant_id}/{item}")
            return jobs.Outcome.DONE

    class DayRun(jobs.JobRun):
        days: list[str] = []
        handled: list[str] = []
        waiting: int = 0

    class Daily(jobs.DayJob[DayRun, str]):
        """Items per day for the demo tenant (none for others); a first run starts today."""

        name = "skeleton_daily"
        item_label = "test day item"
        items_label = "test day items"

        def __init__(self, at: datetime, on: dict[date, list[str]], context: Any = None) -> None:
            super().__init__(
                _invocation(self.name, at), DayRun(), context=context, logger=LOG, metrics=Metrics()
            )
            self.on = on
            self.failing: set[str] = set()
            self.held: set[str] = set()  # another run holds their claim

        def days(self, last_done: date | None, today: date) -> list[date]:
            first = today if last_done is None else last_done + DAY
            return [first + n * DAY for n in range((today - first).days + 1)]

        def items_by_day(self, tenant: Tenant, days: list[date]) -> Iterator[tuple[date, Iterable[str]]]:
            for day in days:
                yield day, (self.on.get(day, []) if tenant.tenant_id == "demo" else [])

        def item_key(self, item: str) -> str:
            return item

        def handle(self, tenant: Tenant, day: date, item: str) -> jobs.Outcome:
            if item in self.failing:
                raise ValueError(f"cannot handle {item}")
            if item in self.held:
                self.run.waiting += 1
                return jobs.Outcome.WAITING
            self.run.handled.append(item)
            return jobs.Outcome.DONE

        def completed(self, tenant: Tenant, day: date) -> None:
            self.run.days.append(f"{tenant.tenant_id}/{day.isoformat()}")

    return Due, Daily


def _run(job: Any) -> Any:
    """The run's result, also when it failed (JobFailed carries it)."""
    from loyalty import jobs

    try:
        return job.execute().model_dump()
    except jobs.JobFailed as err:
        return {**err.result, "job_failed": True}


def _failure(aws: Env, job: str, item: str, tenant: str = "demo") -> dict[str, Any]:
    key = {"pk": f"T#{tenant}#JOBS", "sk": f"FAILED#{job}#{item}"}
    return aws.table("LOYALTY_TABLE").get_item(Key=key).get("Item") or {}


def _marker(aws: Env, tenant: str = "demo") -> str | None:
    item = aws.table("LOYALTY_TABLE").get_item(Key={"pk": f"T#{tenant}#JOBS", "sk": "skeleton_daily"})
    return item["Item"]["done_through"] if "Item" in item else None


def test_a_tenant_whose_pass_fails_does_not_stop_the_others(aws: Env) -> None:
    due_job, _ = _jobs()
    job = due_job(aws.now, {"demo": ["a"], "rival": ["b"]})
    job.broken = {"demo"}
    result = _run(job)
    # demo comes first in the registry; its failure does not stop rival's pass
    assert (result["handled"], result["tenants_failed"], result["failed"]) == (["rival/b"], 1, 0)
    assert result["job_failed"] and job.metrics.emitted["JobItemsFailed"] == 0
    assert _failure(aws, job.name, "a") == {}  # a tenant's failure is no item's
    again = due_job(aws.now + timedelta(minutes=15), {"demo": ["a"], "rival": []})
    assert _run(again) == {
        "handled": ["demo/a"],
        "failed": 0,
        "parked": 0,
        "tenants_failed": 0,
        "deferred": False,
    }


def test_a_failed_item_is_recorded_retried_and_forgotten_once_it_succeeds_or_is_no_longer_due(
    aws: Env,
) -> None:
    due_job, _ = _jobs()
    job = due_job(aws.now, {"demo": ["a", "b", "c", "d"]})
    job.failing = {"b", "d"}
    result = _run(job)
    assert (result["handled"], result["failed"], result["parked"]) == (["demo/a", "demo/c"], 2, 0)
    assert result["job_failed"]  # Lambda retries the run
    recorded = _failure(aws, job.name, "b")
    assert (recorded["state"], recorded["attempts"], recorded["error_class"]) == ("failed", 1, "ValueError")
    retried = due_job(aws.now + timedelta(minutes=15), {"demo": ["b"]})  # d is no longer due
    assert _run(retried)["handled"] == ["demo/b"]
    assert _failure(aws, job.name, "b") == {}  # succeeded: cleared
    assert _failure(aws, job.name, "d") == {}  # not listed by a complete pass: forgotten


def test_an_item_failing_five_runs_is_parked_then_skipped_and_the_run_succeeds(aws: Env) -> None:
    due_job, _ = _jobs()
    outcomes = []
    for n in [0, 0, 1, 2, 3, 4]:  # the second run is Lambda's retry of the first: it counts once
        job = due_job(aws.now + n * timedelta(minutes=15), {"demo": ["a", "b"]})
        job.failing = {"b"}
        outcomes.append(_run(job))
    assert [o.get("job_failed", False) for o in outcomes] == [True] * 5 + [False]
    assert (outcomes[-1]["failed"], outcomes[-1]["parked"]) == (1, 1)
    assert (_failure(aws, "skeleton_due", "b")["state"], _failure(aws, "skeleton_due", "b")["attempts"]) == (
        "parked",
        5,
    )
    later = due_job(aws.now + timedelta(hours=2), {"demo": ["a", "b"]})
    assert _run(later)["handled"] == ["demo/a"] and later.calls == ["a"]  # parked: never handled


def test_a_budget_that_runs_out_defers_the_rest_and_the_marker_stays_before_the_unfinished_day(
    aws: Env, no_personal_data_in_logs: list[logging.LogRecord]
) -> None:
    _, daily_job = _jobs()
    assert _run(daily_job(aws.now, {}))["days"] == ["demo/2026-03-10", "rival/2026-03-10"]
    on = {TODAY + DAY: ["x", "y"], TODAY + 2 * DAY: ["z", "v"], TODAY + 3 * DAY: ["w"]}
    budget = Budget(items=3)
    short = daily_job(aws.now + 3 * DAY, on, context=budget)
    budget.handled = lambda: len(short.run.handled)
    result = _run(short)
    # x and y finish 11 March; the time runs short after z: 12 March stays due, rival is not begun
    assert (result["handled"], result["days"], result["deferred"]) == (
        ["x", "y", "z"],
        ["demo/2026-03-11"],
        True,
    )
    assert "job_failed" not in result  # nothing failed: the next run catches up
    assert (_marker(aws), _marker(aws, "rival")) == ("2026-03-11", "2026-03-10")
    [warning] = [r for r in no_personal_data_in_logs if "ran out of time" in r.getMessage()]
    assert warning.__dict__["deferred_tenants"] == ["demo", "rival"]
    caught_up = _run(daily_job(aws.now + 3 * DAY, on))
    assert (caught_up["handled"], caught_up["deferred"]) == (["z", "v", "w"], False)
    assert caught_up["days"] == [
        "demo/2026-03-12",
        "demo/2026-03-13",
        "rival/2026-03-11",
        "rival/2026-03-12",
        "rival/2026-03-13",
    ]
    assert (_marker(aws), _marker(aws, "rival")) == ("2026-03-13", "2026-03-13")


def test_a_deferred_run_keeps_the_failure_records_of_items_it_did_not_reach(aws: Env) -> None:
    due_job, _ = _jobs()
    job = due_job(aws.now, {"demo": ["a", "b", "c"]})
    job.failing = {"b", "c"}
    assert _run(job)["job_failed"]
    budget = Budget(items=1)
    short = due_job(aws.now + timedelta(minutes=15), {"demo": ["a", "b", "c"]}, context=budget)
    budget.handled = lambda: len(short.run.handled)
    result = _run(short)
    # a is handled, then the time runs short: b and c are neither tried, counted nor forgotten
    assert (result["handled"], result["failed"], result["deferred"]) == (["demo/a"], 0, True)
    assert short.calls == ["a"]
    for item in ("b", "c"):
        assert (_failure(aws, job.name, item)["state"], _failure(aws, job.name, item)["attempts"]) == (
            "failed",
            1,
        )


def test_a_failing_or_held_item_keeps_its_day_due_while_later_days_run(aws: Env) -> None:
    _, daily_job = _jobs()
    _run(daily_job(aws.now, {}))  # the marker starts on 10 March
    on = {TODAY + DAY: ["x", "y"], TODAY + 2 * DAY: ["z"]}
    job = daily_job(aws.now + 2 * DAY, on)
    job.failing = {"x"}
    result = _run(job)
    # x fails: 11 March stays due, y and 12 March's z go ahead
    assert (result["handled"], result["failed"], result["job_failed"]) == (["y", "z"], 1, True)
    assert _marker(aws) == "2026-03-10" and _failure(aws, job.name, "2026-03-11#x")["attempts"] == 1
    held = daily_job(aws.now + 2 * DAY + timedelta(hours=1), on)
    held.held = {"x"}  # another run holds x's claim: still due, its record as it is
    result = _run(held)
    assert (result["waiting"], result["failed"], _marker(aws)) == (1, 0, "2026-03-10")
    assert _failure(aws, job.name, "2026-03-11#x")["attempts"] == 1
    done = _run(daily_job(aws.now + 2 * DAY + timedelta(hours=2), on))
    assert done["days"][:2] == ["demo/2026-03-11", "demo/2026-03-12"] and _marker(aws) == "2026-03-12"
    assert _failure(aws, job.name, "2026-03-11#x") == {}
