"""One-click unsubscribe (RFC 8058): the routes behind every marketing email's
``List-Unsubscribe`` link, without an API key (the signed token is the credential).

Guarantees:

- ``GET`` only shows a page (zh-CN and English) whose button POSTs to the same URL:
  link scanners and previews change nothing.
- ``POST`` withdraws the member's email consent at the request time, as one profile
  field merged by event time (a later consent still wins, an earlier one does not);
  repeating it answers 200 again and the consent stays withdrawn, as of the latest
  request; an erased member gets the same answer and nothing is stored. The body is not needed: mail providers
  send ``List-Unsubscribe=One-Click`` form-encoded or as multipart form data, the page
  sends the same field, and any of these (or none) is accepted.
- A malformed, forged or expired token is a 400 page (the error contract as JSON for a
  client that asks for JSON) and nothing is read or written for it.
- Nothing personal is logged: neither the token nor the member id.

``admit_form`` lets the form bodies through ``loyalty.api.resolve``, which takes JSON
only; these routes read no body."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.metrics import MetricUnit

from ingest.members.repository import ProfileStore
from loyalty import secrets, unsubscribe
from loyalty.api import ErrorDetail, ErrorResponse
from loyalty.observability import logger_for, metrics_for
from loyalty.settings import get_settings
from loyalty.timeutil import from_epoch_ms, iso

logger = logger_for(__name__)
metrics = metrics_for(__name__)
router = Router()

RESOURCE = f"{unsubscribe.ROUTE}/{{token}}"
# What the stored withdrawal names as its source. Consent sources are storefront channels
# (loyalty.events.models.Channel), and "unsubscribe" is none of them: the withdrawal says
# it came by email.
CONSENT_SOURCE = "email"

Token = Annotated[str, Path(description="The signed token of the unsubscribe link")]

_HEADERS = {
    "Cache-Control": "no-store",
    # The token is in the URL: never send it on as a referrer, never frame the page.
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'",
}
HTML = "text/html; charset=utf-8"

_STYLE = (
    "body{margin:0;padding:24px 16px;font-family:-apple-system,'PingFang SC','Noto Sans CJK SC',"
    "'Microsoft YaHei',Helvetica,Arial,sans-serif;color:#1f2933;background:#f5f7fa;line-height:1.6}"
    "main{max-width:480px;margin:0 auto;background:#fff;border-radius:8px;padding:24px}"
    "h1{font-size:1.25rem;margin:0 0 8px}p{margin:0 0 16px}.en{color:#52606d}"
    "button{font-size:1rem;padding:12px 20px;border:0;border-radius:6px;background:#1f6feb;color:#fff;"
    "cursor:pointer;width:100%}"
)


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="robots" content="noindex,nofollow">'
        f"<title>{title}</title><style>{_STYLE}</style></head><body><main>{body}</main></body></html>"
    )


CONFIRM_PAGE = _page(
    "退订邮件 · Unsubscribe",
    "<h1>退订营销邮件</h1><p>确认后，我们将不再向您发送营销邮件。交易类邮件（如订单通知）不受影响。</p>"
    '<h1 class="en" lang="en">Unsubscribe from marketing emails</h1>'
    '<p class="en" lang="en">Once you confirm, we will stop sending you marketing emails. '
    "Transactional messages, such as order notices, are not affected.</p>"
    '<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">'
    '<button type="submit">确认退订 · Unsubscribe</button></form>',
)
DONE_PAGE = _page(
    "已退订 · Unsubscribed",
    "<h1>您已退订营销邮件</h1><p>今后不会再收到我们的营销邮件。如改变主意，可随时在会员资料中重新订阅。</p>"
    '<h1 class="en" lang="en">You are unsubscribed</h1>'
    '<p class="en" lang="en">You will receive no more marketing emails from us. '
    "If you change your mind, you can subscribe again in your member profile.</p>",
)
INVALID_PAGE = _page(
    "链接无效 · Link not valid",
    "<h1>此退订链接无效或已过期</h1><p>请使用最近一封营销邮件中的退订链接。</p>"
    '<h1 class="en" lang="en">This unsubscribe link is not valid or has expired</h1>'
    '<p class="en" lang="en">Please use the unsubscribe link in a more recent marketing email.</p>',
)

_HTML_200: OpenAPIResponse = {
    "description": "An HTML page (zh-CN and English)",
    "content": {"text/html": {"schema": {"type": "string"}}},
}
_INVALID: OpenAPIResponse = {
    "description": "The token is malformed, forged or expired (HTML; the error contract for Accept: "
    "application/json); nothing changed",
    "content": {
        "text/html": {"schema": {"type": "string"}},
        "application/json": {"model": ErrorResponse},
    },
}


def _html(status: int, page: str) -> Response[str]:
    return Response(status_code=status, content_type=HTML, body=page, headers=dict(_HEADERS))


def _wants_json() -> bool:
    accept = str(
        router.current_event.headers.get("accept") or router.current_event.headers.get("Accept") or ""
    )
    return "application/json" in accept and "text/html" not in accept


def _request_time() -> datetime:
    """The time API Gateway received the request."""
    context = router.current_event.get("requestContext") or {}
    return from_epoch_ms(int(context["requestTimeEpoch"]))


def _verified(token: str) -> unsubscribe.Subscriber | Response[str]:
    try:
        return unsubscribe.verify(secrets.unsubscribe_keys(), token, _request_time())
    except unsubscribe.InvalidToken as err:
        reason = "expired" if isinstance(err, unsubscribe.ExpiredToken) else "invalid"
        logger.info("unsubscribe token refused", extra={"reason": reason})
        metrics.add_metric(name="UnsubscribeRefused", unit=MetricUnit.Count, value=1)
        if _wants_json():
            body = ErrorResponse(error=ErrorDetail(code=f"{reason}_token", message=str(err), field="token"))
            return Response(400, "application/json", body.model_dump_json(), headers=dict(_HEADERS))
        return _html(400, INVALID_PAGE)


@router.get(
    "/v1/unsubscribe/<token>",
    summary="The unsubscribe confirmation page of a marketing email's link (changes nothing)",
    responses={200: _HTML_200, 400: _INVALID},
    tags=["members"],
)
def confirm_page(token: Token) -> Response[str]:
    verified = _verified(token)
    if isinstance(verified, Response):
        return verified
    return _html(200, CONFIRM_PAGE)


@router.post(
    "/v1/unsubscribe/<token>",
    summary="One-click unsubscribe (RFC 8058): withdraws the member's email consent; no API key",
    description="Takes the body mail providers send (`List-Unsubscribe=One-Click`, form-encoded or "
    "multipart), the confirmation page's form, or none. Repeating it is harmless.",
    responses={200: _HTML_200, 400: _INVALID},
    tags=["members"],
)
def one_click(token: Token) -> Response[str]:
    verified = _verified(token)
    if isinstance(verified, Response):
        return verified
    at = iso(_request_time())
    withdrawal = {"consent_email": {"granted": False, "at": at, "source": CONSENT_SOURCE}}
    stored = ProfileStore(get_settings().require("loyalty_table")).apply_profile(
        verified.tenant, verified.member, withdrawal, at=at
    )
    logger.info("email consent withdrawn" if stored is not None else "unsubscribe of an erased member")
    metrics.add_metric(name="Unsubscribed", unit=MetricUnit.Count, value=1)
    return _html(200, DONE_PAGE)


def admit_form(event: dict[str, Any]) -> dict[str, Any]:
    """``event`` as ``loyalty.api.resolve`` admits it: an unsubscribe request without its
    content type (these routes read no body; its size is still checked); any other
    request unchanged."""
    if event.get("resource") != RESOURCE:
        return event

    def without_content_type(headers: dict[str, Any] | None) -> dict[str, Any] | None:
        if headers is None:
            return None
        return {k: v for k, v in headers.items() if k.lower() != "content-type"}

    return {
        **event,
        "headers": without_content_type(event.get("headers")),
        "multiValueHeaders": without_content_type(event.get("multiValueHeaders")),
    }
