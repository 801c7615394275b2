"""API models of the stored reports. The document itself is the stored JSON
(``reports.figures.document``); these models describe it for the OpenAPI document."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ReportSummaryOut(BaseModel):
    report_id: str = Field(description="<period>-<start>, e.g. monthly-2026-02-01")
    period: str = Field(description="daily, weekly or monthly")
    start: str = Field(description="The first local day of the period (YYYY-MM-DD)")
    end: str = Field(description="The day after its last (exclusive): the period is [start, end)")


class ReportListOut(BaseModel):
    reports: list[ReportSummaryOut] = Field(description="The stored reports, by start")
    next_cursor: str | None = Field(description="More reports: pass as cursor")


class CohortOut(BaseModel):
    cohort: str = Field(description="The first-order month, YYYY-MM")
    size: int
    retention: list[float | None] = Field(description="r1, r2, ...: the share with an order k months later")


class RestatedOut(BaseModel):
    report_id: str = Field(description="The earlier report whose figure changed")
    figure: str
    old: Any = None
    new: Any = None


class ReportOut(ReportSummaryOut):
    time_zone: str = Field(description="The IANA time zone the local dates are in")
    currency: str = Field(description="The base currency of every amount")
    generated_at: str = Field(description="When the report was made (RFC 3339)")
    figures: dict[str, Any] = Field(
        description="Counts are integers, money decimal strings, rates numbers from 0 to 1 "
        "(4 places) or null when their denominator is 0 (docs/kpis.md)"
    )
    previous: dict[str, Any] = Field(description="The same figures for the period before")
    series: list[dict[str, Any]] = Field(description="Figures by day, for the charts")
    cohorts: list[CohortOut] = Field(description="Monthly reports: the trailing 12 first-order months")
    restated: list[RestatedOut] = Field(description="Figures of earlier reports that late events changed")
