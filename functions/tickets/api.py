"""Service tickets API: open a ticket, read it, reply to it. The handler maps each request
to the ticket rules (``tickets.logic``, which know no API models) and each ticket to its
response (``_out``).

POST requests honour an optional ``Idempotency-Key`` header (Powertools
idempotency): a retried request returns the first response and writes nothing."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path
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
from loyalty.errors import Conflict, NotFound
from loyalty.observability import logger_for, metrics_for, tracer_for
from loyalty.settings import get_settings
from loyalty.timeutil import from_epoch_ms, iso, local_day
from tickets import logic
from tickets.models import ReplyIn, TicketIn, TicketOut
from tickets.repository import TicketStore

logger = logger_for(__name__)
tracer = tracer_for(__name__)
metrics = metrics_for(__name__)
app = create_resolver(logger)

TicketId = Annotated[str, Path(min_length=4, max_length=64, pattern=r"^tk_[0-9a-f]+$")]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=128, description="Makes a retried POST safe"),
]
IDEMPOTENCY_CONFIG = IdempotencyConfig(
    event_key_jmespath="[tenant_id, operation, ticket_id, idempotency_key]",  # a key is per ticket
    payload_validation_jmespath="payload",
    expires_after_seconds=24 * 3600,
)


class Command(BaseModel):
    tenant_id: str
    channel: str
    operation: str
    idempotency_key: str | None
    payload: dict[str, Any]
    ticket_id: str | None = None
    now_ms: int


@lru_cache(maxsize=1)
def _persistence() -> DynamoDBPersistenceLayer:
    return DynamoDBPersistenceLayer(table_name=get_settings().require("idempotency_table"))


def _out(ticket: logic.Ticket) -> TicketOut:
    """The API's view of a ticket (a ticket is open until closing is supported)."""
    return TicketOut(
        ticket_id=ticket.ticket_id,
        subject=ticket.subject,
        description=ticket.description,
        member_id=ticket.member_id,
        priority=ticket.priority,
        status="open",
        channel=ticket.channel,
        created_at=ticket.created_at,
        first_response_due_at=ticket.first_response_due_at,
        first_response_at=ticket.first_response_at,
        escalated_at=ticket.escalated_at,
    )


def _store() -> TicketStore:
    return TicketStore(get_settings().require("loyalty_table"))


def _execute(command: Command) -> TicketOut:
    now = from_epoch_ms(command.now_ms)
    store = _store()
    if command.operation == "open":
        request = TicketIn.model_validate(command.payload)
        ticket = logic.open_ticket(
            command.tenant_id,
            command.channel,
            now,
            subject=request.subject,
            description=request.description,
            member_id=request.member_id,
            priority=request.priority,
        )
        store.create(ticket, local_day(now, get_settings().tz).isoformat())
        metrics.add_metric(name="TicketsOpened", unit=MetricUnit.Count, value=1)
        return _out(ticket)
    ticket_id = command.ticket_id or ""
    existing = store.get(command.tenant_id, ticket_id)
    if existing is None:
        raise NotFound("no such ticket", field="ticket_id")
    reply = ReplyIn.model_validate(command.payload)
    store.add_reply(existing, logic.new_ticket_id(now), reply.author, reply.body, at=iso(now))
    updated = store.get(command.tenant_id, ticket_id)
    if updated is None:
        raise NotFound("no such ticket", field="ticket_id")
    return _out(updated)


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


def _command(operation: str, payload: BaseModel, key: str | None, ticket_id: str | None = None) -> Command:
    who = caller(app, scope="tickets:write")
    return Command(
        tenant_id=who.tenant_id,
        channel=who.channel,
        operation=operation,
        idempotency_key=key,
        payload=payload.model_dump(mode="json"),
        ticket_id=ticket_id,
        now_ms=int(request_time(app).timestamp() * 1000),
    )


_CONFLICT = json_response("Idempotency-Key reused with another request", ErrorResponse)
_MISSING = json_response("Unknown ticket", ErrorResponse)


@app.post(
    "/v1/tickets",
    summary="Open a service ticket",
    responses={
        201: json_response("Opened", TicketOut),
        409: _CONFLICT,
        **ERROR_RESPONSES,
    },
    security=SECURITY,
    tags=["tickets"],
)
def post_ticket(body: Annotated[TicketIn, Body()], idempotency_key: IdempotencyKey = None) -> Response[Any]:
    ticket = _run(_command("open", body, idempotency_key))
    return Response(201, "application/json", ticket.model_dump_json())


@app.get(
    "/v1/tickets/<ticket_id>",
    summary="Read a ticket",
    responses={
        200: json_response("The ticket", TicketOut),
        404: _MISSING,
        **ERROR_RESPONSES,
    },
    security=SECURITY,
    tags=["tickets"],
)
def get_ticket(ticket_id: TicketId) -> TicketOut:
    ticket = _store().get(caller(app, scope="tickets:read").tenant_id, ticket_id)
    if ticket is None:
        raise NotFound("no such ticket", field="ticket_id")
    return _out(ticket)


@app.post(
    "/v1/tickets/<ticket_id>/replies",
    summary="Reply to a ticket; the first reply meets the first-response SLA",
    responses={
        201: json_response("Reply recorded", TicketOut),
        404: _MISSING,
        409: _CONFLICT,
        **ERROR_RESPONSES,
    },
    security=SECURITY,
    tags=["tickets"],
)
def post_reply(
    ticket_id: TicketId, body: Annotated[ReplyIn, Body()], idempotency_key: IdempotencyKey = None
) -> Response[Any]:
    ticket = _run(_command("reply", body, idempotency_key, ticket_id=ticket_id))
    return Response(201, "application/json", ticket.model_dump_json())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve(app, event, context)
