"""Service tickets API: open, list, read, change and message tickets. Each route parses
the request, calls one use case of ``tickets.desk`` and maps the answer
(``tickets.views``).

POST and PATCH requests honour an optional ``Idempotency-Key`` header (Powertools
idempotency), scoped to the ticket: a retried request returns the first response and
writes nothing."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from loyalty.api import (
    ERROR_RESPONSES,
    SECURITY,
    ErrorResponse,
    caller,
    create_resolver,
    json_response,
    request_time,
    resolve,
)
from loyalty.errors import Conflict
from loyalty.observability import logger_for, metrics_for, tracer_for
from loyalty.settings import get_settings
from loyalty.staff import IDENTIFIER_PATTERN
from loyalty.timeutil import from_epoch_ms
from tickets import desk, lists, views
from tickets.config_source import service_config
from tickets.domain import Status
from tickets.models import MessageIn, ReplyIn, TicketIn, TicketOut, TicketPage, TicketPatchIn
from tickets.repository import TicketStore

logger = logger_for(__name__)
tracer = tracer_for(__name__)
metrics = metrics_for(__name__)
app = create_resolver(logger)

TicketId = Annotated[str, Path(min_length=4, max_length=64, pattern=r"^tk_[0-9a-f]+$")]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=128, description="Makes a retried request safe"),
]
IDEMPOTENCY_CONFIG = IdempotencyConfig(
    event_key_jmespath="[tenant_id, operation, ticket_id, idempotency_key]",  # a key is per ticket
    payload_validation_jmespath="payload",
    expires_after_seconds=24 * 3600,
)


class Command(BaseModel):
    tenant_id: str
    channel: str
    actor: str
    operation: str
    idempotency_key: str | None
    payload: dict[str, Any]
    ticket_id: str | None = None
    now_ms: int


@lru_cache(maxsize=1)
def _persistence() -> DynamoDBPersistenceLayer:
    return DynamoDBPersistenceLayer(table_name=get_settings().require("idempotency_table"))


def _store() -> TicketStore:
    settings = get_settings()
    return TicketStore(settings.require("loyalty_table"), settings.require("events_table"))


def _desk(now_ms: int) -> desk.Desk:
    return desk.Desk(store=_store(), config=service_config(), tz=get_settings().tz, now=from_epoch_ms(now_ms))


def _execute(command: Command) -> TicketOut:
    here = _desk(command.now_ms)
    tenant, ticket_id, payload = command.tenant_id, command.ticket_id or "", command.payload
    if command.operation == "open":
        found = desk.open_ticket(here, tenant, command.channel, TicketIn.model_validate(payload).model_dump())
        metrics.add_metric(name="TicketsOpened", unit=MetricUnit.Count, value=1)
    elif command.operation == "patch":
        found = desk.patch_ticket(here, tenant, ticket_id, command.actor, payload)
    else:
        message = MessageIn.model_validate(payload)
        found = desk.post_message(here, tenant, ticket_id, message.kind, message.author, message.body)
    return views.ticket_out(found)


def _run(command: Command) -> TicketOut:
    if command.idempotency_key is None:
        return _execute(command)
    IDEMPOTENCY_CONFIG.register_lambda_context(app.lambda_context)
    wrapped = idempotent_function(
        data_keyword_argument="command",
        persistence_store=_persistence(),
        config=IDEMPOTENCY_CONFIG,
        output_serializer=PydanticSerializer(TicketOut),
    )(_execute)
    try:
        return wrapped(command=command)  # type: ignore[no-any-return]
    except IdempotencyValidationError as err:
        raise Conflict(
            "Idempotency-Key was used with a different request", code="idempotency_key_reused"
        ) from err
    except IdempotencyAlreadyInProgressError as err:
        raise Conflict(
            "a request with this Idempotency-Key is in progress", code="request_in_progress"
        ) from err


def _command(
    operation: str, payload: dict[str, Any], key: str | None, ticket_id: str | None = None
) -> Command:
    who = caller(app, scope="tickets:write")
    return Command(
        tenant_id=who.tenant_id,
        channel=who.channel,
        actor=payload.pop("by", None) or f"key:{who.key_id or who.channel}",
        operation=operation,
        idempotency_key=key,
        payload=payload,
        ticket_id=ticket_id,
        now_ms=int(request_time(app).timestamp() * 1000),
    )


def _created(ticket: TicketOut) -> Response[Any]:
    return Response(201, "application/json", ticket.model_dump_json())


_CONFLICT = json_response("Idempotency-Key reused, an invalid transition, or a closed ticket", ErrorResponse)
_MISSING = json_response("Unknown ticket", ErrorResponse)
_TICKET_RESPONSES: dict[int, Any] = {404: _MISSING, 409: _CONFLICT, **ERROR_RESPONSES}


@app.post(
    "/v1/tickets",
    summary="Open a service ticket; it is assigned and gets its SLA",
    responses={201: json_response("Opened", TicketOut), 409: _CONFLICT, **ERROR_RESPONSES},
    security=SECURITY,
    tags=["tickets"],
)
def post_ticket(body: Annotated[TicketIn, Body()], idempotency_key: IdempotencyKey = None) -> Response[Any]:
    return _created(_run(_command("open", body.model_dump(mode="json"), idempotency_key)))


@app.get(
    "/v1/tickets",
    summary="List tickets by status, assignee, queue or member, or those breaching their SLA",
    responses={200: json_response("A page of tickets", TicketPage), **ERROR_RESPONSES},
    security=SECURITY,
    tags=["tickets"],
)
def list_tickets(
    status: Annotated[Status | None, Query()] = None,
    assignee: Annotated[
        str | None,
        Query(max_length=64, pattern=f"^-$|{IDENTIFIER_PATTERN}", description="A staff id; - for nobody"),
    ] = None,
    queue: Annotated[str | None, Query(max_length=64, pattern=IDENTIFIER_PATTERN)] = None,
    member_id: Annotated[
        str | None, Query(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@/+\-]+$")
    ] = None,
    breaching: Annotated[
        bool, Query(description="Only tickets past or within the warning lead of a due time")
    ] = False,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> TicketPage:
    tenant = caller(app, scope="tickets:read").tenant_id
    now = request_time(app)
    filters = lists.Filters(
        status=status, assignee=assignee, queue=queue, member_id=member_id, breaching=breaching
    )
    found, next_cursor = lists.list_tickets(
        get_settings().require("loyalty_table"), tenant, filters, now, limit, cursor
    )
    return TicketPage(items=[views.summary_out(item, now) for item in found], next_cursor=next_cursor)


@app.get(
    "/v1/tickets/<ticket_id>",
    summary="Read a ticket with its SLA, metrics, messages and history",
    responses={200: json_response("The ticket", TicketOut), 404: _MISSING, **ERROR_RESPONSES},
    security=SECURITY,
    tags=["tickets"],
)
def get_ticket(ticket_id: TicketId) -> TicketOut:
    tenant = caller(app, scope="tickets:read").tenant_id
    return views.ticket_out(desk.read(_desk(int(request_time(app).timestamp() * 1000)), tenant, ticket_id))


@app.patch(
    "/v1/tickets/<ticket_id>",
    summary="Change a ticket's status, priority, category or assignee",
    responses={200: json_response("The ticket", TicketOut), **_TICKET_RESPONSES},
    security=SECURITY,
    tags=["tickets"],
)
def patch_ticket(
    ticket_id: TicketId, body: Annotated[TicketPatchIn, Body()], idempotency_key: IdempotencyKey = None
) -> TicketOut:
    payload = body.model_dump(mode="json", exclude_unset=True)
    return _run(_command("patch", payload, idempotency_key, ticket_id=ticket_id))


@app.post(
    "/v1/tickets/<ticket_id>/messages",
    summary="Add a public reply, an internal note or a customer message",
    responses={201: json_response("Message recorded", TicketOut), **_TICKET_RESPONSES},
    security=SECURITY,
    tags=["tickets"],
)
def post_message(
    ticket_id: TicketId, body: Annotated[MessageIn, Body()], idempotency_key: IdempotencyKey = None
) -> Response[Any]:
    return _created(
        _run(_command("message", body.model_dump(mode="json"), idempotency_key, ticket_id=ticket_id))
    )


@app.post(
    "/v1/tickets/<ticket_id>/replies",
    summary="Reply to a ticket (a public reply: the same as a message of kind reply)",
    responses={201: json_response("Reply recorded", TicketOut), **_TICKET_RESPONSES},
    security=SECURITY,
    tags=["tickets"],
)
def post_reply(
    ticket_id: TicketId, body: Annotated[ReplyIn, Body()], idempotency_key: IdempotencyKey = None
) -> Response[Any]:
    payload = {"kind": "reply", **body.model_dump(mode="json")}
    return _created(_run(_command("message", payload, idempotency_key, ticket_id=ticket_id)))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve(app, event, context)
