"""The simulated clock and the schedules that fire against it.

Advancing the clock runs every schedule occurrence that came due, in time
order, draining the stream pump before and after each run. A schedule whose
occurrences in one advance exceed ``max_runs`` is thinned to ``max_runs``
evenly spaced runs (always including the last): every job catches up on what
came due since its last run, so thinning changes when work happens within
the advance, never whether it happens. Advance in small steps for exact times."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from infra.definitions import FunctionDef, ScheduleDef
from infra.local import cron
from infra.local.runtime import Handler, invoke
from loyalty.timeutil import iso

ASYNC_RETRIES = 2  # Lambda's default for asynchronous invocations


@dataclass
class Job:
    schedule: ScheduleDef
    function: FunctionDef
    handler: Handler
    dlq_url: str
    parsed: Any
    last_checked: datetime
    anchor: datetime  # when the schedule was created: rate(...) counts from here


@dataclass(frozen=True)
class Run:
    schedule: str
    at: datetime
    ok: bool
    attempts: int
    result: Any

    def to_json(self) -> dict[str, Any]:
        return {
            "schedule": self.schedule,
            "at": iso(self.at),
            "ok": self.ok,
            "attempts": self.attempts,
            "result": self.result,
        }


class Clock:
    def __init__(self, start: datetime) -> None:
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, moment: datetime) -> None:
        with self._lock:
            if moment < self._now:
                raise ValueError("the local clock only moves forward")
            self._now = moment.astimezone(UTC)


def thin(times: list[datetime], max_runs: int) -> list[datetime]:
    if len(times) <= max_runs:
        return times
    step = len(times) / max_runs
    picked = [times[min(len(times) - 1, int((i + 1) * step) - 1)] for i in range(max_runs)]
    return sorted(set(picked))


class Scheduler:
    def __init__(self, clock: Clock, sqs: Any, after_run: Callable[[], None], max_runs: int = 24) -> None:
        self.clock = clock
        self._sqs = sqs
        self._after_run = after_run
        self.max_runs = max_runs
        self.jobs: list[Job] = []
        self.lock = threading.Lock()

    def add(self, schedule: ScheduleDef, function: FunctionDef, handler: Handler, dlq_url: str) -> None:
        now = self.clock.now()
        self.jobs.append(Job(schedule, function, handler, dlq_url, cron.parse(schedule.expression), now, now))

    def due(self, until: datetime) -> list[tuple[datetime, Job]]:
        plan: list[tuple[datetime, Job]] = []
        for job in self.jobs:
            times = list(
                job.parsed.occurrences(job.last_checked, until, job.schedule.time_zone, anchor=job.anchor)
            )
            plan.extend((t, job) for t in thin(times, self.max_runs))
        return sorted(plan, key=lambda p: (p[0], p[1].schedule.name))

    def run_job(self, job: Job, at: datetime) -> Run:
        """An asynchronous invocation: retried, then dead-lettered with the event."""
        event = {"job": job.schedule.job, "schedule": job.schedule.name, "scheduled_time": iso(at)}
        error: Exception | None = None
        for attempt in range(1, ASYNC_RETRIES + 2):
            try:
                result = invoke(job.function, job.handler, event)
                return Run(job.schedule.name, at, True, attempt, result)
            except Exception as err:  # noqa: BLE001 - reported, retried, then dead-lettered
                error = err
            finally:
                self._after_run()
        self._sqs.send_message(
            QueueUrl=job.dlq_url,
            MessageBody=json.dumps(event),
            MessageAttributes={
                "ErrorCode": {"DataType": "String", "StringValue": "Unhandled"},
                "ErrorMessage": {"DataType": "String", "StringValue": str(error)[:256]},
            },
        )
        return Run(job.schedule.name, at, False, ASYNC_RETRIES + 1, {"error": type(error).__name__})

    def advance_to(self, target: datetime) -> list[Run]:
        with self.lock:
            if target < self.clock.now():
                raise ValueError("the local clock only moves forward")
            runs = []
            for at, job in self.due(target):
                self.clock.set(at)
                runs.append(self.run_job(job, at))
            for job in self.jobs:
                job.last_checked = target
            self.clock.set(target)
            self._after_run()
            return runs
