"""The KPI report email: subject, headline changes, formats, charts, sections, cohorts,
restated figures, the plain-text part, the CSV attachment and its MIME form, and a
report whose figures are partly missing."""

from __future__ import annotations

import copy
import re
from datetime import date, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from html import unescape
from html.parser import HTMLParser
from typing import Any

import pytest

from loyalty.messages import Attachment, Email, build_mime
from reports import email as report_email
from reports import labels
from reports.csv_export import report_csv

pytestmark = pytest.mark.unit

FIGURES: dict[str, Any] = {
    "orders": 12, "gross_revenue": "1234.50", "refunds": "10.00", "net_revenue": "1224.50",
    "average_order_value": "102.88", "active_customers": 9, "new_customers": 3, "repurchase_rate": 0.3333,
    "returning_customer_rate": 0.6667, "churn_rate": 0.1, "retention_rate": 0.95, "clv": "514.40",
    "purchase_frequency": 2.5, "expected_lifetime_years": 2.0, "gross_margin": "1",
    "nps": 42.5, "csat": 0.8, "nps_responses": 20, "csat_responses": 10,
    "tickets_opened": 5, "tickets_resolved": 4, "sla_first_response": 0.75, "sla_next_reply": None,
    "sla_resolution": 1.0, "median_first_response_business_minutes": 30.0,
    "median_first_response_calendar_minutes": 45.0, "one_touch_rate": 0.5, "reopen_rate": 0.0,
    "complaint_rate": 0.0833, "points_issued": 1200, "points_redeemed": 300, "points_expired": 50,
    "points_clawed_back": 10, "points_adjusted": 0, "points_outstanding": 5000, "point_value": "0.01",
    "expected_redemption_rate": 0.8, "breakage_rate": 0.2, "points_liability": "40.00",
    "deferred_revenue": "40.00", "revenue_released": "3.00", "members_total": 100, "registrations": 7,
    "by_lifecycle_stage": {"new": 3, "active": 50, "at_risk": 20, "lapsed": 27},
    "by_tier": {"bronze": 90, "silver": 10}, "tier_upgrades": 2, "tier_downgrades": 0,
    "care_sent": 14, "care_skipped": {"consent": 2, "quiet_hours": 1}, "tasks_created": 3,
    "tasks_completed": 2, "tasks_overdue": 1,
}  # fmt: skip
PREVIOUS: dict[str, Any] = {
    **FIGURES, "orders": 10, "net_revenue": "1300.00", "active_customers": 9, "repurchase_rate": 0.3123,
    "churn_rate": 0.15, "nps": 40.0, "csat": None, "sla_first_response": 0.75, "points_liability": "0.00",
    "by_tier": {"bronze": 88, "gold": 1},
}  # fmt: skip
STARTS = {"daily": date(2026, 2, 10), "weekly": date(2026, 2, 2), "monthly": date(2026, 2, 1)}
LENGTHS = {"daily": 1, "weekly": 7, "monthly": 28}


def sample_report(period: str = "monthly") -> dict[str, Any]:
    """A report document of ``period`` with every figure (weekly: no previous period)."""
    start = STARTS[period]
    end = start + timedelta(days=LENGTHS[period])
    first = end - timedelta(days=7) if period == "daily" else start
    series = [
        {
            "day": (first + timedelta(days=i)).isoformat(), "orders": i % 4,
            "gross_revenue": f"{(i % 5) * 37.5:.2f}", "active_customers": i % 3,
            "sla_first_response": None if i % 6 == 5 else round(1 - (i % 4) / 8, 4),
            "points_issued": 100 * (i % 3), "points_redeemed": 20 * (i % 2), "points_expired": i % 2 * 5,
        }
        for i in range((end - first).days)
    ]  # fmt: skip
    report: dict[str, Any] = {
        "report_id": f"{period}-{start.isoformat()}", "period": period, "start": start.isoformat(),
        "end": end.isoformat(), "time_zone": "Asia/Shanghai", "currency": "CNY",
        "generated_at": f"{end.isoformat()}T07:00:00+08:00", "figures": copy.deepcopy(FIGURES),
        "previous": {} if period == "weekly" else copy.deepcopy(PREVIOUS), "series": series,
        "cohorts": [], "restated": [],
    }  # fmt: skip
    if period == "monthly":
        report["cohorts"] = [
            {"cohort": f"2025-{m:02d}" if m <= 12 else f"2026-{m - 12:02d}", "size": 10 + m,
             "retention": [None if k == 2 else round(0.5 / k, 4) for k in range(1, 14 - m)]}
            for m in range(2, 14)
        ]  # fmt: skip
        report["restated"] = [
            {"report_id": "monthly-2026-01-01", "figure": "orders", "old": 10, "new": 11},
            {"report_id": "monthly-2026-01-01", "figure": "net_revenue", "old": "900.00", "new": "950.50"},
        ]
    return report


