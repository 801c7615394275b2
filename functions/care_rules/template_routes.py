"""Care email template override routes of CareRulesApi (admin key; a router the API
includes).

``PUT /v1/admin/templates/{template_id}/{locale}`` stores a tenant's own source for a
shipped template after rendering it with the sample variables
(``rendering.validate_source``): a source over 50 KB, a syntax error, a sandbox
refusal, an undefined variable or a missing block is a 400 naming ``source`` (with the
line), and nothing is stored. 201 when created, 200 when replaced, 200 without a write
when the source is the stored one. ``GET`` answers the override, or the shipped source
(``origin`` says which); ``DELETE`` removes the override, so the shipped template
applies again (repeating it changes nothing). An unknown template id is a 404, a
locale other than ``zh-CN`` or ``en`` a 400. Logs carry ids and versions, never a
source."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel, ConfigDict, Field

from care_rules import rendering, template_store
from loyalty import audit
from loyalty.api import ADMIN_SECURITY, ERROR_RESPONSES, ErrorResponse, caller, json_response, request_time
from loyalty.errors import NotFound, ValidationFailed
from loyalty.observability import logger_for
from loyalty.settings import get_settings

logger = logger_for(__name__)
router = APIGatewayRouter()

MAX_SOURCE_BYTES = 50 * 1024
TemplateId = Annotated[
    str, Path(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$", description="Template id")
]
Locale = Annotated[str, Path(min_length=2, max_length=16, description="zh-CN or en")]
_UNKNOWN = json_response("Unknown template id", ErrorResponse)
_ROUTE = "/v1/admin/templates/<template_id>/<locale>"


class TemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(
        min_length=1,
        max_length=MAX_SOURCE_BYTES,
        description="Jinja2 source with the blocks subject, html and text (at most 50 KB of UTF-8)",
    )


class TemplateSavedOut(BaseModel):
    template_id: str
    locale: str
    version: int
    saved_at: str


class TemplateOut(BaseModel):
    template_id: str
    locale: str
    origin: Literal["tenant", "default"]
    source: str
    version: int | None = Field(None, description="The override's version; null for the shipped one")
    saved_at: str | None = None


def _resolver() -> APIGatewayRestResolver:
    resolver = router.api_resolver
    if not isinstance(resolver, APIGatewayRestResolver):
        raise RuntimeError("the template routes are used only through CareRulesApi")
    return resolver


def _table() -> str:
    return get_settings().require("loyalty_table")


def _known(template_id: str, locale: str) -> None:
    """404 for an unknown template, 400 for an unsupported locale."""
    try:
        rendering.check_known(template_id, locale)
    except rendering.TemplateError as err:
        if err.field == "template_id":
            raise NotFound(err.message, field="template_id") from err
        raise ValidationFailed(err.message, field=err.field) from err


def _json(status: int, model: BaseModel) -> Response[Any]:
    return Response(status, "application/json", model.model_dump_json())


def _effective(tenant: str, template_id: str, locale: str) -> TemplateOut:
    stored = template_store.get(_table(), tenant, template_id, locale)
    if stored is None:
        source = rendering.shipped_source(template_id, locale)
        return TemplateOut(template_id=template_id, locale=locale, origin="default", source=source)
    return TemplateOut(
        template_id=template_id,
        locale=locale,
        origin="tenant",
        source=stored.source,
        version=stored.version,
        saved_at=stored.saved_at,
    )


@router.put(
    _ROUTE,
    summary="Override a care email template for this tenant (validated by rendering it first)",
    responses={
        201: json_response("Created: version 1", TemplateSavedOut),
        200: json_response("Replaced, or the same source again (nothing written)", TemplateSavedOut),
        404: _UNKNOWN,
        **ERROR_RESPONSES,
    },
    security=ADMIN_SECURITY,
    tags=["care templates"],
)
def put_template(
    template_id: TemplateId, locale: Locale, body: Annotated[TemplateIn, Body()]
) -> Response[Any]:
    admin = caller(_resolver(), role="admin")
    _known(template_id, locale)
    if len(body.source.encode("utf-8")) > MAX_SOURCE_BYTES:
        raise ValidationFailed(f"the source exceeds {MAX_SOURCE_BYTES} bytes", field="source")
    try:
        rendering.validate_source(template_id, locale, body.source)
    except rendering.TemplateError as err:
        raise ValidationFailed(err.message, field="source") from err
    actor = audit.Actor("admin", admin.key_id)
    saved = template_store.save(
        _table(), admin.tenant_id, template_id, locale, body.source, request_time(_resolver()), actor
    )
    if saved.changed:
        logger.info(
            "care template saved",
            extra={"template_id": template_id, "locale": locale, "version": saved.stored.version},
        )
    out = TemplateSavedOut(
        template_id=template_id, locale=locale, version=saved.stored.version, saved_at=saved.stored.saved_at
    )
    return _json(201 if saved.created else 200, out)


@router.get(
    _ROUTE,
    summary="The tenant's override of a care email template, or the shipped template",
    responses={200: json_response("The template in use", TemplateOut), 404: _UNKNOWN, **ERROR_RESPONSES},
    security=ADMIN_SECURITY,
    tags=["care templates"],
)
def get_template(template_id: TemplateId, locale: Locale) -> Response[Any]:
    tenant = caller(_resolver(), role="admin").tenant_id
    _known(template_id, locale)
    return _json(200, _effective(tenant, template_id, locale))


@router.delete(
    _ROUTE,
    summary="Remove the tenant's override: the shipped template applies again",
    responses={200: json_response("The template now in use", TemplateOut), 404: _UNKNOWN, **ERROR_RESPONSES},
    security=ADMIN_SECURITY,
    tags=["care templates"],
)
def delete_template(template_id: TemplateId, locale: Locale) -> Response[Any]:
    admin = caller(_resolver(), role="admin")
    _known(template_id, locale)
    actor = audit.Actor("admin", admin.key_id)
    at = request_time(_resolver())
    removed = template_store.remove(_table(), admin.tenant_id, template_id, locale, at, actor)
    if removed is not None:
        logger.info(
            "care template removed",
            extra={"template_id": template_id, "locale": locale, "version": removed.version},
        )
    return _json(200, _effective(admin.tenant_id, template_id, locale))
