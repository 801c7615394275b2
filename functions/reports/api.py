"""Reports API (admin key only): the tenant's stored KPI reports.

``GET /v1/reports`` lists a period's reports by start (one Query page of the report
index, with a checked cursor); ``GET /v1/reports/{report_id}`` answers the stored
document; ``GET /v1/reports/{report_id}/csv`` its figures as CSV, UTF-8 with a byte
order mark so spreadsheet programs read Chinese text. A malformed report id or date is
a 400, an unknown report a 404; nothing here writes."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from loyalty.api import (
    ADMIN_SECURITY,
    ERROR_RESPONSES,
    ErrorResponse,
    caller,
    create_resolver,
    json_response,
    resolve,
)
from loyalty.errors import NotFound, ValidationFailed
from loyalty.observability import logger_for, metrics_for, tracer_for
from loyalty.settings import get_settings
from reports import report_store
from reports.models import ReportListOut, ReportOut, ReportSummaryOut
from reports.periods import Period, parse_report_id

logger = logger_for(__name__)
tracer = tracer_for(__name__)
metrics = metrics_for(__name__)
app = create_resolver(logger)

DATE = r"^\d{4}-\d{2}-\d{2}$"
ReportId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=40,
        pattern=r"^(daily|weekly|monthly)-\d{4}-\d{2}-\d{2}$",
        description="<period>-<start>",
    ),
]
_MISSING = json_response("Unknown report", ErrorResponse)


def _day(value: str | None, name: str, default: str) -> str:
    if value is None:
        return default
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError as err:
        raise ValidationFailed(f"{name} is not a date (YYYY-MM-DD)", field=name) from err


def _period(report_id: str) -> Period:
    try:
        return parse_report_id(report_id)
    except ValueError as err:
        raise ValidationFailed(str(err), field="report_id") from err


@app.get(
    "/v1/reports",
    summary="The stored reports of a period kind, by start",
    responses={200: json_response("One page of reports", ReportListOut), **ERROR_RESPONSES},
    security=ADMIN_SECURITY,
    tags=["reports"],
)
def list_reports(
    period: Annotated[str, Query(pattern=r"^(daily|weekly|monthly)$")] = "daily",
    from_: Annotated[
        str | None, Query(alias="from", pattern=DATE, description="First start, YYYY-MM-DD")
    ] = None,
    to: Annotated[str | None, Query(pattern=DATE, description="Last start, YYYY-MM-DD")] = None,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> Response[Any]:
    tenant = caller(app, role="admin").tenant_id
    first, last = _day(from_, "from", "0000-01-01"), _day(to, "to", "9999-12-31")
    if first > last:
        raise ValidationFailed("from is after to", field="from")
    found, next_cursor = report_store.list_page(
        get_settings().require("loyalty_table"), tenant, period, first, last, limit, cursor
    )
    out = ReportListOut(reports=[ReportSummaryOut(**r) for r in found], next_cursor=next_cursor)
    return Response(200, "application/json", out.model_dump_json())


def _document(report_id: str, suffix: str) -> bytes:
    tenant = caller(app, role="admin").tenant_id
    period = _period(report_id)
    found = report_store.document(
        get_settings().require("reports_bucket"), tenant, period.kind, period.start.isoformat(), suffix
    )
    if found is None:
        raise NotFound("no such report", field="report_id")
    return found


@app.get(
    "/v1/reports/<report_id>",
    summary="A stored report: its figures, those of the period before, cohorts and restatements",
    responses={200: json_response("The report", ReportOut), 404: _MISSING, **ERROR_RESPONSES},
    security=ADMIN_SECURITY,
    tags=["reports"],
)
def get_report(report_id: ReportId) -> Response[Any]:
    return Response(200, "application/json", _document(report_id, "json").decode())


@app.get(
    "/v1/reports/<report_id>/csv",
    summary="A stored report's figures as CSV (UTF-8 with a byte order mark)",
    responses={
        200: {"description": "section,figure,value,previous", "content": {"text/csv": {}}},
        404: _MISSING,
        **ERROR_RESPONSES,
    },
    security=ADMIN_SECURITY,
    tags=["reports"],
)
def get_report_csv(report_id: ReportId) -> Response[Any]:
    body = _document(report_id, "csv").decode("utf-8")
    return Response(
        200,
        "text/csv; charset=utf-8",
        body,
        headers={"Content-Disposition": f'attachment; filename="{report_id}.csv"'},
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve(app, event, context)