def _text_of(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


class _Charts(HTMLParser):
    """Each chart element's attributes, the widths (%) of the bars inside it and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: list[dict[str, str | None]] = []
        self.bars: dict[str, list[float]] = {}
        self.text: dict[str, str] = {}
        self.depth = 0  # of divs inside the open chart

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if "data-chart" in found:
            self.charts.append(found)
            self.bars[str(found["data-chart"])], self.text[str(found["data-chart"])] = [], ""
        elif found.get("class") == "bar" and self.depth:
            width = re.search(r"(?<![-\w])width:\s*([\d.]+)%", found.get("style") or "")
            assert width, found
            self.bars[str(self.charts[-1]["data-chart"])].append(float(width.group(1)))
        if tag == "div" and (self.depth or "data-chart" in found):
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth:
            name = str(self.charts[-1]["data-chart"])
            self.text[name] = " ".join(f"{self.text[name]} {data}".split())


def charts_of(page: str) -> _Charts:
    parser = _Charts()
    parser.feed(page)
    return parser


# Formats and changes --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("figure", "value", "shown"),
    [
        ("net_revenue", "1224.5", "1224.50 CNY"),
        ("point_value", "0.005", "0.005 CNY"),
        ("repurchase_rate", 0.3333, "33.3%"),
        ("sla_next_reply", None, "—"),
        ("nps", 42.5, "42.5"),
        ("orders", 12, "12"),
        ("purchase_frequency", 2.5, "2.5"),
        ("median_first_response_business_minutes", 30.0, "30"),
        ("gross_margin", "1", "1"),
    ],
)
def test_a_figure_is_formatted_by_its_kind(figure: str, value: Any, shown: str) -> None:
    assert labels.format_value(figure, value, "CNY", "en") == shown


@pytest.mark.parametrize(
    ("figure", "now", "before", "shown"),
    [
        ("orders", 12, 10, "▲ +20.0%"),
        ("orders", 9, 12, "▼ −25.0%"),
        ("orders", 3, 0, "▲ +3"),
        ("orders", 0, 3, "▼ −100.0%"),
        ("net_revenue", "1224.50", "1300.00", "▼ −5.8%"),
        ("points_liability", "40.00", "0.00", "▲ +40.00"),
        ("repurchase_rate", 0.3333, 0.3123, "▲ +2.1 pp"),
        ("churn_rate", 0.1, 0.15, "▼ −5.0 pp"),
        ("nps", 42.5, 40.0, "▲ +2.5"),
        ("active_customers", 9, 9, "–"),
        ("csat", 0.8, None, "–"),
        ("sla_next_reply", None, 0.5, "–"),
        ("orders", 12, "not a number", "–"),
    ],
)
def test_the_change_against_the_previous_period(figure: str, now: Any, before: Any, shown: str) -> None:
    assert labels.change(figure, now, before) == shown


def test_every_figure_has_a_label_and_a_section_in_both_locales() -> None:
    listed = [name for _, names in labels.SECTIONS for name in names]
    assert sorted(listed) == sorted(FIGURES)
    for locale in labels.LOCALES:
        assert set(labels.FIGURE_LABELS[locale]) == set(FIGURES)
        assert set(labels.SECTION_LABELS[locale]) == {s for s, _ in labels.SECTIONS} | {"other"}
        assert set(labels.WORDS[locale]) == set(labels.WORDS["en"])
    assert set(labels.HEADLINE) <= set(FIGURES)


# Subject, text, tags, attachment ---------------------------------------------------------


def test_the_subject_names_the_period_its_last_day_orders_and_net_revenue() -> None:
    report = sample_report("monthly")
    assert (
        report_email.subject(report, "zh-CN") == "月报 2026-02-01 – 2026-02-28：订单 12，净收入 1224.50 CNY"
    )
    assert (
        report_email.subject(report, "en")
        == "Monthly report 2026-02-01 – 2026-02-28: 12 orders, 1224.50 CNY net"
    )
    assert report_email.subject(sample_report("daily"), "en").startswith("Daily report 2026-02-10: ")
    assert report_email.subject(sample_report("weekly"), "zh-CN").startswith("周报 2026-02-02 – 2026-02-08：")


def test_the_email_carries_the_text_html_tags_and_the_csv() -> None:
    report = sample_report("monthly")
    mail = report_email.render_email(report, "en", ["boss@example.com"], "t-1", "Star Club")
    assert mail.to == ["boss@example.com"]
    assert mail.tags == {"Report": "monthly", "ReportId": "monthly-2026-02-01", "Tenant": "t-1"}
    assert "Orders: 12 (▲ +20.0%)" in mail.text
    assert "Repurchase rate: 33.3% (▲ +2.1 pp)" in mail.text
    assert "CSAT: 80.0% (–)" in mail.text
    assert "percentage points" in mail.text
    [csv_file] = mail.attachments
    assert (csv_file.filename, csv_file.content_type) == ("monthly-2026-02-01.csv", "text/csv; charset=utf-8")
    assert csv_file.data == report_csv(report)


def test_an_unknown_locale_falls_back_to_chinese() -> None:
    mail = report_email.render_email(sample_report("daily"), "fr", ["m@example.com"], "t-1", "星享会")
    assert mail.subject.startswith("日报 ") and "订单数：12" in mail.text


def _parsed(mail: Email) -> EmailMessage:
    parsed = message_from_bytes(build_mime("reports@example.com", mail), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_the_mime_message_is_mixed_with_the_alternative_first_and_the_csv_after() -> None:
    report = sample_report("monthly")
    parsed = _parsed(report_email.render_email(report, "zh-CN", ["m@example.com"], "t-1", "星享会"))
    assert parsed.get_content_type() == "multipart/mixed"
    assert parsed["X-Loyalty-Report"] == "monthly" and parsed["X-Loyalty-Tenant"] == "t-1"
    assert parsed["Subject"] == report_email.subject(report, "zh-CN")
    alternative, attached = parsed.iter_parts()
    assert [p.get_content_type() for p in alternative.iter_parts()] == ["text/plain", "text/html"]
    assert attached.get_content_type() == "text/csv" and attached.get_param("charset") == "utf-8"
    assert attached.get_filename() == "monthly-2026-02-01.csv"
    assert attached.get_payload(decode=True) == report_csv(report)
    assert parsed.get_body(preferencelist=("plain",)) is not None


def test_a_message_without_attachments_keeps_its_shape() -> None:
    plain = _parsed(Email(to=["a@example.com"], subject="s", text="t", headers={"List-Unsubscribe": "<x>"}))
    assert plain.get_content_type() == "text/plain" and plain["List-Unsubscribe"] == "<x>"
    alternative = _parsed(Email(to=["a@example.com"], subject="s", text="t", html="<p>h</p>"))
    assert alternative.get_content_type() == "multipart/alternative"
    with_file = _parsed(
        Email(to=["a@example.com"], subject="s", text="t", attachments=[Attachment(
            filename="a.bin", content_type="application/octet-stream", data=b"\x00\x01")])
    )  # fmt: skip
    assert with_file.get_content_type() == "multipart/mixed"
    assert [p.get_content_type() for p in with_file.iter_parts()] == [
        "text/plain",
        "application/octet-stream",
    ]


def test_a_malformed_content_type_is_refused() -> None:
    mail = Email(to=["a@example.com"], subject="s", text="t", attachments=[Attachment(
        filename="a", content_type="csv", data=b"x")])  # fmt: skip
    with pytest.raises(ValueError, match="content type"):
        build_mime("r@example.com", mail)


# HTML -------------------------------------------------------------------------------------


def test_the_html_is_inlined_and_fits_a_phone() -> None:
    page = report_email.render_html(sample_report("monthly"), "en", "Star Club")
    assert "max-width: 640px" in page
    assert re.search(r'<div class="container" style="[^"]*max-width: 640px', page)
    widths = re.findall(r"(?<![-\w])width:\s*([\d.]+)px", page)
    assert widths == [], f"fixed widths: {widths}"
    assert re.search(r'<table class="figures"[^>]* style="[^"]*width: 100%', page)
    assert 'name="viewport"' in page


@pytest.mark.parametrize("period", ["daily", "weekly", "monthly"])
@pytest.mark.parametrize("locale", labels.LOCALES)
def test_every_chart_is_there_with_a_caption_and_alt_text(period: str, locale: str) -> None:
    page = report_email.render_html(sample_report(period), locale, "Star Club")
    found = charts_of(page).charts
    assert [c["data-chart"] for c in found] == [name for name, _ in labels.CHARTS]
    for chart in found:
        assert chart["role"] == "img" and "chart" in str(chart["class"]).split()
        assert labels.WORDS[locale][f"chart_{chart['data-chart']}"] in str(chart["aria-label"])


def test_the_bars_are_proportional_and_the_values_are_written_beside_them() -> None:
    report = sample_report("weekly")
    page = report_email.render_html(report, "en", "Star Club")
    parsed = charts_of(page)
    # 0, 37.50, 75.00, 112.50, 150.00, 0, 37.50: the largest is 100%, the zeros draw no bar.
    assert parsed.bars["revenue"] == [25.0, 50.0, 75.0, 100.0, 25.0]
    assert parsed.bars["orders"] == [33.3, 66.7, 100.0, 33.3, 66.7]
    assert "02-06 150.00" in parsed.text["revenue"] and "02-02 0.00" in parsed.text["revenue"]
    alt = {str(c["data-chart"]): str(c["aria-label"]) for c in parsed.charts}
    assert alt["revenue"] == "Revenue by day (CNY): 7 days, total 412.50 CNY, highest 150.00 (02-06)"
    assert alt["points_flow"].endswith(": Points issued 1200, Points redeemed 300, Points expired 50")
    assert parsed.bars["points_flow"] == [100.0, 25.0, 4.2]


def test_the_sla_chart_is_scaled_to_100_percent_and_shows_a_gap_as_a_dash() -> None:
    page = report_email.render_html(sample_report("weekly"), "en", "Star Club")
    parsed = charts_of(page)
    # 1, 0.875, 0.75, 0.625, 1, null, 0.75
    assert parsed.bars["sla_first_response"] == [100.0, 87.5, 75.0, 62.5, 100.0, 75.0]
    assert "02-07 —" in parsed.text["sla_first_response"]
    [alt] = [c["aria-label"] for c in parsed.charts if c["data-chart"] == "sla_first_response"]
    assert alt == "SLA first-response compliance by day: 7 days, lowest 62.5% (02-05), highest 100.0% (02-02)"


def test_every_figure_section_cohort_and_restatement_is_shown() -> None:
    report = sample_report("monthly")
    text = _text_of(report_email.render_html(report, "zh-CN", "星享会"))
    for section, _ in labels.SECTIONS:
        assert labels.SECTION_LABELS["zh-CN"][section] in text
    for figure in FIGURES:
        assert labels.FIGURE_LABELS["zh-CN"][figure] in text, figure
    assert "1224.50 CNY" in text and "33.3%" in text and "上期 1300.00 CNY" in text
    assert "铜卡 90 上期 88" in text and "金卡 — 上期 1" in text
    assert "2025-02 12 M1 50.0% M2 — M3 16.7%" in text
    assert "monthly-2026-01-01 · 订单数：10 → 11" in text
    assert "monthly-2026-01-01 · 净收入：900.00 CNY → 950.50 CNY" in text


def test_cohorts_and_restatements_appear_only_when_there_are_some() -> None:
    words = labels.WORDS["en"]
    weekly = report_email.render_html(sample_report("weekly"), "en", "Star Club")
    assert words["cohorts"] not in weekly and words["restated"] not in weekly
    report = sample_report("monthly")
    report["cohorts"], report["restated"] = [], []
    page = report_email.render_html(report, "en", "Star Club")
    assert words["cohorts"] not in page and words["restated"] not in page


def test_missing_figures_and_an_empty_series_render_without_failing() -> None:
    report = sample_report("monthly")
    report["figures"] = {"orders": 3, "unknown_figure": 7}
    report["previous"], report["series"], report["cohorts"], report["restated"] = {}, [], [], []
    mail = report_email.render_email(report, "en", ["m@example.com"], "t-1", "Star Club")
    assert mail.subject == "Monthly report 2026-02-01 – 2026-02-28: 3 orders"
    assert "Net revenue" not in mail.text and "Orders: 3 (–)" in mail.text
    assert mail.html is not None
    assert len(re.findall(r'class="chart"', mail.html)) == len(labels.CHARTS)
    assert "No data this period" in mail.html and "unknown_figure" in mail.html
    assert "Net revenue" not in _text_of(mail.html)


def test_text_from_the_report_is_escaped() -> None:
    report = sample_report("daily")
    report["figures"]["by_tier"] = {"<script>": 1}
    page = report_email.render_html(report, "en", "<b>Club</b>")
    assert "<script>" not in page.split("</style>", 1)[1] and "&lt;script&gt;" in page
    assert "<b>Club</b>" not in page
