"""GET /v1/members/{member_id}: the member's profile, stats and points."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from loyalty.api import (
    ERROR_RESPONSES,
    SECURITY,
    ErrorResponse,
    MemberId,
    caller,
    create_resolver,
    json_response,
)
from loyalty.errors import NotFound
from loyalty.settings import get_settings
from points.models import MemberOut
from points.repository import PointsStore, balance_from_item
from points.view import member_view

logger = Logger(service="points")
tracer = Tracer(service="points")
metrics = Metrics(namespace="Loyalty", service="points")
app = create_resolver(logger)


@app.get(
    "/v1/members/<member_id>",
    summary="A member's profile, stats and points balance",
    responses={
        200: json_response("The member", MemberOut),
        404: json_response("Unknown member", ErrorResponse),
        **ERROR_RESPONSES,
    },
    security=SECURITY,
    tags=["members"],
)
def get_member(member_id: MemberId) -> MemberOut:
    tenant = caller(app).tenant_id
    items = PointsStore(get_settings().require("loyalty_table")).member_items(tenant, member_id)
    view = member_view(member_id, items, balance_from_item(items.get("#BALANCE")))
    if view is None:
        raise NotFound("no such member", field="member_id")
    return view


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
