"""Care task, send ledger and activity routes of CareRulesApi (a router the API
includes).

Storefront keys: ``care:read`` lists and reads a tenant's care tasks and a member's
send ledger, ``care:write`` closes a task. A task closes once: a repeated identical
PATCH answers the task and writes nothing, a close with another status or outcome is a
409, and a concurrent close is retried with a fresh read and answered from what that
read finds. A task of another tenant is unknown (404). Who closed a task is recorded
as the key id of the storefront key. Admin key: a rule's activity, counted per
program-local day from the activity counters. Task lists read eventually consistent
indexes (a change may take about a second to show); a single task is read
consistently. Logs carry ids only."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from care_rules import catalog, rules, task_store, tasks
from care_rules.task_models import (
    ActivityOut,
    LedgerOut,
    TaskOut,
    TaskPatch,
    TasksOut,
    activity_out,
    entry_out,
    task_out,
)
from loyalty import staff
from loyalty.api import (
    ADMIN_SECURITY,
    ERROR_RESPONSES,
    ID_PATTERN,
    SECURITY,
    Caller,
    ErrorResponse,
    MemberId,
    caller,
    json_response,
    request_time,
)
from loyalty.errors import NotFound, ValidationFailed
from loyalty.observability import logger_for
from loyalty.settings import get_settings

logger = logger_for(__name__)
router = APIGatewayRouter()

TaskId = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN, description="Care task id")]
RuleId = Annotated[
    str, Path(min_length=1, max_length=64, pattern=rules.RULE_ID_PATTERN, description="Care rule id")
]
Cursor = Annotated[str | None, Query(max_length=2048)]
Limit = Annotated[int, Query(ge=1, le=100)]
_TASK = json_response("The care task", TaskOut)
_UNKNOWN_TASK = json_response("Unknown care task (also another tenant's)", ErrorResponse)


def _resolver() -> APIGatewayRestResolver:
    resolver = router.api_resolver
    if not isinstance(resolver, APIGatewayRestResolver):
        raise RuntimeError("the care task routes are used only through CareRulesApi")
    return resolver


def _caller(role: str = "storefront", scope: str | None = None) -> Caller:
    return caller(_resolver(), role=role, scope=scope)


def _table() -> str:
    return get_settings().require("loyalty_table")


def _json(model: TaskOut | TasksOut | LedgerOut | ActivityOut) -> Response[Any]:
    return Response(200, "application/json", model.model_dump_json(by_alias=True))


@router.get(
    "/v1/care-tasks",
    summary="Care tasks by status (open by default), of one assignee or member, or overdue",
    responses={200: json_response("One page of tasks", TasksOut), **ERROR_RESPONSES},
    security=SECURITY,
    tags=["care tasks"],
)
def list_tasks(
    assignee: Annotated[str | None, Query(max_length=64, pattern=staff.IDENTIFIER_PATTERN)] = None,
    status: Annotated[tasks.TaskStatus, Query()] = "open",
    member_id: Annotated[str | None, Query(min_length=1, max_length=128, pattern=ID_PATTERN)] = None,
    overdue: Annotated[bool, Query(description="Only open tasks past their due time")] = False,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response[Any]:
    tenant = _caller(scope="care:read").tenant_id
    if overdue and status != "open":
        raise ValidationFailed("overdue lists open tasks only", field="overdue")
    now = request_time(_resolver())
    found, next_cursor = task_store.list_tasks(
        _table(),
        tenant,
        status=status,
        assignee=assignee,
        member_id=member_id,
        overdue_at=now if overdue else None,
        limit=limit,
        cursor_text=cursor,
    )
    return _json(TasksOut(tasks=[task_out(task, now) for task in found], next_cursor=next_cursor))


@router.get(
    "/v1/care-tasks/<task_id>",
    summary="A care task",
    responses={200: _TASK, 404: _UNKNOWN_TASK, **ERROR_RESPONSES},
    security=SECURITY,
    tags=["care tasks"],
)
def get_task(task_id: TaskId) -> Response[Any]:
    tenant = _caller(scope="care:read").tenant_id
    found = task_store.get(_table(), tenant, task_id)
    if found is None:
        raise NotFound("no such care task", field="task_id")
    return _json(task_out(found, request_time(_resolver())))


@router.patch(
    "/v1/care-tasks/<task_id>",
    summary="Close a care task as done or dismissed (a repeated close changes nothing)",
    responses={
        200: _TASK,
        404: _UNKNOWN_TASK,
        409: json_response("task_closed: closed already with another status or outcome", ErrorResponse),
        **ERROR_RESPONSES,
    },
    security=SECURITY,
    tags=["care tasks"],
)
def patch_task(task_id: TaskId, body: Annotated[TaskPatch, Body()]) -> Response[Any]:
    closer = _caller(scope="care:write")
    now = request_time(_resolver())
    closed = task_store.close_task(
        _table(), closer.tenant_id, task_id, body.status, body.outcome, now, closer.key_id
    )
    if closed is None:
        raise NotFound("no such care task", field="task_id")
    if closed.changed:
        logger.info("care task closed", extra={"task_id": task_id, "status": body.status})
    return _json(task_out(closed.task, now))


@router.get(
    "/v1/members/<member_id>/care",
    summary="The member's send ledger, newest first: every firing and skip of a care rule",
    responses={200: json_response("One page of ledger entries", LedgerOut), **ERROR_RESPONSES},
    security=SECURITY,
    tags=["care tasks"],
)
def get_member_care(member_id: MemberId, limit: Limit = 50, cursor: Cursor = None) -> Response[Any]:
    tenant = _caller(scope="care:read").tenant_id
    entries, next_cursor = task_store.ledger_page(_table(), tenant, member_id, limit, cursor)
    return _json(LedgerOut(entries=[entry_out(entry) for entry in entries], next_cursor=next_cursor))


@router.get(
    "/v1/admin/care-rules/<rule_id>/activity",
    summary="A care rule's ledger entries by outcome and reason, per program-local day",
    responses={
        200: json_response("Counts from the first through the last day", ActivityOut),
        404: json_response("Unknown care rule", ErrorResponse),
        **ERROR_RESPONSES,
    },
    security=ADMIN_SECURITY,
    tags=["care rules"],
)
def get_activity(
    rule_id: RuleId,
    from_: Annotated[
        str | None,
        Query(alias="from", max_length=40, description="A date (YYYY-MM-DD) or an RFC 3339 timestamp"),
    ] = None,
    to: Annotated[
        str | None,
        Query(max_length=40, description="A date or a timestamp (its whole day counts); default now"),
    ] = None,
) -> Response[Any]:
    tenant = _caller(role="admin").tenant_id
    now = request_time(_resolver())
    days = tasks.activity_days(from_, to, now, get_settings().tz)
    if catalog.current(_table(), tenant, rule_id, now) is None:
        raise NotFound("no such care rule", field="rule_id")
    first, last = days.first.isoformat(), days.last.isoformat()
    counted = task_store.activity(_table(), tenant, rule_id, first, last)
    return _json(activity_out(rule_id, first, last, counted))
