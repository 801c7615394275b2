"""Members API: the 360 view, profile updates, erasure on request, and one-click
unsubscribe (``ingest.members.unsubscribe``)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ingest.events import timeline
from ingest.members import erasure, projection, unsubscribe
from ingest.members.models import MemberOut, MemberUpdate
from ingest.members.repository import ProfileStore
from ingest.members.view import build_view
from loyalty import audit
from loyalty.api import (
    ERROR_RESPONSES,
    SECURITY,
    ErrorResponse,
    MemberId,
    caller,
    create_resolver,
    json_response,
    request_time,
    resolve,
)
from loyalty.errors import Conflict, NotFound
from loyalty.observability import logger_for, metrics_for, tracer_for
from loyalty.program import get_program
from loyalty.settings import get_settings
from loyalty.timeutil import iso, local_day

logger = logger_for(__name__)
tracer = tracer_for(__name__)
metrics = metrics_for(__name__)
app = create_resolver(logger)
app.include_router(unsubscribe.router)

_UNKNOWN = json_response("Unknown member", ErrorResponse)


def _view(tenant: str, member_id: str) -> MemberOut:
    items = ProfileStore(get_settings().require("loyalty_table")).member_items(tenant, member_id)
    view = build_view(member_id, items, request_time(app), get_program(), get_settings().tz)
    if view is None:
        raise NotFound("no such member", field="member_id")
    return view


@app.get(
    "/v1/members/<member_id>",
    summary="The member 360 view: profile, tier, points, stats, RFM, lifecycle stage, tags, open tickets",
    responses={200: json_response("The member", MemberOut), 404: _UNKNOWN, **ERROR_RESPONSES},
    security=SECURITY,
    tags=["members"],
)
def get_member(member_id: MemberId) -> MemberOut:
    return _view(caller(app, scope="members:read").tenant_id, member_id)


@app.put(
    "/v1/members/<member_id>",
    summary="Create or update a member's profile; absent fields stay as they were",
    responses={
        200: json_response("The member after the update", MemberOut),
        409: json_response("The member's personal data was erased", ErrorResponse),
        **ERROR_RESPONSES,
    },
    security=SECURITY,
    tags=["members"],
)
def put_member(member_id: MemberId, body: Annotated[MemberUpdate, Body()]) -> MemberOut:
    tenant = caller(app, scope="members:write").tenant_id
    changes = projection.profile_changes(body.model_dump(mode="json", exclude_none=True))
    stored = ProfileStore(get_settings().require("loyalty_table")).apply_profile(
        tenant, member_id, changes, at=iso(request_time(app))
    )
    if stored is None and changes:
        raise Conflict("this member's personal data was erased on request", code="member_erased")
    metrics.add_metric(name="ProfilesUpdated", unit=MetricUnit.Count, value=1)
    return _view(tenant, member_id)


@app.delete(
    "/v1/members/<member_id>",
    summary="Erase the member's personal data (the anonymised ledger and orders are kept)",
    responses={204: {"description": "Erased (also when already erased)"}, 404: _UNKNOWN, **ERROR_RESPONSES},
    security=SECURITY,
    tags=["members"],
)
def delete_member(member_id: MemberId) -> Response[Any]:
    storefront = caller(app, scope="members:erase")
    tenant = storefront.tenant_id
    settings = get_settings()
    now = request_time(app)
    store = ProfileStore(settings.require("loyalty_table"))
    table = settings.require("loyalty_table")
    events_table = settings.require("events_table")
    known = store.member_items(tenant, member_id)
    if not known and not timeline.member_events(events_table, tenant, member_id, 1, None)[0]:
        raise NotFound("no such member", field="member_id")
    # The stamp first: from now on intake stores nothing personal of the member;
    # then what was stored before is scrubbed.
    store.erase(tenant, member_id, iso(now))
    scrubbed = timeline.scrub_personal_data(events_table, tenant, member_id)
    tickets = erasure.erase_tickets(table, tenant, member_id)
    erasure.erase_claim_texts(table, tenant, member_id)
    # Once per member and program day: a retried erasure is one entry, and one retried
    # after a failure between the erasure and its entry writes it then.
    entry = audit.entry_item(
        tenant,
        now,
        audit.Actor("storefront", storefront.key_id, storefront.storefront),
        "member.erased",
        member_id,
        {"events_scrubbed": scrubbed, "tickets_scrubbed": tickets},
    )
    day = local_day(now, settings.tz).isoformat()
    audit.record_once(table, entry, f"member.erased#{member_id}#{day}")
    logger.info("member erased", extra={"events_scrubbed": scrubbed, "tickets_scrubbed": tickets})
    metrics.add_metric(name="MembersErased", unit=MetricUnit.Count, value=1)
    return Response(204, "application/json", "")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve(app, unsubscribe.admit_form(event), context)
