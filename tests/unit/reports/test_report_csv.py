"""The report CSV: a BOM, the columns, one row per figure in section order (a breakdown
per key), empty cells for null and a missing previous value, the cohorts, RFC 4180
quoting, and a report with few figures."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from reports import labels
from reports.csv_export import report_csv
from tests.unit.reports.test_report_email import FIGURES, sample_report

pytestmark = pytest.mark.unit


def _rows(report: dict[str, Any]) -> list[list[str]]:
    data = report_csv(report)
    assert data.startswith("\ufeff".encode())
    text = data.decode("utf-8")[1:]
    assert "\r\n" in text and "\n" not in text.replace("\r\n", "")
    return list(csv.reader(io.StringIO(text, newline="")))


def test_the_header_and_one_row_per_figure_in_section_order() -> None:
    rows = _rows(sample_report("monthly"))
    assert rows[0] == ["section", "figure", "value", "previous"]
    figures = [r for r in rows[1:] if r[0] != "cohorts"]
    plain = [name for _, names in labels.SECTIONS for name in names if not isinstance(FIGURES[name], dict)]
    assert [r[1] for r in figures if "." not in r[1]] == plain
    assert figures[0] == ["sales", "orders", "12", "10"]
    assert ["sales", "net_revenue", "1224.50", "1300.00"] in figures
    assert ["customers", "repurchase_rate", "0.3333", "0.3123"] in figures
    assert ["service", "sla_next_reply", "", ""] in figures  # null now and before
    assert ["voice", "csat", "0.8", ""] in figures  # null before


def test_a_breakdown_gives_one_row_per_key_of_either_period() -> None:
    rows = _rows(sample_report("monthly"))
    tiers = [r for r in rows if r[1].startswith("by_tier.")]
    assert tiers == [
        ["members", "by_tier.bronze", "90", "88"],
        ["members", "by_tier.gold", "", "1"],
        ["members", "by_tier.silver", "10", ""],
    ]
    assert ["care", "care_skipped.consent", "2", "2"] in rows
    assert ["care", "care_skipped.quiet_hours", "1", "1"] in rows


def test_without_a_previous_period_the_previous_column_is_empty() -> None:
    rows = _rows(sample_report("weekly"))
    assert all(r[3] == "" for r in rows[1:])
    assert ["members", "by_lifecycle_stage.at_risk", "20", ""] in rows


def test_the_cohorts_follow_the_figures() -> None:
    rows = _rows(sample_report("monthly"))
    cohorts = [r for r in rows if r[0] == "cohorts"]
    assert rows[-len(cohorts) :] == cohorts
    assert cohorts[:4] == [
        ["cohorts", "2025-02.size", "12", ""],
        ["cohorts", "2025-02.r1", "0.5", ""],
        ["cohorts", "2025-02.r2", "", ""],
        ["cohorts", "2025-02.r3", "0.1667", ""],
    ]
    assert ["cohorts", "2026-01.size", "23", ""] in cohorts
    assert not any(r[1].startswith("2026-01.r") for r in cohorts)  # no month after it yet


def test_quoting_follows_rfc_4180_and_chinese_text_survives() -> None:
    report = sample_report("daily")
    report["figures"]["by_tier"] = {'金卡, "VIP"': 3}
    report["previous"] = {}
    data = report_csv(report).decode("utf-8")
    assert '"by_tier.金卡, ""VIP""",3,' in data
    assert ["members", 'by_tier.金卡, "VIP"', "3", ""] in _rows(report)


def test_a_report_with_few_figures_lists_only_those_and_unknown_ones_last() -> None:
    report = {
        "report_id": "daily-2026-02-10",
        "figures": {"zeta": 1, "orders": 2, "alpha": None},
        "previous": {},
    }
    assert _rows(report) == [
        ["section", "figure", "value", "previous"],
        ["sales", "orders", "2", ""],
        ["other", "alpha", "", ""],
        ["other", "zeta", "1", ""],
    ]
