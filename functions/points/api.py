"""Points API: the member's ledger, redemptions with holds, admin adjustments,
and earning estimates. Thin: parse, call one use case, respond."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from loyalty import audit
from loyalty.api import (
    ADMIN_SECURITY,
    ERROR_RESPONSES,
    ID_PATTERN,
    SECURITY,
    ErrorResponse,
    MemberId,
    caller,
    create_resolver,
    json_response,
    request_time,
    resolve,
)
from loyalty.errors import Conflict, NotFound, ValidationFailed
from loyalty.observability import logger_for, metrics_for, tracer_for
from loyalty.program import get_program
from loyalty.settings import get_settings
from loyalty.timeutil import iso
from points import logic
from points.ledger import Entry, InsufficientPoints, InvalidTransition, OrderLine, TooManyHolds
from points.models import (
    AdjustmentIn,
    AdjustmentOut,
    EntryOut,
    EstimateIn,
    EstimateOut,
    LedgerPage,
    RedemptionIn,
    RedemptionOut,
)
from points.repository import DynamoLedgerStore, record_adjustment

logger = logger_for(__name__)
tracer = tracer_for(__name__)
metrics = metrics_for(__name__)
app = create_resolver(logger)

RedemptionId = Annotated[
    str, Path(min_length=1, max_length=128, pattern=ID_PATTERN, description="Redemption id")
]
_REDEMPTION = json_response("The redemption and the balance after it", RedemptionOut)
_CONFLICTS = json_response(
    "insufficient_points, too_many_holds, conflict (same id, different request) or redemption_not_held",
    ErrorResponse,
)


_SETTLE_RESPONSES: dict[int, Any] = {
    200: _REDEMPTION,
    404: json_response("Unknown redemption", ErrorResponse),
    409: _CONFLICTS,
    **ERROR_RESPONSES,
}


def _ctx() -> logic.Context:
    settings = get_settings()
    store = DynamoLedgerStore(settings.require("loyalty_table"), settings.events_table or None, settings.tz)
    program = get_program()
    return logic.Context(store, program.points, settings.tz, request_time(app), program=program)


def _run(operation: Any, *args: Any, **kwargs: Any) -> logic.Applied:
    """Domain refusals become the error contract (a spent retry budget, logic.Contention,
    is the resolver's 503)."""
    try:
        done: logic.Applied = operation(*args, **kwargs)
    except InsufficientPoints as err:
        raise Conflict(str(err), field="points", code="insufficient_points") from err
    except TooManyHolds as err:
        raise Conflict(str(err), field="hold", code="too_many_holds") from err
    except InvalidTransition as err:
        raise Conflict(str(err), field="redemption_id", code=err.code) from err
    except logic.RequestConflict as err:
        raise Conflict(str(err), field="redemption_id") from err
    except logic.UnknownRedemption as err:
        raise NotFound("no such redemption", field="redemption_id") from err
    metrics.add_metric(
        name="PointsRequestsApplied" if done.applied else "PointsReplays", unit=MetricUnit.Count, value=1
    )
    return done


def _entry_out(entry: Entry) -> EntryOut:
    return EntryOut(
        seq=entry.seq,
        type=entry.entry_type,  # type: ignore[arg-type]
        at=entry.at,
        reason=entry.reason,
        available=entry.available,
        pending=entry.pending,
        held=entry.held,
        lots=[{"expires_on": day, "points": points} for day, points in sorted(entry.lots.items())],
        unrecovered=entry.unrecovered,
        refs=entry.refs,
    )


@app.get(
    "/v1/members/<member_id>/ledger",
    summary="The member's points ledger, newest first",
    responses={200: json_response("One page of ledger entries", LedgerPage), **ERROR_RESPONSES},
    security=SECURITY,
    tags=["points"],
)
def get_ledger(
    member_id: MemberId,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> LedgerPage:
    tenant = caller(app, scope="members:read").tenant_id
    store = DynamoLedgerStore(get_settings().require("loyalty_table"), None, get_settings().tz)
    page = logic.ledger_page(store, tenant, member_id, limit, cursor)
    return LedgerPage(entries=[_entry_out(e) for e in page.entries], next_cursor=page.next_cursor)


@app.post(
    "/v1/members/<member_id>/redemptions",
    summary="Redeem points, or hold them until confirmed or cancelled",
    responses={201: _REDEMPTION, 409: _CONFLICTS, **ERROR_RESPONSES},
    security=SECURITY,
    tags=["points"],
)
def post_redemption(member_id: MemberId, body: Annotated[RedemptionIn, Body()]) -> Response[Any]:
    done = _run(
        logic.redeem,
        _ctx(),
        caller(app, scope="points:redeem").tenant_id,
        member_id,
        body.redemption_id,
        body.points,
        hold=body.hold,
        reward=body.reward,
        order_id=body.order_id,
    )
    return Response(201, "application/json", RedemptionOut.model_validate(done.result).model_dump_json())


@app.post(
    "/v1/members/<member_id>/redemptions/<redemption_id>/confirm",
    summary="Confirm a held redemption: the held points are spent",
    responses=_SETTLE_RESPONSES,
    security=SECURITY,
    tags=["points"],
)
def confirm_redemption(member_id: MemberId, redemption_id: RedemptionId) -> RedemptionOut:
    done = _run(logic.confirm, _ctx(), caller(app, scope="points:redeem").tenant_id, member_id, redemption_id)
    return RedemptionOut.model_validate(done.result)


@app.post(
    "/v1/members/<member_id>/redemptions/<redemption_id>/cancel",
    summary="Cancel a held redemption: the points return to the lots they came from",
    responses=_SETTLE_RESPONSES,
    security=SECURITY,
    tags=["points"],
)
def cancel_redemption(member_id: MemberId, redemption_id: RedemptionId) -> RedemptionOut:
    done = _run(logic.cancel, _ctx(), caller(app, scope="points:redeem").tenant_id, member_id, redemption_id)
    return RedemptionOut.model_validate(done.result)


@app.post(
    "/v1/members/<member_id>/adjustments",
    summary="Correct a member's points (admin key; the reason is kept in the ledger)",
    responses={
        201: json_response("The adjustment and the balance after it", AdjustmentOut),
        **ERROR_RESPONSES,
    },
    security=ADMIN_SECURITY,
    tags=["points"],
)
def post_adjustment(member_id: MemberId, body: Annotated[AdjustmentIn, Body()]) -> Response[Any]:
    admin = caller(app, role="admin")
    if body.points == 0:
        raise ValidationFailed("points must not be zero", field="points")
    done = _run(
        logic.adjust,
        _ctx(),
        admin.tenant_id,
        member_id,
        body.adjustment_id,
        body.points,
        body.reason,
        "admin",
    )
    logger.info(
        "points adjusted",
        extra={"adjustment_id": body.adjustment_id, "points": body.points, "applied": done.applied},
    )
    record_adjustment(  # once per adjustment, also when the request is replayed
        get_settings().require("loyalty_table"),
        admin.tenant_id,
        request_time(app),
        audit.Actor("admin", admin.key_id),
        member_id,
        body.adjustment_id,
        done.result,
    )
    return Response(201, "application/json", AdjustmentOut.model_validate(done.result).model_dump_json())


@app.post(
    "/v1/points/estimate",
    summary="What an order would earn for a member, and the rules that applied; writes nothing",
    responses={200: json_response("The estimate", EstimateOut), **ERROR_RESPONSES},
    security=SECURITY,
    tags=["points"],
)
def post_estimate(body: Annotated[EstimateIn, Body()]) -> EstimateOut:
    tenant = caller(app, scope="members:read").tenant_id
    ctx = _ctx()
    lines = [OrderLine(i.category, Decimal(i.unit_price) * i.quantity) for i in body.order.items]
    placed_at = iso(body.placed_at) if body.placed_at else iso(ctx.now)
    found = logic.estimate(
        ctx, tenant, body.member_id, Decimal(body.order.total), lines, placed_at, body.order.currency
    )
    return EstimateOut(
        points=found.total,
        order_points=found.order_points,
        bonuses=[{"name": name, "points": points} for name, points in found.bonuses],  # type: ignore[misc]
        rules=found.rules,
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve(app, event, context)
