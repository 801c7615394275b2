"""What a change of a loyalty-table item adds to the report counters. Pure: no AWS here.

Each function takes the item's image before and after the write (``None`` for an
insert) and returns the counters the change moves (``reports.orders.Amounts``), on the
program-local day the change happened; ``reports.records`` applies them once per stream
record. Flows are counted on the day they happened; stocks (points outstanding, members
by stage and by tier) are kept as a tenant total (bucket ``T``) plus the day's change, so
a report's stock at ``end`` is the total less the changes of the days since.

* **Points** (``ledger`` entries, append-only): ``points_issued`` (earn), ``points_redeemed``
  (redeem), ``points_expired`` (expire), ``points_clawed_back`` (clawback),
  ``points_adjusted`` (adjust, signed), each on the entry's day and month, and
  ``points_net``, every entry's signed change of available + pending + held, on its day
  and the total. Holds, their release and pending points becoming available move
  points between buckets of the account and change nothing of the net. So for any
  period: net = issued − redeemed − expired − clawed back + adjusted, and
  ``points_outstanding`` (the net of every entry up to a moment) is conserved.
* **Lifecycle stages** (the member's ``#STATS`` item): ``stage_<stage>`` +1 for the
  stage entered, −1 for the stage left, on the day of the new state (``state_at``).
* **Tiers** (the ``#BALANCE`` item): ``tier_<tier>`` likewise, on the day of the write
  (``updated_at``); ``tier_upgrades`` / ``tier_downgrades`` by the tiers' order.
* **Care** (``care_ledger`` lines): ``care_sent`` for an email sent, ``care_skipped_<reason>``
  for a skip; (``care_task`` items) ``tasks_created`` on the day created,
  ``tasks_completed`` on the day closed as done, and ``tasks_due`` / ``tasks_on_time``
  on the day a task was due: due − on time is ``tasks_overdue``, the tasks due in the
  period that were not done by their due time (a dismissed task is not due)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from loyalty.timeutil import local_day, parse_rfc3339
from reports.orders import Amounts, difference
from reports.periods import bucket_day, bucket_month

Image = Mapping[str, Any]
POINT_FLOWS = {
    "earn": ("points_issued", 1),
    "redeem": ("points_redeemed", -1),
    "expire": ("points_expired", -1),
    "clawback": ("points_clawed_back", -1),
    "adjust": ("points_adjusted", 1),
}


def _day(value: Any, tz: ZoneInfo) -> str:
    return bucket_day(local_day(parse_rfc3339(str(value)), tz))


def _month(value: Any, tz: ZoneInfo) -> str:
    return bucket_month(local_day(parse_rfc3339(str(value)), tz))


def ledger_counts(old: Image | None, new: Image | None, tz: ZoneInfo) -> Amounts:
    """A new ledger entry's flows (entries are never rewritten: a change adds nothing)."""
    if old is not None or new is None:
        return {}
    points = Decimal(new.get("points", 0))
    day, month = _day(new["at"], tz), _month(new["at"], tz)
    counts: Amounts = {}
    flow = POINT_FLOWS.get(str(new.get("entry_type")))
    if flow is not None and points:
        name, sign = flow
        counts[(day, name)] = points * sign
        counts[(month, name)] = points * sign
    if points:
        counts[(day, "points_net")] = points
        counts[("T", "points_net")] = points
    return counts


def _stock_change(before: str | None, after: str | None, prefix: str, day: str) -> Amounts:
    if before == after:
        return {}
    counts: Amounts = {}
    for value, sign in ((after, 1), (before, -1)):
        if value:
            for bucket in (day, "T"):
                key = (bucket, f"{prefix}_{value}")
                counts[key] = counts.get(key, Decimal(0)) + sign
    return counts


def stage_counts(old: Image | None, new: Image | None, tz: ZoneInfo) -> Amounts:
    if new is None or not new.get("lifecycle_stage") or not new.get("state_at"):
        return {}
    before = None if old is None else old.get("lifecycle_stage")
    return _stock_change(before, str(new["lifecycle_stage"]), "stage", _day(new["state_at"], tz))


def tier_counts(old: Image | None, new: Image | None, tz: ZoneInfo, tiers: Sequence[str]) -> Amounts:
    if new is None or not new.get("tier") or not new.get("updated_at"):
        return {}
    before = None if old is None else old.get("tier")
    after = str(new["tier"])
    day = _day(new["updated_at"], tz)
    counts = _stock_change(before, after, "tier", day)
    if before and before != after and before in tiers and after in tiers:
        name = "tier_upgrades" if tiers.index(after) > tiers.index(before) else "tier_downgrades"
        counts[(day, name)] = Decimal(1)
    return counts


def care_ledger_counts(old: Image | None, new: Image | None, tz: ZoneInfo) -> Amounts:
    if old is not None or new is None:
        return {}
    day = _day(new["at"], tz)
    if new.get("outcome") == "sent":
        return {(day, "care_sent"): Decimal(1)}
    if new.get("outcome") == "skipped":
        return {(day, f"care_skipped_{new.get('reason') or 'other'}"): Decimal(1)}
    return {}


def _task_contribution(task: Image | None, tz: ZoneInfo) -> Amounts:
    if task is None:
        return {}
    counts: Amounts = {(_day(task["created_at"], tz), "tasks_created"): Decimal(1)}
    status, closed_at = task.get("status"), task.get("closed_at")
    if status != "dismissed":
        counts[(_day(task["due_at"], tz), "tasks_due")] = Decimal(1)
    if status == "done" and closed_at:
        counts[(_day(closed_at, tz), "tasks_completed")] = Decimal(1)
        if parse_rfc3339(str(closed_at)) <= parse_rfc3339(str(task["due_at"])):
            key = (_day(task["due_at"], tz), "tasks_on_time")
            counts[key] = counts.get(key, Decimal(0)) + 1
    return counts


def task_counts(old: Image | None, new: Image | None, tz: ZoneInfo) -> Amounts:
    """A task's whole contribution after the write less before it."""
    return difference(_task_contribution(new, tz), _task_contribution(old, tz))
