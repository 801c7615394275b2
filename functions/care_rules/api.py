"""Care rules admin API (admin key only): list, read with history, create or replace,
and disable a tenant's care rules; and the staff registry the rules' tasks go to.

A rule is validated whole before anything is written (``rules.validate_rule``): an
invalid one is a 400 naming the field of the first problem, and nothing changes. A
save writes the new current version, the version's immutable copy and the audit
entry in one transaction; repeating a save changes nothing and answers what is
stored. The tenant's default rules are seeded on its first request (``catalog``).

The staff registry (``loyalty.staff``, shared with tickets): a person is validated
whole, saved with its ``staff.saved`` audit entry in one transaction (201 on
creation, 200 on a change or a repeat, which writes nothing), read and listed by
role, queue and active; never deleted (``active: false`` retires). Names and email
addresses are personal data: no log line carries them."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from care_rules import catalog, repository, rules
from care_rules.backtest_routes import router as backtest_router
from care_rules.models import CareRuleDetailOut, CareRuleOut, CareRulesOut, rule_out
from care_rules.staff_models import StaffListOut, StaffOut, staff_out
from care_rules.task_routes import router as task_router
from care_rules.template_routes import router as template_router
from loyalty import audit, staff
from loyalty.api import (
    ADMIN_SECURITY,
    ERROR_RESPONSES,
    ErrorResponse,
    caller,
    create_resolver,
    error_response,
    json_response,
    request_time,
    resolve,
)
from loyalty.errors import NotFound, ValidationFailed
from loyalty.observability import logger_for, metrics_for, tracer_for
from loyalty.program import get_program
from loyalty.settings import get_settings

logger = logger_for(__name__)
tracer = tracer_for(__name__)
metrics = metrics_for(__name__)
app = create_resolver(logger)

RuleId = Annotated[
    str, Path(min_length=1, max_length=64, pattern=rules.RULE_ID_PATTERN, description="Care rule id")
]
StaffId = Annotated[
    str, Path(min_length=1, max_length=64, pattern=staff.IDENTIFIER_PATTERN, description="Staff id")
]
_MISSING = json_response("Unknown care rule", ErrorResponse)
_STAFF = json_response("The stored person", StaffOut)
_RULE = json_response("The stored rule", CareRuleOut)


@app.exception_handler(RequestValidationError)
def _invalid(exc: RequestValidationError) -> Response[Any]:
    """The error contract with the rule's own field paths (union branches left out, an
    unknown trigger or action type named by its ``type``)."""
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request", "type": ""}
    loc = tuple(first.get("loc", ()))
    field = rules.error_field(loc[1:], str(first.get("type", ""))) or (str(loc[0]) if loc else None)
    return error_response(400, "validation_error", str(first.get("msg")), field)


def _table() -> str:
    return get_settings().require("loyalty_table")


def _json(status: int, out: CareRuleOut) -> Response[Any]:
    return Response(status, "application/json", out.model_dump_json(by_alias=True))


@app.get(
    "/v1/admin/care-rules",
    summary="The tenant's care rules (the default rules until they are changed)",
    responses={200: json_response("The current version of every rule", CareRulesOut), **ERROR_RESPONSES},
    security=ADMIN_SECURITY,
    tags=["care rules"],
)
def list_rules() -> Response[Any]:
    tenant = caller(app, role="admin").tenant_id
    found = catalog.rules(_table(), tenant, request_time(app))
    out = CareRulesOut(rules=[rule_out(stored) for stored in found])
    return Response(200, "application/json", out.model_dump_json(by_alias=True))


@app.get(
    "/v1/admin/care-rules/<rule_id>",
    summary="A care rule: its current version and the earlier ones, newest first",
    responses={
        200: json_response("The rule and its history", CareRuleDetailOut),
        404: _MISSING,
        **ERROR_RESPONSES,
    },
    security=ADMIN_SECURITY,
    tags=["care rules"],
)
def get_rule(
    rule_id: RuleId,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> Response[Any]:
    tenant = caller(app, role="admin").tenant_id
    stored = catalog.current(_table(), tenant, rule_id, request_time(app))
    if stored is None:
        raise NotFound("no such care rule", field="rule_id")
    earlier, next_cursor = repository.earlier_versions(_table(), tenant, stored, limit, cursor)
    out = CareRuleDetailOut(
        **rule_out(stored).model_dump(),
        earlier_versions=[rule_out(version) for version in earlier],
        next_cursor=next_cursor,
    )
    return Response(200, "application/json", out.model_dump_json(by_alias=True))


@app.put(
    "/v1/admin/care-rules/<rule_id>",
    summary="Create a care rule, or replace it with a new version (a repeated rule changes nothing)",
    responses={201: json_response("Created: version 1", CareRuleOut), 200: _RULE, **ERROR_RESPONSES},
    security=ADMIN_SECURITY,
    tags=["care rules"],
)
def put_rule(rule_id: RuleId, body: Annotated[rules.CareRule, Body()]) -> Response[Any]:
    admin = caller(app, role="admin")
    try:
        rules.check(body)
    except rules.InvalidRule as err:
        raise ValidationFailed(err.message, field=err.field) from err
    actor = audit.Actor("admin", admin.key_id)
    saved = catalog.save(_table(), admin.tenant_id, rule_id, body, request_time(app), actor)
    if saved.changed:
        logger.info("care rule saved", extra={"rule_id": rule_id, "version": saved.stored.version})
    return _json(201 if saved.created else 200, rule_out(saved.stored))


@app.delete(
    "/v1/admin/care-rules/<rule_id>",
    summary="Disable a care rule (a new version with enabled false; its history is kept)",
    responses={200: json_response("The disabled rule", CareRuleOut), 404: _MISSING, **ERROR_RESPONSES},
    security=ADMIN_SECURITY,
    tags=["care rules"],
)
def delete_rule(rule_id: RuleId) -> Response[Any]:
    admin = caller(app, role="admin")
    actor = audit.Actor("admin", admin.key_id)
    saved = catalog.disable(_table(), admin.tenant_id, rule_id, request_time(app), actor)
    if saved is None:
        raise NotFound("no such care rule", field="rule_id")
    if saved.changed:
        logger.info("care rule disabled", extra={"rule_id": rule_id, "version": saved.stored.version})
    return _json(200, rule_out(saved.stored))


@app.put(
    "/v1/admin/staff/<staff_id>",
    summary="Create or replace a person on the staff registry (a repeated save changes nothing)",
    responses={201: json_response("Created: version 1", StaffOut), 200: _STAFF, **ERROR_RESPONSES},
    security=ADMIN_SECURITY,
    tags=["staff"],
)
def put_staff(staff_id: StaffId, body: Annotated[staff.StaffMember, Body()]) -> Response[Any]:
    admin = caller(app, role="admin")
    actor = audit.Actor("admin", admin.key_id)
    locale = get_program().locale
    saved = staff.save(_table(), admin.tenant_id, staff_id, body, locale, request_time(app), actor)
    if saved.changed:
        logger.info("staff saved", extra={"staff_id": staff_id, "version": saved.staff.version})
    out = staff_out(saved.staff)
    return Response(201 if saved.created else 200, "application/json", out.model_dump_json())


@app.get(
    "/v1/admin/staff/<staff_id>",
    summary="A person on the staff registry (retired people too)",
    responses={200: _STAFF, 404: json_response("Unknown staff id", ErrorResponse), **ERROR_RESPONSES},
    security=ADMIN_SECURITY,
    tags=["staff"],
)
def get_staff(staff_id: StaffId) -> Response[Any]:
    tenant = caller(app, role="admin").tenant_id
    found = staff.get(_table(), tenant, staff_id)
    if found is None:
        raise NotFound("no such staff id", field="staff_id")
    return Response(200, "application/json", staff_out(found).model_dump_json())


@app.get(
    "/v1/admin/staff",
    summary="The staff registry by id, filtered by role, queue and active",
    responses={200: json_response("One page of people", StaffListOut), **ERROR_RESPONSES},
    security=ADMIN_SECURITY,
    tags=["staff"],
)
def list_staff(
    role: Annotated[staff.Role | None, Query()] = None,
    queue: Annotated[str | None, Query(max_length=64, pattern=staff.IDENTIFIER_PATTERN)] = None,
    active: Annotated[bool | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> Response[Any]:
    tenant = caller(app, role="admin").tenant_id
    found, next_cursor = staff.list_staff(
        _table(), tenant, role=role, queue=queue, active=active, limit=limit, start=cursor
    )
    out = StaffListOut(staff=[staff_out(person) for person in found], next_cursor=next_cursor)
    return Response(200, "application/json", out.model_dump_json())


app.include_router(task_router)
app.include_router(backtest_router)
app.include_router(template_router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve(app, event, context)
