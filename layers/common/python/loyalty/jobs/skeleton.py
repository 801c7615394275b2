"""The one outline every scheduled job runs, so that a job module states only what is its
own: which items are due, what an item's key is, and how one item is handled.

A run goes through the tenant registry (``tenants.list_tenants``) in order and ends with
``finish``. Every job gets the same guarantees:

* **One tenant at a time.** A tenant whose pass fails outside an item (its marker, an
  index read) is logged without personal data and counted (``tenants_failed``); the
  other tenants go ahead, and the run fails at its end, so Lambda retries it.
* **One item at a time.** The tenant's failure records of the job are read once (one
  Query). A parked item is skipped; a failing item is recorded, logged and counted, and
  the rest go ahead; a handled one loses its failure record; one that another run holds
  (:attr:`Outcome.WAITING`, a live delivery claim) stays due with its record as it is.
  After a complete pass, failing items the pass did not meet are no longer due and lose
  their records (``JobItems.forget_unseen``); parked ones stay listed.
* **A time budget.** Before each tenant, each day and each item, the run checks what is
  left of the invocation (``context.get_remaining_time_in_millis()``). Below the job's
  ``reserve_ms`` it takes nothing more: the result says ``deferred``, a warning names
  the tenants not finished, failure records of items not reached stay as they are (the
  pass was not complete), and whatever is still due is the next run's.
* **Catch-up by day** (:class:`DayJob`: birthdays, daily reports). The tenant's marker
  is created on its first run as done through the day before the first day handled; a
  run handles every day due since, and moves the marker through the last day whose items
  were all handled or parked. A day with an item to retry, an item another run holds,
  or an item not reached for want of time stays due; later days still run.
* **Catch-up by due index** (:class:`DueJob`: escalations, points sweep, member
  refresh). No marker: the job reads what is due up to the schedule time, so whatever a
  run does not finish stays due."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import partial
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel

from loyalty import tenants
from loyalty.jobs.failures import PARKED, JobItems, log_failure, log_tenant_failure
from loyalty.jobs.markers import begin, last_done_day, mark_done_day
from loyalty.jobs.runs import ScheduledInvocation, finish
from loyalty.settings import get_settings
from loyalty.tenants import Tenant
from loyalty.timeutil import local_day

# Stop taking new items when less than this is left of the invocation (every scheduled
# function has a 300 s timeout; one item takes well under a second).
RESERVE_MS = 20_000


class JobRun(BaseModel):
    """What every run reports; each job's result model adds its own counters."""

    failed: int = 0  # items that failed in this run (parked ones included)
    parked: int = 0  # of those, items this run parked
    tenants_failed: int = 0
    deferred: bool = False  # out of time: the rest stays due for the next run


class Outcome(StrEnum):
    """How the handling of an item ended (a failure is an exception)."""

    DONE = "done"  # handled (sent, skipped, stored): its failure record, if any, is cleared
    WAITING = "waiting"  # another run holds it: it stays due, its failure record as it is


class _OutOfTime(Exception):
    """The invocation's time budget ran out: take no more items."""


Run = TypeVar("Run", bound=JobRun)
Item = TypeVar("Item")


class Job(ABC, Generic[Run]):
    """A scheduled run of one job over every tenant. A job names itself (``name``: the
    schedule payload's ``job`` and the ``<job>`` of its failure records) and its items in
    log lines (``item_label``, ``items_label``); ``reserve_ms`` is its time reserve."""

    name: ClassVar[str]
    item_label: ClassVar[str]  # e.g. "birthday greeting"
    items_label: ClassVar[str]  # e.g. "birthday greetings"
    reserve_ms: ClassVar[int] = RESERVE_MS

    def __init__(
        self, invocation: ScheduledInvocation, run: Run, *, context: Any, logger: Any, metrics: Any
    ) -> None:
        self.at: datetime = invocation.at
        self.run = run
        self.context = context  # the Lambda context (None: no time budget)
        self.logger = logger
        self.metrics = metrics
        self.table = get_settings().require("loyalty_table")
        self.deferred_tenants: list[str] = []

    # -- hooks ----------------------------------------------------------------------------------

    @abstractmethod
    def tenant_pass(self, tenant: Tenant) -> None:
        """One tenant's pass (given by :class:`DueJob` and :class:`DayJob`)."""

    def add_metrics(self) -> None:
        """The job's own metrics, emitted before ``JobItemsFailed`` and ``JobItemsParked``."""

    # -- the outline ----------------------------------------------------------------------------

    def execute(self) -> Run:
        """Run the job over every tenant; raises JobFailed (after the whole run) while an item
        is still to be retried or a tenant failed."""
        for tenant in tenants.list_tenants(self.table):
            try:
                if self.run.deferred:
                    raise _OutOfTime
                self.check_time()
                self.tenant_pass(tenant)
            except _OutOfTime:
                self.run.deferred = True
                self.deferred_tenants.append(tenant.tenant_id)
            except Exception as err:  # noqa: BLE001 - one tenant's failure does not stop the others
                log_tenant_failure(
                    self.logger, f"{self.items_label} failed for a tenant", tenant.tenant_id, err
                )
                self.run.tenants_failed += 1
        self.add_metrics()
        if self.run.deferred:
            self.logger.warning(
                f"{self.items_label} ran out of time; the rest stays due",
                extra={"job": self.name, "deferred_tenants": self.deferred_tenants},
            )
        finish(self.run, self.metrics, self.items_label)
        return self.run

    def check_time(self) -> None:
        """Raise _OutOfTime when less than ``reserve_ms`` is left of the invocation."""
        if self.context is not None and self.context.get_remaining_time_in_millis() < self.reserve_ms:
            raise _OutOfTime

    def take(self, items: JobItems, key: str, handle: Callable[[], Outcome], **fields: Any) -> bool:
        """Handle one item, isolated; True when nothing of it is left to retry (handled or
        parked). ``fields`` go into the log line of a failure (no personal data)."""
        if items.is_parked(key):
            return True
        self.check_time()
        try:
            outcome = handle()
        except Exception as err:  # noqa: BLE001 - recorded per item; the rest go ahead
            failure = items.failed(key, err)
            log_failure(self.logger, f"{self.item_label} failed", failure, **fields)
            return failure.state == PARKED
        if outcome is Outcome.WAITING:
            return False
        items.succeeded(key)
        return True

    def count(self, items: JobItems) -> None:
        self.run.failed += items.failed_count
        self.run.parked += items.parked_count


