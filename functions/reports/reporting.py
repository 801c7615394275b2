"""The reports' use case: build a period's report from the rollups, store it once, and
restate earlier reports that late events changed.

Guarantees:

* **One document per period.** A period's report is built the first time it is asked
  for and stored (``reports.report_store``); later asks read it back, so every
  recipient and the API see the same figures.
* **Restated, never silently changed.** When a day that already had a report received
  an event after it ended (a late-day marker, ``reports.rollups``), the next report of
  the same kind recomputes that earlier report, stores it with the new figures and lists
  every figure that changed, with the old and new values, in its ``restated``. A marker
  is cleared once handled; markers for periods not reported yet stay until they are.
* **Reads are flat in events**: a report reads the rollup partitions of the months it
  touches (``figures.read_months``), one Query each."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from loyalty.program import ProgramConfig
from reports import csv_export, email, figures, report_store
from reports.periods import Period, period_of


@dataclass(frozen=True)
class Context:
    table: str
    bucket: str
    tenant_id: str
    tenant_name: str
    time_zone: str
    program: ProgramConfig
    today: date  # the local day the report is made on
    generated_at: str

    @property
    def settings(self) -> figures.Settings:
        config = self.program.reports
        return figures.Settings(
            active_days=self.program.lifecycle.active_days,
            gross_margin=config.gross_margin,
            point_value=config.point_value,
            expected_redemption_rate=config.expected_redemption_rate,
        )


def compute(ctx: Context, period: Period) -> dict[str, Any]:
    """The report of ``period`` as the rollups stand now (not stored)."""
    buckets = report_store.read_buckets(ctx.table, ctx.tenant_id, figures.read_months(period, ctx.today))
    meta = {"time_zone": ctx.time_zone, "currency": ctx.program.currency, "generated_at": ctx.generated_at}
    return figures.document(buckets, period, ctx.settings, ctx.today, meta)


def _store(ctx: Context, doc: dict[str, Any]) -> None:
    html = email.render_html(doc, ctx.program.locale, ctx.tenant_name)
    report_store.store(ctx.table, ctx.bucket, ctx.tenant_id, doc, csv_export.report_csv(doc), html)


def stored(ctx: Context, period: Period) -> dict[str, Any] | None:
    raw = report_store.document(ctx.bucket, ctx.tenant_id, period.kind, period.start.isoformat())
    return None if raw is None else dict(json.loads(raw))


def _comparable(value: Any) -> Any:
    """Figures as stored in the index (numbers as Decimal) and as computed compare equal."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    return value


def changed_figures(report_id: str, old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """Every figure whose value differs, with both values."""
    out = []
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name), new.get(name)
        if _comparable(before) != _comparable(after):
            out.append({"report_id": report_id, "figure": name, "old": before, "new": after})
    return out


@dataclass
class Restatement:
    changes: list[dict[str, Any]]  # the figures that changed, for the new report's ``restated``
    documents: list[dict[str, Any]]  # the earlier reports with their new figures, to store again
    days: list[str]  # the late-day markers handled


def restate(ctx: Context, period: Period) -> Restatement:
    """Recompute each earlier report of ``period``'s kind holding a late day. Markers of
    ``period`` itself and of periods never reported are handled too; markers of later
    periods stay."""
    out = Restatement([], [], [])
    seen: set[Period] = set()
    for day in report_store.late_days(ctx.table, ctx.tenant_id, period.kind):
        earlier = period_of(period.kind, date.fromisoformat(day))
        if earlier > period:
            continue  # a later period: its own report will read it
        if earlier != period and earlier not in seen:
            seen.add(earlier)
            _restate_one(ctx, earlier, out)
        out.days.append(day)
    return out


def _restate_one(ctx: Context, earlier: Period, out: Restatement) -> None:
    index = report_store.index_item(ctx.table, ctx.tenant_id, earlier.kind, earlier.start.isoformat())
    old_doc = stored(ctx, earlier)
    if index is None or old_doc is None:
        return  # never reported
    new_doc = compute(ctx, earlier)
    changes = changed_figures(earlier.report_id, dict(index.get("figures") or {}), new_doc["figures"])
    if changes:
        new_doc["restated"] = old_doc.get("restated", [])
        new_doc["restated_at"] = ctx.generated_at
        out.changes += changes
        out.documents.append(new_doc)


def get_or_build(ctx: Context, period: Period) -> dict[str, Any]:
    """The stored report of ``period``, built and stored first when there is none. The
    new report is stored before the earlier ones it restates and before the markers are
    cleared: a failure in between lists a restatement again, never loses one."""
    found = stored(ctx, period)
    if found is not None:
        return found
    restatement = restate(ctx, period)
    doc = compute(ctx, period)
    doc["restated"] = restatement.changes
    _store(ctx, doc)
    for earlier in restatement.documents:
        _store(ctx, earlier)
    for day in restatement.days:
        report_store.clear_late(ctx.table, ctx.tenant_id, period.kind, day)
    return doc
