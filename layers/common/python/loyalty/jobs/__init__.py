"""Scheduled jobs: one outline for every job (:mod:`loyalty.jobs.skeleton`: the tenant loop,
one item and one tenant failing on their own, a time budget, catch-up), the schedule payload
and the end of a run (:mod:`loyalty.jobs.runs`), per-tenant progress markers of day-based
jobs (:mod:`loyalty.jobs.markers`), and records of failing items, retried a bounded number
of runs, then parked (:mod:`loyalty.jobs.failures`). Together they make every job catch up
(a run handles everything that came due since the last successful run, so a missed or
failed run in AWS loses nothing) while one bad item or tenant never holds up the rest."""

from loyalty.jobs.failures import (
    FAILED,
    FAILURE_PREFIX,
    MAX_ATTEMPTS,
    MESSAGE_LIMIT,
    PARKED,
    ErrorInfo,
    ItemFailure,
    JobItems,
    clear_failure,
    describe_error,
    dismiss_failure,
    failure_sk,
    list_failures,
    log_failure,
    log_tenant_failure,
    record_failure,
    redact,
)
from loyalty.jobs.markers import begin, last_done_day, mark_done_day
from loyalty.jobs.runs import JobFailed, RunOutcome, ScheduledInvocation, finish, invocation_for
from loyalty.jobs.skeleton import RESERVE_MS, DayJob, DueJob, Job, JobRun, Outcome

__all__ = [
    "FAILED",
    "FAILURE_PREFIX",
    "MAX_ATTEMPTS",
    "MESSAGE_LIMIT",
    "PARKED",
    "RESERVE_MS",
    "DayJob",
    "DueJob",
    "ErrorInfo",
    "ItemFailure",
    "Job",
    "JobFailed",
    "JobItems",
    "JobRun",
    "Outcome",
    "RunOutcome",
    "ScheduledInvocation",
    "begin",
    "clear_failure",
    "describe_error",
    "dismiss_failure",
    "failure_sk",
    "finish",
    "invocation_for",
    "last_done_day",
    "list_failures",
    "log_failure",
    "log_tenant_failure",
    "mark_done_day",
    "record_failure",
    "redact",
]
