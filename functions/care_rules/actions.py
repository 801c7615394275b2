"""What a care rule does once its guards let it: each action once per firing.

* **email**: rendered in the member's locale (then the tenant's), with the tenant's
  template overrides, sent through a delivery claim (``loyalty.once``) keyed by the
  firing's instance and the action, so a retried run sends nothing twice;
* **task**: a care task whose id derives from the firing and the action (a repeat
  creates nothing), assigned to the member's owner or the rule's fallback
  (``loyalty.staff.resolve_assignee``); the assignee is emailed once;
* **points**: a ``care.points_granted`` system event with an id derived from the firing,
  stored once (conditional put); the points ledger grants it under its business key;
* **event**: published to the care event bus through a claim, once.

Each returns the ledger entry it earned, or :data:`IN_FLIGHT` when another run holds a
claim (the firing stays due)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from botocore.exceptions import ClientError

from care_rules import compose, layout, rendering, task_store, tasks
from care_rules.context import Context
from care_rules.engine import Facts
from care_rules.firings import Entry
from care_rules.rules import EmailAction, EventAction, PointsAction, TaskAction, duration
from loyalty import aws, staff, unsubscribe
from loyalty.dynamo import is_condition_failure
from loyalty.events.stored import event_item
from loyalty.once import Delivery, deliver, perform
from loyalty.system_events import system_event
from loyalty.timeutil import iso, local_day

Item = dict[str, Any]
IN_FLIGHT = "in_flight"
POINTS_EVENT = "care.points_granted"
BUS_SOURCE = "loyalty.care"


def send_email(
    ctx: Context, firing: Item, n: int, action: EmailAction, facts: Facts, event: Item | None
) -> Entry | str:
    tenant, member = str(firing["tenant_id"]), facts.member_id
    locale = compose.member_locale(facts, ctx.program.locale)
    link = ctx.unsubscribe(tenant, member)
    variables = compose.variables(
        facts, event, locale=locale, program_name=ctx.program.care.program_name, unsubscribe_url=link
    )
    rendered = rendering.render(action.template, locale, variables, ctx.overrides(tenant))
    headers = unsubscribe.headers(link) if action.marketing and link else None
    message = compose.email(
        str(facts.email),
        rendered,
        tags={"Rule": str(firing["rule_id"]), "Tenant": tenant},
        unsubscribe_headers=headers,
    )
    claim = layout.claim_sk(str(firing["rule_id"]), str(firing["instance"]), n)
    delivery = deliver(ctx.table, str(firing["pk"]), claim, ctx.sender, message, ctx.now)
    if delivery is Delivery.IN_FLIGHT:
        return IN_FLIGHT
    return Entry("sent", None, n, "email")


def create_task(ctx: Context, firing: Item, n: int, action: TaskAction, facts: Facts) -> Entry | str:
    tenant = str(firing["tenant_id"])
    person = staff.resolve_assignee(ctx.table, tenant, facts.owner, action.fallback)
    assignee = person.staff_id if person is not None else action.fallback
    by_owner = person is not None and person.staff_id == facts.owner
    task = tasks.Task(
        task_id=layout.task_id(tenant, facts.member_id, str(firing["rule_id"]), str(firing["instance"]), n),
        tenant_id=tenant,
        member_id=facts.member_id,
        assignee=assignee,
        rule_id=str(firing["rule_id"]),
        rule_version=int(firing["version"]),
        title=action.title,
        status="open",
        due_at=iso(ctx.now + duration(action.due)),
        created_at=iso(ctx.now),
        summary=tasks.MemberSummary(
            tier=facts.tier,
            last_order_at=facts.stats.get("last_order_at"),
            lifetime_spend=f"{facts.value('stats.total_spend'):.2f}",
            open_tickets=facts.open_tickets,
        ),
        assigned_by="owner" if by_owner else "fallback",
    )
    task_store.create(ctx.table, task)
    if person is not None and person.email:
        stored = task_store.get(ctx.table, tenant, task.task_id) or task
        locale = rendering.pick_locale(person.locale, ctx.program.locale)
        rendered = rendering.render(
            "care-task-assigned", locale, _task_variables(ctx, stored, person.name), ctx.overrides(tenant)
        )
        message = compose.email(
            person.email,
            rendered,
            tags={"Rule": str(firing["rule_id"]), "Tenant": tenant},
            unsubscribe_headers=None,
        )
        pk = layout.task_pk(tenant, task.task_id)
        if deliver(ctx.table, pk, layout.TASK_CLAIM_SK, ctx.sender, message, ctx.now) is Delivery.IN_FLIGHT:
            return IN_FLIGHT
    return Entry("task", None, n, "task", task.task_id)


def _task_variables(ctx: Context, task: tasks.Task, staff_name: str) -> dict[str, Any]:
    return {
        "staff": {"name": staff_name},
        "task": {
            "task_id": task.task_id,
            "title": task.title,
            "due_at": task.due_at,
            "member_id": task.member_id,
            "rule_id": task.rule_id,
            "summary": task.summary.model_dump(mode="json"),
        },
        "program": {"name": ctx.program.care.program_name},
    }


def grant_points(ctx: Context, firing: Item, n: int, action: PointsAction) -> Entry:
    tenant, member = str(firing["tenant_id"]), str(firing["member_id"])
    digest = hashlib.sha256(f"{firing['rule_id']}\n{firing['instance']}\n{n}".encode()).hexdigest()[:24]
    grant = f"sys:care:{digest}"
    data = {"grant_id": grant, "points": action.points, "reason": action.reason, "rule_id": firing["rule_id"]}
    stored = system_event(
        tenant, member, grant, POINTS_EVENT, ctx.now, local_day(ctx.now, ctx.tz).isoformat(), data
    )
    try:
        aws.table(ctx.events_table).put_item(
            Item=event_item(stored), ConditionExpression="attribute_not_exists(pk)"
        )
    except ClientError as err:
        if not is_condition_failure(err):
            raise  # stored already: a repeated attempt grants nothing more
    return Entry("points", None, n, "points")


def publish(ctx: Context, firing: Item, n: int, action: EventAction, facts: Facts) -> Entry | str:
    if not ctx.bus:
        raise RuntimeError("no care event bus is configured (CARE_EVENT_BUS)")
    detail = {
        "tenant_id": firing["tenant_id"],
        "member_id": facts.member_id,
        "rule_id": firing["rule_id"],
        "rule_version": int(firing["version"]),
        "firing": firing["instance"],
        "at": iso(ctx.now),
        "consent": {
            channel: bool((facts.profile.get(f"consent_{channel}") or {}).get("granted"))
            for channel in ("email", "sms")
        },
    }
    entry = {
        "Source": BUS_SOURCE,
        "DetailType": action.detail_type or f"care.{firing['rule_id']}",
        "Detail": json.dumps(detail, separators=(",", ":"), default=str),
        "EventBusName": ctx.bus,
    }

    def put() -> str:
        answer = aws.client("events").put_events(Entries=[entry])
        failed = [e for e in answer.get("Entries", []) if e.get("ErrorCode")]
        if answer.get("FailedEntryCount") or failed:
            raise RuntimeError(
                f"the event bus refused the event: {failed[0].get('ErrorCode') if failed else ''}"
            )
        return str(answer["Entries"][0].get("EventId", ""))

    claim = layout.claim_sk(str(firing["rule_id"]), str(firing["instance"]), n)
    if perform(ctx.table, str(firing["pk"]), claim, put, ctx.now) is Delivery.IN_FLIGHT:
        return IN_FLIGHT
    return Entry("event", None, n, "event")
