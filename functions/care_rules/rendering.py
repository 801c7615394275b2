"""Care emails composed from templates: a subject line, an HTML part and a text part.

Pure: no AWS here; the engine passes a tenant's overrides in (``template_store``).

* **One file per template and locale**, ``templates/<template_id>.<locale>.jinja``, with
  three blocks, ``subject``, ``html`` and ``text``. The html block calls the shared
  layout (``_layout.html.jinja``: its ``<style>``, a 600 px fluid container).
* **Sandboxed.** Managers edit templates, so they run in Jinja2's
  ``ImmutableSandboxedEnvironment``: no attribute starting with ``_``, no method that
  changes a list or dict, ranges capped, and a result larger than
  :data:`MAX_RESULT_CHARS` refused. A remote stylesheet is never fetched.
* **Escaping.** The html block is rendered with autoescaping on (a member named
  ``<script>`` is text), the subject and text blocks with it off: two environments,
  one per escaping mode, over the same files.
* **Strict variables.** Using a variable that was not given is an error; an optional
  one is tested with ``{% if x is defined %}`` (or ``x | default(...)``).
* **Output.** The subject is collapsed to one line; the html has its CSS inlined
  (``css-inline``, the ``<style>`` kept for its media queries); the text has no
  trailing spaces and at most one blank line in a row.
* ``overrides`` maps ``"<template_id>.<locale>"`` to a tenant's source, which replaces
  the shipped file (the layout stays loadable). Every failure is a
  :class:`TemplateError`; :func:`validate_source` renders a candidate override with
  :data:`SAMPLE_VARIABLES` and names the line of the problem.

Filters for templates: ``money(currency)`` (``¥1,280.00``; the currency defaults to
``program.currency``, then CNY), ``number`` (``1,280``), ``date`` and ``datetime`` in the
locale's style (``2026年3月31日`` / ``March 31, 2026``), ``tier_name`` (``gold`` -> ``金卡``).
The render's locale is the variable ``locale``."""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import TracebackType
from typing import Any

import css_inline
import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

LOCALES = ("zh-CN", "en")
DEFAULT_LOCALE = "zh-CN"
TEMPLATE_IDS: frozenset[str] = frozenset(
    {
        "birthday-greeting",
        "first-order-thanks",
        "cart-abandoned",
        "points-expiring",
        "tier-changed",
        "ticket-csat",
        "nps-after-order",
        "care-task-assigned",
    }
)
MARKETING_TEMPLATES: frozenset[str] = frozenset({"birthday-greeting", "cart-abandoned", "nps-after-order"})
BLOCKS = ("subject", "html", "text")
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
MAX_RESULT_CHARS = 200_000  # a string, list or power a template computes (the sandbox's output cap)
SUBJECT_MAX_CHARS = 200

CURRENCY_SYMBOLS = {"CNY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "JP¥", "HKD": "HK$"}
TIER_NAMES = {
    "zh-CN": {"member": "普通会员", "silver": "银卡会员", "gold": "金卡会员", "black": "黑卡会员"},
    "en": {"member": "Member", "silver": "Silver", "gold": "Gold", "black": "Black"},
}
EN_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


class TemplateError(ValueError):
    """A template that cannot be used: unknown, invalid or failing with these variables."""

    def __init__(self, message: str, field: str = "source") -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# Locale ----------------------------------------------------------------------------


def normalise_locale(value: str | None) -> str | None:
    """``zh``, ``zh_CN``, ``zh-Hans-CN`` -> ``zh-CN``; ``en-US``, ``en_GB`` -> ``en``; an
    unsupported or empty locale -> None."""
    if not value:
        return None
    parts = value.strip().replace("_", "-").lower().split("-")
    if parts[0] == "en":
        return "en"
    if parts[0] == "zh" and not ({"tw", "hk", "mo", "hant"} & set(parts[1:])):
        return "zh-CN"
    return None


def pick_locale(member_locale: str | None, tenant_locale: str) -> str:
    """The member's locale when supported, else the tenant's, else zh-CN."""
    return normalise_locale(member_locale) or normalise_locale(tenant_locale) or DEFAULT_LOCALE


# Filters ---------------------------------------------------------------------------


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation as err:
        raise ValueError(f"not a number: {value!r}") from err


@jinja2.pass_context
def money(context: jinja2.runtime.Context, amount: Any, currency: str | None = None) -> str:
    program = context.get("program")
    fallback = program.get("currency") if isinstance(program, Mapping) else None
    code = str(currency or fallback or "CNY").upper()
    figure = f"{_decimal(amount).quantize(Decimal('0.01')):,}"
    symbol = CURRENCY_SYMBOLS.get(code)
    return f"{symbol}{figure}" if symbol else f"{figure} {code}"


def number(value: Any) -> str:
    figure = _decimal(value)
    return f"{figure:,}" if figure == figure.to_integral_value() else f"{figure:,.2f}"


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    text = str(value).strip().replace("Z", "+00:00")
    return datetime.fromisoformat(text)


def _day(moment: datetime, locale: str) -> str:
    if locale == "en":
        return f"{EN_MONTHS[moment.month - 1]} {moment.day}, {moment.year}"
    return f"{moment.year}年{moment.month}月{moment.day}日"


@jinja2.pass_context
def date_filter(context: jinja2.runtime.Context, value: Any) -> str:
    return _day(_as_datetime(value), str(context.get("locale", DEFAULT_LOCALE)))


@jinja2.pass_context
def datetime_filter(context: jinja2.runtime.Context, value: Any) -> str:
    """The day and the time as written in ``value`` (the sender passes local time)."""
    moment = _as_datetime(value)
    locale = str(context.get("locale", DEFAULT_LOCALE))
    separator = ", " if locale == "en" else " "
    return f"{_day(moment, locale)}{separator}{moment:%H:%M}"


@jinja2.pass_context
def tier_name(context: jinja2.runtime.Context, value: Any) -> str:
    names = TIER_NAMES.get(str(context.get("locale", DEFAULT_LOCALE)), {})
    return names.get(str(value), str(value))


# Environments ----------------------------------------------------------------------


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str | bytes | list | tuple) else 0


