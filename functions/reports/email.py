"""The KPI report email: a subject, an HTML part, a plain-text part and the report's
CSV attached. Pure: no AWS here (the scheduled job sends what :func:`render_email` builds).

* **Content.** The headline figures (:data:`reports.labels.HEADLINE`) with their change
  against the previous period, five charts, every figure by section, the cohorts of a
  monthly report and the restated figures of earlier reports. A figure the report lacks
  is left out; nothing else depends on it.
* **Change.** ``▲ +12.5%`` / ``▼ −3``: percent for counts, money and other numbers
  (the difference itself when the previous value is 0), percentage points for rates
  (``▲ +2.1 pp``), points for NPS; ``–`` when unchanged or when either side is missing.
* **Charts** are HTML bars (tables and percentage-wide divs, no images), each a
  ``<div class="chart" data-chart="<name>" role="img" aria-label="...">`` with a caption,
  its values written beside the bars and an aria-label that says what it shows.
* **Phone first.** One column at most 640 px wide; tables 100% wide; no other fixed
  width. CSS is written once in a ``<style>`` and inlined (``css-inline``; the style
  block is kept for its media query).
* **Formats.** Money as ``1224.50 CNY``, rates as ``33.3%``, ``—`` for a figure that
  cannot be computed (``null``). Labels in ``zh-CN`` (the default) or ``en``.
* Every text from the report is HTML-escaped. The report holds no personal data, and
  this module adds none: only the tenant's name and id."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from html import escape
from typing import Any

import css_inline

from loyalty.messages import Attachment, Email
from reports import labels
from reports.csv_export import ordered_figures, report_csv
from reports.labels import NONE, change, format_value, number

CSV_TYPE = "text/csv; charset=utf-8"

STYLE = """
body { margin: 0; padding: 0; background-color: #f3f4f6; color: #1f2933; -webkit-text-size-adjust: 100%;
  font-family: -apple-system, BlinkMacSystemFont, "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei",
  "Noto Sans CJK SC", "Helvetica Neue", Arial, sans-serif; font-size: 15px; line-height: 1.5; }
