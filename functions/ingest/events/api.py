"""POST /v1/events: storefront events, one or a batch of up to 100."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ingest.events import logic, timeline
from ingest.events.models import (
    UNION_TAGS,
    EventBatch,
    EventResult,
    EventsRequest,
    EventsResponse,
    FieldError,
    TimelineEvent,
    TimelineResponse,
)
from ingest.events.repository import DynamoEventStore
from loyalty.api import (
    ERROR_RESPONSES,
    SECURITY,
    ErrorResponse,
    MemberId,
    caller,
    create_resolver,
    error_response,
    json_response,
    request_time,
    resolve,
)
from loyalty.observability import logger_for, metrics_for, tracer_for
from loyalty.program import get_program
from loyalty.settings import get_settings

logger = logger_for(__name__)
tracer = tracer_for(__name__)
metrics = metrics_for(__name__)
app = create_resolver(logger, union_tags=UNION_TAGS)

_SINGLE_STATUS = {"accepted": 202, "duplicate": 200}
MAX_BODY_BYTES = 1024 * 1024  # 100 events of up to ~10 KB each


@app.post(
    "/v1/events",
    summary="Send one event or a batch of up to 100",
    description=(
        "Each event is stored once per event_id. Resending the same event answers `duplicate`; "
        "the same event_id with a different payload answers `conflict`. A single event answers "
        "202 (accepted), 200 (duplicate), 409 (conflict) or 400 (rejected); a batch answers 200 "
        "with one result per event, in order."
    ),
    responses={
        200: json_response("Duplicate, or batch results", EventsResponse),
        202: json_response("Accepted", EventsResponse),
        409: json_response("event_id reused with a different payload", ErrorResponse),
        **ERROR_RESPONSES,
    },
    security=SECURITY,
    tags=["events"],
)
def post_events(body: Annotated[EventsRequest, Body()]) -> Response[Any]:
    who = caller(app, scope="events:write")
    tenant = who.tenant_id
    sender = logic.Sender(storefront_id=who.storefront, key_id=who.key_id, channel=who.channel)
    now = request_time(app)
    settings = get_settings()
    store = DynamoEventStore(settings.require("events_table"), settings.require("loyalty_table"))
    request = body.root
    if isinstance(request, EventBatch):
        outcomes = logic.ingest_batch(request.events, tenant, now, settings.tz, store, get_program(), sender)
        results = [_result(o) for o in outcomes]
        for status in ("accepted", "duplicate", "conflict", "rejected"):
            count = sum(1 for r in results if r.status == status)
            if count:
                metrics.add_metric(name=f"Events{status.capitalize()}", unit=MetricUnit.Count, value=count)
        return Response(200, "application/json", EventsResponse(results=results).model_dump_json())
    result = _result(logic.ingest_one(request, tenant, now, settings.tz, store, get_program(), sender))
    metrics.add_metric(name=f"Events{result.status.capitalize()}", unit=MetricUnit.Count, value=1)
    if result.status in _SINGLE_STATUS:
        return Response(
            _SINGLE_STATUS[result.status],
            "application/json",
            EventsResponse(results=[result]).model_dump_json(),
        )
    error = result.errors[0]
    return error_response(409 if result.status == "conflict" else 400, error.code, error.message, error.field)


def _result(outcome: logic.Outcome) -> EventResult:
    def errors(problems: list[logic.Problem]) -> list[FieldError]:
        return [FieldError(code=p.code, message=p.message, field=p.field) for p in problems]

    return EventResult(
        event_id=outcome.event_id,
        status=outcome.status,
        errors=errors(outcome.errors),
        warnings=errors(outcome.warnings),
    )


@app.get(
    "/v1/members/<member_id>/events",
    summary="The member's timeline, newest first",
    responses={200: json_response("One page of events", TimelineResponse), **ERROR_RESPONSES},
    security=SECURITY,
    tags=["members"],
)
def get_timeline(
    member_id: MemberId,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> TimelineResponse:
    items, next_cursor = timeline.member_events(
        get_settings().require("events_table"),
        caller(app, scope="members:read").tenant_id,
        member_id,
        limit,
        cursor,
    )
    return TimelineResponse(
        events=[TimelineEvent.model_validate(item) for item in items], next_cursor=next_cursor
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve(app, event, context, max_body_bytes=MAX_BODY_BYTES)