class _Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox, with ``*`` and ``**`` checked so a template cannot build a huge result."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: jinja2.runtime.Context, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "**":
            if isinstance(right, int | float) and abs(right) > 64:
                raise SecurityError("the exponent is too large")
            return operator.pow(left, right)
        if isinstance(left, int) and isinstance(right, int | float):
            left, right = right, left
        if _size(left) and isinstance(right, int) and _size(left) * right > MAX_RESULT_CHARS:
            raise SecurityError("the result is too large")
        return operator.mul(left, right)


def _environment(autoescape: bool) -> jinja2.Environment:
    env = _Sandbox(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,
    )
    env.filters.update(
        money=money, number=number, date=date_filter, datetime=datetime_filter, tier_name=tier_name
    )
    return env


@functools.cache
def environments() -> tuple[jinja2.Environment, jinja2.Environment]:
    """(html: autoescaping on, plain: off), built on first use and kept."""
    return _environment(True), _environment(False)


@functools.cache
def _inliner() -> css_inline.CSSInliner:
    return css_inline.CSSInliner(keep_style_tags=True, load_remote_stylesheets=False)


@functools.lru_cache(maxsize=128)
def _compiled(source: str) -> tuple[jinja2.Template, jinja2.Template]:
    """A tenant's source compiled once per environment (kept: the engine renders it for
    every member who gets it)."""
    html_env, plain_env = environments()
    return html_env.from_string(source), plain_env.from_string(source)


def template_name(template_id: str, locale: str) -> str:
    return f"{template_id}.{locale}.jinja"


def override_key(template_id: str, locale: str) -> str:
    return f"{template_id}.{locale}"


def check_known(template_id: str, locale: str) -> None:
    if template_id not in TEMPLATE_IDS:
        raise TemplateError(f"no such template: {template_id}", field="template_id")
    if locale not in LOCALES:
        raise TemplateError(f"locale must be one of {', '.join(LOCALES)}", field="locale")


def shipped_source(template_id: str, locale: str) -> str:
    check_known(template_id, locale)
    return (TEMPLATES_DIR / template_name(template_id, locale)).read_text(encoding="utf-8")


# Rendering -------------------------------------------------------------------------


def _line_of(template: jinja2.Template, tb: TracebackType | None) -> int | None:
    """The line of ``template`` where the failure happened (its last frame)."""
    line = None
    while tb is not None:
        if tb.tb_frame.f_globals.get("__jinja_template__") is template:
            line = template.get_corresponding_lineno(tb.tb_lineno)
        tb = tb.tb_next
    return line