table { border-collapse: collapse; width: 100%; }
.wrapper { width: 100%; padding: 16px 0; background-color: #f3f4f6; }
.container { max-width: 640px; margin: 0 auto; background-color: #ffffff; border-radius: 8px; }
.brand { padding: 16px 20px; background-color: #1f3a5f; color: #ffffff; font-weight: bold;
  border-radius: 8px 8px 0 0; word-break: break-word; overflow-wrap: anywhere; }
.content { padding: 20px; word-break: break-word; overflow-wrap: anywhere; }
h1 { margin: 0 0 6px 0; font-size: 22px; line-height: 1.3; }
h2 { margin: 24px 0 8px 0; font-size: 17px; color: #1f3a5f; border-bottom: 2px solid #dbe4ef;
  padding-bottom: 4px; }
.meta { margin: 0 0 8px 0; color: #667085; font-size: 12px; }
.figures th, .figures td { padding: 6px 4px; border-bottom: 1px solid #eceff3; text-align: left;
  vertical-align: top; }
.figures th { font-weight: normal; color: #475467; }
.figures .value { font-weight: bold; text-align: right; }
.figures .change { text-align: right; white-space: nowrap; color: #475467; font-size: 13px; }
.figures .sub th { padding-left: 16px; }
.headline .value { font-size: 17px; }
.prev { display: block; font-weight: normal; color: #98a2b3; font-size: 12px; }
.chart { margin: 12px 0 18px 0; padding: 10px; border: 1px solid #eceff3; border-radius: 6px; }
.chart-caption { margin: 0 0 6px 0; font-weight: bold; font-size: 14px; }
.bars td { padding: 2px 4px; font-size: 12px; vertical-align: middle; }
.bars .label { white-space: nowrap; color: #475467; }
.bars .track { width: 100%; }
.bars .amount { white-space: nowrap; text-align: right; }
.bar { height: 12px; line-height: 12px; font-size: 1px; background-color: #3b82c4; border-radius: 2px; }
.empty { color: #98a2b3; font-size: 13px; margin: 0; }
.retention span { display: inline-block; margin: 0 8px 2px 0; white-space: nowrap; font-size: 12px; }
.restated li { margin-bottom: 4px; }
.footer { padding: 14px 20px 20px 20px; color: #667085; font-size: 12px; word-break: break-word;
  overflow-wrap: anywhere; }
@media only screen and (max-width: 480px) {
  .wrapper { padding: 0 !important; }
  .container, .brand { border-radius: 0 !important; }
  .content, .brand, .footer { padding-left: 12px !important; padding-right: 12px !important; }
  h1 { font-size: 19px !important; }
}
"""


def last_day(report: Mapping[str, Any]) -> str:
    """The period's last day (``end`` is exclusive)."""
    return (date.fromisoformat(str(report["end"])) - timedelta(days=1)).isoformat()


def span(report: Mapping[str, Any]) -> str:
    start, last = str(report["start"]), last_day(report)
    return start if start == last else f"{start} – {last}"


def title(report: Mapping[str, Any], locale: str) -> str:
    words = labels.WORDS[locale]
    return f"{words.get(str(report.get('period')), words['daily'])} {span(report)}"


def subject(report: Mapping[str, Any], locale: str) -> str:
    words = labels.WORDS[locale]
    figures = report.get("figures") or {}
    currency = str(report.get("currency") or "CNY")
    parts = []
    if "orders" in figures:
        parts.append(
            words["subject_orders"].format(orders=format_value("orders", figures["orders"], currency, locale))
        )
    if "net_revenue" in figures:
        net = format_value("net_revenue", figures["net_revenue"], currency, locale)
        parts.append(words["subject_net"].format(net=net))
    heading = title(report, locale)
    return f"{heading}{words['colon']}{words['subject_sep'].join(parts)}" if parts else heading


# Charts -------------------------------------------------------------------------------

Bar = tuple[str, Decimal | None, str]  # (label, value, the value as text)


def _bar_rows(bars: Sequence[Bar], top: Decimal) -> str:
    rows = []
    for label, value, text in bars:
        share = Decimal(0) if value is None or top <= 0 else max(Decimal(0), min(value / top, Decimal(1)))
        bar = f'<div class="bar" style="width: {share * 100:.1f}%">&nbsp;</div>' if share > 0 else ""
        rows.append(
            f'<tr><td class="label">{escape(label)}</td><td class="track">{bar}</td>'
            f'<td class="amount">{escape(text)}</td></tr>'
        )
    return "".join(rows)


def _chart(name: str, caption: str, description: str, bars: Sequence[Bar], top: Decimal, locale: str) -> str:
    known = [b for b in bars if b[1] is not None]
    body = (
        f'<table class="bars" role="presentation" width="100%">{_bar_rows(bars, top)}</table>'
        if known
        else f'<p class="empty">{escape(labels.WORDS[locale]["no_data"])}</p>'
    )
    label = f"{caption}{labels.WORDS[locale]['colon']}{description}"
    return (
        f'<div class="chart" data-chart="{escape(name)}" role="img" aria-label="{escape(label, quote=True)}">'
        f'<p class="chart-caption">{escape(caption)}</p>{body}</div>'
    )


def _describe(bars: Sequence[Bar], locale: str, total: str | None) -> str:
    """Days, the total (``total``: as written) or the lowest day, and the highest day."""
    words = labels.WORDS[locale]
    known = [(label, value, text) for label, value, text in bars if value is not None]
    if not known:
        return words["no_data"]
    sep = words["subject_sep"]
    high = max(known, key=lambda b: b[1] or 0)
    low = min(known, key=lambda b: b[1] or 0)
    parts = [f"{len(bars)} {words['days']}"]
    if total is not None:
        parts.append(f"{words['total']} {total}")
    else:
        parts.append(f"{words['lowest']} {low[2]} ({low[0]})")
    parts.append(f"{words['highest']} {high[2]} ({high[0]})")
    return sep.join(parts)


def _series_chart(report: Mapping[str, Any], name: str, field: str, locale: str) -> str:
    currency = str(report.get("currency") or "CNY")
    bars: list[Bar] = []
    for day in report.get("series") or ():
        value = number(day.get(field))
        text = format_value(field, day.get(field), currency, locale)
        bars.append((str(day.get("day", ""))[5:], value, text.removesuffix(f" {currency}")))
    rate = labels.kind(field) == "rate"
    top = Decimal(1) if rate else max((b[1] for b in bars if b[1] is not None), default=Decimal(0))
    caption = labels.WORDS[locale][f"chart_{name}"]
    total = sum((b[1] for b in bars if b[1] is not None), Decimal(0))
    written = None if rate else format_value(field, total, currency, locale)
    if labels.kind(field) == "money":
        caption = f"{caption} ({currency})"
    return _chart(name, caption, _describe(bars, locale, written), bars, top, locale)


def _points_flow(report: Mapping[str, Any], locale: str) -> str:
    figures = report.get("figures") or {}
    series = report.get("series") or ()
    bars: list[Bar] = []
    for figure in labels.POINTS_FLOW:
        value = number(figures.get(figure))
        if value is None and series:
            value = sum((number(day.get(figure)) or Decimal(0) for day in series), Decimal(0))
        bars.append(
            (labels.figure_label(figure, locale), value, NONE if value is None else labels.plain(value))
        )
    top = max((b[1] for b in bars if b[1] is not None), default=Decimal(0))
    sep = labels.WORDS[locale]["subject_sep"]
    description = sep.join(f"{label} {text}" for label, _, text in bars)
    return _chart("points_flow", labels.WORDS[locale]["chart_points_flow"], description, bars, top, locale)


def charts(report: Mapping[str, Any], locale: str) -> str:
    """The five charts, in :data:`reports.labels.CHARTS` order."""
    return "".join(
        _points_flow(report, locale) if name == "points_flow" else _series_chart(report, name, field, locale)
        for name, field in labels.CHARTS
    )


# Sections -----------------------------------------------------------------------------


def _row(label: str, value: str, before: str | None, delta: str, css: str = "") -> str:
    earlier = f'<span class="prev">{escape(before)}</span>' if before is not None else ""
    return (
        f'<tr class="{css}"><th scope="row">{escape(label)}</th>'
        f'<td class="value">{escape(value)}{earlier}</td><td class="change">{escape(delta)}</td></tr>'
    )


def _figure_rows(report: Mapping[str, Any], figure: str, locale: str, show_previous: bool) -> str:
    figures, previous = report.get("figures") or {}, report.get("previous") or {}
    currency = str(report.get("currency") or "CNY")
    value, before = figures.get(figure), previous.get(figure)
    prefix = f"{labels.WORDS[locale]['previous']} "
    label = labels.figure_label(figure, locale)
    if not isinstance(value, Mapping):
        shown = (
            prefix + format_value(figure, before, currency, locale)
            if show_previous and figure in previous
            else None
        )
        return _row(
            label, format_value(figure, value, currency, locale), shown, change(figure, value, before)
        )
    earlier = before if isinstance(before, Mapping) else {}
    rows = [_row(label, "", None, "")]
    for key in sorted({*value, *earlier}, key=str):
        shown = prefix + format_value(key, earlier.get(key), currency, locale) if earlier else None
        now = format_value(key, value.get(key), currency, locale)
        rows.append(
            _row(
                labels.key_label(str(key), locale),
                now,
                shown,
                change(key, value.get(key), earlier.get(key)),
                "sub",
            )
        )
    return "".join(rows)


def _table(rows: str, css: str = "figures") -> str:
    return f'<table class="{css}" role="presentation" width="100%">{rows}</table>'


def headline(report: Mapping[str, Any], locale: str) -> str:
    figures = report.get("figures") or {}
    rows = "".join(_figure_rows(report, f, locale, False) for f in labels.HEADLINE if f in figures)
    return _table(rows, "figures headline") if rows else ""


def sections(report: Mapping[str, Any], locale: str) -> str:
    """Every figure of the report, by section."""
    figures = report.get("figures") or {}
    grouped: dict[str, list[str]] = {}
    for section, figure in ordered_figures(figures):
        grouped.setdefault(section, []).append(figure)
    return "".join(
        f"<h2>{escape(labels.SECTION_LABELS[locale][section])}</h2>"
        + _table("".join(_figure_rows(report, f, locale, True) for f in names))
        for section, names in grouped.items()
    )


def cohorts(report: Mapping[str, Any], locale: str) -> str:
    found = report.get("cohorts") or []
    if report.get("period") != "monthly" or not found:
        return ""
    words = labels.WORDS[locale]
    head = "<tr>" + "".join(f"<th>{escape(words[w])}</th>" for w in ("cohort", "size", "retention")) + "</tr>"
    rows = []
    for cohort in found:
        shares = "".join(
            f"<span>M{k} {escape(format_value('retention_rate', share, '', locale))}</span>"
            for k, share in enumerate(cohort.get("retention") or (), start=1)
        )
        rows.append(
            f'<tr><th scope="row">{escape(str(cohort.get("cohort", "")))}</th>'
            f'<td>{escape(str(cohort.get("size", "")))}</td><td class="retention">{shares or NONE}</td></tr>'
        )
    return f"<h2>{escape(words['cohorts'])}</h2>" + _table(head + "".join(rows), "figures cohorts")


def restated(report: Mapping[str, Any], locale: str) -> str:
    found = report.get("restated") or []
    if not found:
        return ""
    currency = str(report.get("currency") or "CNY")
    items = []
    for item in found:
        figure = str(item.get("figure", ""))
        old = format_value(figure, item.get("old"), currency, locale)
        new = format_value(figure, item.get("new"), currency, locale)
        name = labels.figure_label(figure, locale)
        what = f"{item.get('report_id', '')} · {name}{labels.WORDS[locale]['colon']}"
        items.append(f"<li>{escape(what)}{escape(old)} → {escape(new)}</li>")
    return f'<h2>{escape(labels.WORDS[locale]["restated"])}</h2><ul class="restated">{"".join(items)}</ul>'


# The message --------------------------------------------------------------------------


@functools.cache
def _inliner() -> css_inline.CSSInliner:
    return css_inline.CSSInliner(keep_style_tags=True, load_remote_stylesheets=False)


def _meta(report: Mapping[str, Any], locale: str) -> str:
    words = labels.WORDS[locale]
    parts = [
        (words["time_zone"], report.get("time_zone")),
        (words["currency"], report.get("currency")),
        (words["generated"], report.get("generated_at")),
    ]
    return " · ".join(f"{name} {value}" for name, value in parts if value)


def render_html(report: Mapping[str, Any], locale: str, tenant_name: str) -> str:
    """The HTML part, its CSS inlined."""
    locale = labels.locale_of(locale)
    words = labels.WORDS[locale]
    heading = title(report, locale)
    page = (
        f'<!DOCTYPE html><html lang="{locale}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(heading)}</title><style>{STYLE}</style></head><body>"
        f'<div class="wrapper"><div class="container"><div class="brand">{escape(tenant_name)}</div>'
        f'<div class="content"><h1>{escape(heading)}</h1><p class="meta">{escape(_meta(report, locale))}</p>'
        f"<h2>{escape(words['headline'])}</h2>{headline(report, locale)}"
        f"<h2>{escape(words['charts'])}</h2>{charts(report, locale)}"
        f"{sections(report, locale)}{cohorts(report, locale)}{restated(report, locale)}</div>"
        f'<div class="footer"><p>{escape(words["legend"])}</p><p>{escape(words["attached"])}</p></div>'
        "</div></div></body></html>"
    )
    return str(_inliner().inline(page))


def render_text(report: Mapping[str, Any], locale: str, tenant_name: str) -> str:
    """The plain-text part: the headline figures and their change."""
    locale = labels.locale_of(locale)
    words = labels.WORDS[locale]
    figures, previous = report.get("figures") or {}, report.get("previous") or {}
    currency = str(report.get("currency") or "CNY")
    lines = [title(report, locale), tenant_name, "", words["headline"]]
    for figure in labels.HEADLINE:
        if figure in figures:
            value = format_value(figure, figures[figure], currency, locale)
            delta = change(figure, figures[figure], previous.get(figure))
            lines.append(f"{labels.figure_label(figure, locale)}{words['colon']}{value} ({delta})")
    lines += ["", words["legend"], words["attached"]]
    return "\n".join(lines) + "\n"


def render_email(
    report: Mapping[str, Any], locale: str, recipients: list[str], tenant_id: str, tenant_name: str
) -> Email:
    """The report email to ``recipients`` in ``locale``, with the CSV attached."""
    locale = labels.locale_of(locale)
    return Email(
        to=list(recipients),
        subject=subject(report, locale),
        text=render_text(report, locale, tenant_name),
        html=render_html(report, locale, tenant_name),
        tags={
            "Report": str(report.get("period", "")),
            "ReportId": str(report["report_id"]),
            "Tenant": tenant_id,
        },
        attachments=[
            Attachment(filename=f"{report['report_id']}.csv", content_type=CSV_TYPE, data=report_csv(report))
        ],
    )
