"""Where the care engine keeps what it knows: the keys of its items (LoyaltyTable).
Pure: no AWS here. ``docs/data-model.md`` lists each item and its access patterns.

In the member's partition (``T#<t>#M#<m>``):

* a **firing** ``CAREF#<rule>#<source>``: one rule about to act for the member. The
  source names what caused it: ``e:<event_id>`` (an event trigger), ``date:<field>:<day>``
  (a date trigger, the member-local day), ``inactive`` (an inactivity trigger, one per
  rule and member, re-armed by each newer event) or ``delay`` (a delay trigger, one per
  rule and member, restarted by each newer ``after`` event). While it waits it is listed
  in the care due index (gsi1 ``T#<t>#DUE#care#<shard>`` / ``<due_at>#<member>#<rule>#<source>``);
* a **once marker** ``CAREO#<rule>#<period>``: the firing that holds the rule's send for
  the period;
* the **frequency cap** ``CAREC#cap``: the member's marketing emails of the last days;
* **send ledger** entries ``CL#<at>#<rule>#<instance hash>#<n>``: every firing and every skip;
* delivery claims ``CARE#<rule>#<source>#<action>`` (``loyalty.once``).

A **care task** is an item of its own (``T#<t>#CT#<task_id>`` / ``TASK``), listed by status
(gsi1 ``T#<t>#TASKS#<status>`` / ``<assignee>#<due_at>#<task_id>``) and by member (gsi2
``T#<t>#TASKM#<member>`` / ``<status>#<due_at>#<task_id>``); its assignee's email claim is
``DELIVERY#task`` in the same partition.

**Activity counters** per rule, shard and program-local day: ``T#<t>#CARESTAT#<rule>#<shard>``
/ ``<yyyy-mm-dd>``, with one number per outcome (``c_<outcome>``) and per outcome and
reason (``c_<outcome>_<reason>``).

**Template overrides** sit with the tenant's rules: ``T#<t>#CARE`` / ``TPL#<template>#<locale>``."""

from __future__ import annotations

import hashlib

from loyalty import keys

CARE_SHARDS = 8  # care due index and activity counter partitions per tenant (and rule)

FIRING_PREFIX = "CAREF#"
ONCE_PREFIX = "CAREO#"
CAP_SK = "CAREC#cap"
LEDGER_PREFIX = "CL#"
TASK_SK = "TASK"
TASK_CLAIM_SK = "DELIVERY#task"
TEMPLATE_PREFIX = "TPL#"

# What a firing, a ledger entry and a task can be.
OUTCOMES = ("sent", "deferred", "skipped", "task", "points", "event")
REASONS = (
    "consent",
    "frequency_cap",
    "quiet_hours",
    "once",
    "erased",
    "no_address",
    "condition",
    "rule_disabled",
    "late",
)
TASK_STATUSES = ("open", "done", "dismissed")


def firing_sk(rule_id: str, source: str) -> str:
    return f"{FIRING_PREFIX}{rule_id}#{source}"


def event_source(event_id: str) -> str:
    return f"e:{event_id}"


def date_source(field: str, day: str) -> str:
    return f"date:{field}:{day}"


INACTIVE_SOURCE = "inactive"
DELAY_SOURCE = "delay"


def care_due_index(tenant: str, member: str, rule_id: str, source: str, due_at: str) -> dict[str, str]:
    return {
        "gsi1pk": care_due_pk(tenant, keys.shard_of(member, CARE_SHARDS)),
        "gsi1sk": f"{due_at}#{member}#{rule_id}#{source}",
    }


def care_due_pk(tenant: str, shard: int) -> str:
    return keys.due_pk(tenant, f"care#{shard}")


def care_due_pks(tenant: str) -> list[str]:
    return [care_due_pk(tenant, s) for s in range(CARE_SHARDS)]


def once_sk(rule_id: str, period: str) -> str:
    return f"{ONCE_PREFIX}{rule_id}#{period}"


def ledger_sk(at: str, rule_id: str, n: int, instance: str = "") -> str:
    """A ledger entry: newest last by time; the firing's instance (hashed) and the action
    number keep two firings of one rule recorded at the same instant apart."""
    tag = hashlib.sha256(instance.encode()).hexdigest()[:8]
    return f"{LEDGER_PREFIX}{at}#{rule_id}#{tag}#{n:02d}"


def claim_sk(rule_id: str, source: str, action: int) -> str:
    return f"{keys.CARE_CLAIM_PREFIX}{rule_id}#{source}#{action}"


def task_id(tenant: str, member: str, rule_id: str, source: str, action: int) -> str:
    """A task's id, derived from the firing and action that created it: a repeated
    attempt creates the same task, never a second one."""
    digest = hashlib.sha256(f"{tenant}\n{member}\n{rule_id}\n{source}\n{action}".encode()).hexdigest()
    return f"ct-{digest[:24]}"


def task_pk(tenant: str, task: str) -> str:
    return f"T#{tenant}#CT#{task}"


def tasks_by_status_pk(tenant: str, status: str) -> str:
    return f"T#{tenant}#TASKS#{status}"


def tasks_by_member_pk(tenant: str, member: str) -> str:
    return f"T#{tenant}#TASKM#{member}"


def task_index(
    tenant: str, member: str, assignee: str, status: str, due_at: str, task: str
) -> dict[str, str]:
    return {
        "gsi1pk": tasks_by_status_pk(tenant, status),
        "gsi1sk": f"{assignee}#{due_at}#{task}",
        "gsi2pk": tasks_by_member_pk(tenant, member),
        "gsi2sk": f"{status}#{due_at}#{task}",
    }


def activity_pk(tenant: str, rule_id: str, shard: int) -> str:
    return f"T#{tenant}#CARESTAT#{rule_id}#{shard}"


def activity_pks(tenant: str, rule_id: str) -> list[str]:
    return [activity_pk(tenant, rule_id, s) for s in range(CARE_SHARDS)]


def counter_names(outcome: str, reason: str | None) -> list[str]:
    """The counters one ledger entry adds to."""
    names = [f"c_{outcome}"]
    if reason:
        names.append(f"c_{outcome}_{reason}")
    return names


def template_sk(template_id: str, locale: str) -> str:
    return f"{TEMPLATE_PREFIX}{template_id}#{locale}"