class DueJob(Job[Run], Generic[Run, Item]):
    """A job over what a due index lists up to the schedule time (no marker)."""

    @abstractmethod
    def items_of(self, tenant: Tenant) -> Iterable[Item]:
        """The tenant's items due at the schedule time."""

    @abstractmethod
    def key_of(self, item: Item) -> str:
        """The item's key in failure records."""

    @abstractmethod
    def handle(self, tenant: Tenant, item: Item) -> Outcome:
        """Handle one item; an exception is the item's failure."""

    def log_fields(self, item: Item) -> dict[str, Any]:
        """What a failure's log line may name of the item (nothing by default: keys such as
        member ids may be personal data)."""
        return {}

    def tenant_pass(self, tenant: Tenant) -> None:
        items = JobItems(self.table, tenant.tenant_id, self.name, self.at)
        try:
            for item in self.items_of(tenant):
                handle = partial(self.handle, tenant, item)
                self.take(items, self.key_of(item), handle, **self.log_fields(item))
            items.forget_unseen()
        finally:
            self.count(items)


class DayJob(Job[Run], Generic[Run, Item]):
    """A job over days, caught up from the tenant's marker. An item's key begins with its
    day (``<day>`` or ``<day>#<item_key>``), so the failure records of the days due are read
    with one ranged Query."""

    def __init__(
        self, invocation: ScheduledInvocation, run: Run, *, context: Any, logger: Any, metrics: Any
    ) -> None:
        super().__init__(invocation, run, context=context, logger=logger, metrics=metrics)
        self.today = local_day(self.at, get_settings().tz)

    @abstractmethod
    def days(self, last_done: date | None, today: date) -> list[date]:
        """The days due after ``last_done`` through ``today``, in order; for ``None``, the days
        of a tenant's first run."""

    @abstractmethod
    def items_by_day(self, tenant: Tenant, days: list[date]) -> Iterator[tuple[date, Iterable[Item]]]:
        """Each of ``days`` in order, with its items (a read may cover several days)."""

    @abstractmethod
    def handle(self, tenant: Tenant, day: date, item: Item) -> Outcome:
        """Handle one item of ``day``; an exception is the item's failure."""

    def item_key(self, item: Item) -> str:
        """The item's key after its day; empty when the day is the item."""
        return ""

    def completed(self, tenant: Tenant, day: date) -> None:
        """The marker moves through ``day``: every item of it was handled or parked."""

    def tenant_pass(self, tenant: Tenant) -> None:
        tenant_id = tenant.tenant_id
        last = last_done_day(self.table, tenant_id, self.name)
        if last is None:  # first run: done through the day before its first day
            first = self.days(None, self.today)
            if not first:
                return
            last = begin(self.table, tenant_id, self.name, first[0] - timedelta(days=1))
        days = self.days(last, self.today)
        if not days:
            return
        first_key, last_key = days[0].isoformat(), days[-1].isoformat()
        items = JobItems(self.table, tenant_id, self.name, self.at, first=first_key, last=last_key)
        done, blocked = last, False
        try:
            for day, day_items in self.items_by_day(tenant, days):
                self.check_time()
                if self._day(tenant, day, day_items, items) and not blocked:
                    done = day
                    self.completed(tenant, day)
                else:
                    blocked = True  # later days go ahead, the marker waits for this one
            items.forget_unseen()
        finally:
            self.count(items)
            if done != last:
                mark_done_day(self.table, tenant_id, self.name, done, last)

    def _day(self, tenant: Tenant, day: date, day_items: Iterable[Item], items: JobItems) -> bool:
        """Handle one day's items; True when nothing of the day is left to retry."""
        complete = True
        for item in day_items:
            suffix = self.item_key(item)
            key = f"{day.isoformat()}#{suffix}" if suffix else day.isoformat()
            handled = self.take(items, key, partial(self.handle, tenant, day, item), day=day.isoformat())
            complete = handled and complete
        return complete