def _failure(err: Exception, template: jinja2.Template, field: str) -> TemplateError:
    if isinstance(err, jinja2.TemplateSyntaxError):
        line: int | None = err.lineno
        what = "syntax error"
    else:
        line = _line_of(template, err.__traceback__)
        kinds: dict[type[Exception], str] = {
            SecurityError: "not allowed",
            jinja2.UndefinedError: "undefined variable",
        }
        what = kinds.get(type(err), "error")
    where = f"line {line}: " if line else ""
    return TemplateError(f"{where}{what}: {err}", field=field)


def _block(template: jinja2.Template, name: str, variables: Mapping[str, Any], field: str) -> str:
    render = template.blocks.get(name)
    if render is None:
        raise TemplateError(f"the template has no {{% block {name} %}}", field=field)
    try:
        context = template.new_context(dict(variables))
        result = "".join(render(context))
    except Exception as err:  # noqa: BLE001 - every template failure is the template's
        raise _failure(err, template, field) from err
    if len(result) > MAX_RESULT_CHARS:
        raise TemplateError(f"the {name} part is longer than {MAX_RESULT_CHARS} characters", field=field)
    return result


def _subject(raw: str) -> str:
    subject = " ".join(raw.split())
    if not subject:
        raise TemplateError("the subject is empty", field="source")
    return subject[:SUBJECT_MAX_CHARS]


def _text(raw: str) -> str:
    lines = [line.rstrip() for line in raw.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"


def _templates(
    template_id: str, locale: str, overrides: Mapping[str, str] | None
) -> tuple[jinja2.Template, jinja2.Template, str]:
    check_known(template_id, locale)
    source = (overrides or {}).get(override_key(template_id, locale))
    field = "source"
    try:
        if source is not None:
            html_template, plain_template = _compiled(source)
        else:
            html_env, plain_env = environments()
            name = template_name(template_id, locale)
            html_template, plain_template = html_env.get_template(name), plain_env.get_template(name)
    except jinja2.TemplateSyntaxError as err:
        raise TemplateError(f"line {err.lineno}: syntax error: {err.message}", field=field) from err
    return html_template, plain_template, field


def render(
    template_id: str,
    locale: str,
    variables: Mapping[str, Any],
    overrides: Mapping[str, str] | None = None,
) -> Rendered:
    """The email for ``template_id`` in ``locale`` (the tenant's override when
    ``overrides`` has one); :class:`TemplateError` when it cannot be rendered."""
    html_template, plain_template, field = _templates(template_id, locale, overrides)
    given = {**variables, "locale": locale}
    subject = _subject(_block(plain_template, "subject", given, field))
    html = _block(html_template, "html", given, field)
    text = _text(_block(plain_template, "text", given, field))
    try:
        inlined = _inliner().inline(html)
    except ValueError as err:
        raise TemplateError(f"the html part cannot be inlined: {err}", field=field) from err
    return Rendered(subject=subject, html=inlined, text=text)


SAMPLE_VARIABLES: Mapping[str, Any] = {
    "member": {
        "member_id": "m-1001",
        "name": "林晓",
        "tier": "gold",
        "points": {"available": 1280, "pending": 150},
        "locale": "zh-CN",
    },
    "expiring": {"points": 300, "date": "2026-03-31"},
    "order": {"order_id": "o-20260301-0042", "total": "1299.00", "currency": "CNY"},
    "ticket": {"ticket_id": "tk-8812", "subject": "尺码不合适，申请换货"},
    "task": {
        "task_id": "ct-0123456789abcdef01234567",
        "rule_id": "win-back-90d",
        "title": "Call the member to win them back",
        "due_at": "2026-03-04T09:00:00+08:00",
        "member_id": "m-1001",
        "summary": {
            "tier": "gold",
            "last_order_at": "2025-11-20T15:42:00+08:00",
            "lifetime_spend": "8640.50",
            "open_tickets": 1,
        },
    },
    "unsubscribe_url": "https://api.example.com/v1/unsubscribe?token=sample",
    "program": {"name": "星享会"},
}


def validate_source(template_id: str, locale: str, source: str) -> Rendered:
    """Render ``source`` as the override of ``template_id`` in ``locale`` with
    :data:`SAMPLE_VARIABLES`: what a tenant's override must pass before it is saved."""
    check_known(template_id, locale)
    try:
        # A syntax error names its line before anything runs (parsing only: nothing is rendered).
        jinja2.Environment().parse(source)  # noqa: S701
    except jinja2.TemplateSyntaxError as err:
        raise TemplateError(f"line {err.lineno}: syntax error: {err.message}") from err
    return render(template_id, locale, SAMPLE_VARIABLES, {override_key(template_id, locale): source})
