"""Care rule backtest routes of CareRulesApi (a router the API includes), admin key only.

A backtest answers what a rule (its current version, or an unsaved rule validated like
a PUT) would have done over a past window of at most 90 days, from the event log and the
members as stored now (``care_rules.backtest``, ``care_rules.backtest_reads``). It writes
nothing and sends nothing: it only Queries. A rule whose trigger no index can answer is
a 400 ``backtest_unsupported`` naming the trigger field; a window holding more than the
read budget is a 422 ``backtest_too_large``. Logs carry ids and counts only."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from care_rules import backtest, backtest_reads, delivery, engine, repository, rules
from care_rules.backtest_models import BacktestIn, BacktestOut, DraftBacktestIn
from care_rules.defaults import default_rules
from care_rules.rules import CareRule
from care_rules.ruleset import StoredRule
from loyalty.api import ADMIN_SECURITY, ERROR_RESPONSES, ErrorResponse, caller, json_response, request_time
from loyalty.errors import NotFound, ValidationFailed
from loyalty.observability import logger_for
from loyalty.program import get_program
from loyalty.settings import get_settings
from loyalty.timeutil import iso

logger = logger_for(__name__)
router = APIGatewayRouter()

RuleId = Annotated[
    str, Path(min_length=1, max_length=64, pattern=rules.RULE_ID_PATTERN, description="Care rule id")
]
_RESPONSES: dict[int, Any] = {
    200: json_response("What the rule would have done in the window", BacktestOut),
    422: json_response("backtest_too_large: the window holds too much to read", ErrorResponse),
    **ERROR_RESPONSES,
}


def _resolver() -> APIGatewayRestResolver:
    resolver = router.api_resolver
    if not isinstance(resolver, APIGatewayRestResolver):
        raise RuntimeError("the backtest routes are used only through CareRulesApi")
    return resolver


def _window(body: BacktestIn) -> tuple[datetime, datetime]:
    start, end = body.from_, body.to
    if end <= start:
        raise ValidationFailed("to must be after from", field="to")
    if end - start > timedelta(days=backtest.MAX_DAYS):
        raise ValidationFailed(f"a backtest window is at most {backtest.MAX_DAYS} days", field="to")
    return start, end


def _current(tenant: str, rule_id: str, at: str) -> StoredRule | None:
    """The rule's current version; for a tenant whose rules were never seeded, the
    default rule as it would be seeded (version 1), read without seeding: a backtest
    writes nothing."""
    table = get_settings().require("loyalty_table")
    found = repository.get_rule(table, tenant, rule_id)
    if found is not None or repository.is_seeded(table, tenant):
        return found
    rule = default_rules().get(rule_id)
    return StoredRule(rule_id, 1, rule, at) if rule is not None else None


def _run(tenant: str, rule: CareRule, start: datetime, end: datetime, version: int | None) -> Response[Any]:
    settings = get_settings()
    program = get_program()
    care = program.care
    reader = backtest_reads.Reader(
        settings.require("loyalty_table"),
        settings.require("events_table"),
        tenant,
        settings.tz,
        program.points.tiers[0].name,
    )
    found = backtest_reads.candidates(reader, rule, start, end)
    simulated = backtest.simulate(
        rule,
        found,
        backtest.Settings(
            tz=settings.tz,
            frequency_cap=care.frequency_cap,
            cap_days=care.cap_days,
            quiet_start=engine.clock(care.quiet_hours_start),
            quiet_end=engine.clock(care.quiet_hours_end),
            email_block=delivery.email_block,
        ),
    )
    answer = backtest.answer_document(simulated, iso(start), iso(end), reader.reads(), version)
    logger.info("care rule backtested", extra={"version": version, "firings": len(found), **reader.reads()})
    out = BacktestOut.model_validate(answer)
    return Response(200, "application/json", out.model_dump_json(by_alias=True))


@router.post(
    "/v1/admin/care-rules/<rule_id>/backtest",
    summary="What a care rule's current version would have done over a past window (writes nothing)",
    responses={**_RESPONSES, 404: json_response("Unknown care rule", ErrorResponse)},
    security=ADMIN_SECURITY,
    tags=["care rules"],
)
def backtest_rule(rule_id: RuleId, body: Annotated[BacktestIn, Body()]) -> Response[Any]:
    tenant = caller(_resolver(), role="admin").tenant_id
    start, end = _window(body)
    stored = _current(tenant, rule_id, iso(request_time(_resolver())))
    if stored is None:
        raise NotFound("no such care rule", field="rule_id")
    problem = backtest.unsupported(stored.rule)
    if problem is not None:
        raise problem
    return _run(tenant, stored.rule, start, end, stored.version)


@router.post(
    "/v1/admin/care-rules/backtest",
    summary="What an unsaved care rule would have done over a past window (writes nothing)",
    responses=_RESPONSES,
    security=ADMIN_SECURITY,
    tags=["care rules"],
)
def backtest_draft(body: Annotated[DraftBacktestIn, Body()]) -> Response[Any]:
    tenant = caller(_resolver(), role="admin").tenant_id
    start, end = _window(body)
    try:
        rules.check(body.rule)
    except rules.InvalidRule as err:
        raise ValidationFailed(err.message, field=f"rule.{err.field}") from err
    problem = backtest.unsupported(body.rule)
    if problem is not None:
        raise ValidationFailed(problem.message, field=f"rule.{problem.field}", code=problem.code)
    return _run(tenant, body.rule, start, end, None)
