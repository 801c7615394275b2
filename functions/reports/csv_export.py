"""A report's figures as CSV, as ``GET /v1/reports/{report_id}/csv`` answers and the
report email attaches. Pure: no AWS here.

* UTF-8 with a byte-order mark, so spreadsheet programs read Chinese text correctly;
  CRLF line ends and RFC 4180 quoting (the ``csv`` module's ``excel`` dialect).
* Columns ``section,figure,value,previous``; one row per figure the report carries, in
  the order of :data:`reports.labels.SECTIONS` (unknown figures last, by name, under
  ``other``). A breakdown (``by_tier``, ``care_skipped``...) gives one row per key,
  named ``figure.key``, over the keys of both periods.
* Values as the report holds them: counts as integers, money as decimal strings, rates
  as numbers from 0 to 1; an empty cell for ``null`` or a figure the previous period
  lacks.
* Then each cohort: ``cohorts,<cohort>.size,<size>,`` and ``cohorts,<cohort>.r<k>,<rk>,``."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from typing import Any

from reports import labels

COLUMNS = ("section", "figure", "value", "previous")
BOM = "\ufeff"


def cell(value: Any) -> str:
    """A value as the CSV writes it: ``""`` for None, ``true``/``false``, else ``str``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def ordered_figures(figures: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(section, figure)`` of every figure in ``figures``, in the report's order."""
    known = [(section, name) for section, names in labels.SECTIONS for name in names if name in figures]
    listed = {name for _, name in known}
    others = [(labels.OTHER_SECTION, name) for name in sorted(figures) if name not in listed]
    return known + others


def _figure_rows(figures: Mapping[str, Any], previous: Mapping[str, Any]) -> Iterator[list[str]]:
    for section, name in ordered_figures(figures):
        value = figures[name]
        before = previous.get(name)
        if isinstance(value, Mapping):
            earlier = before if isinstance(before, Mapping) else {}
            for key in sorted({*value, *earlier}, key=str):
                yield [section, f"{name}.{key}", cell(value.get(key)), cell(earlier.get(key))]
        else:
            yield [section, name, cell(value), cell(None if isinstance(before, Mapping) else before)]


def _cohort_rows(cohorts: Any) -> Iterator[list[str]]:
    for cohort in cohorts or ():
        month = cell(cohort.get("cohort"))
        yield ["cohorts", f"{month}.size", cell(cohort.get("size")), ""]
        for k, share in enumerate(cohort.get("retention") or (), start=1):
            yield ["cohorts", f"{month}.r{k}", cell(share), ""]


def report_csv(report: Mapping[str, Any]) -> bytes:
    """The CSV of ``report`` (the stored report document), as UTF-8 bytes with a BOM."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, dialect="excel", lineterminator="\r\n")
    writer.writerow(COLUMNS)
    figures = report.get("figures") or {}
    previous = report.get("previous") or {}
    writer.writerows(_figure_rows(figures, previous))
    writer.writerows(_cohort_rows(report.get("cohorts")))
    return (BOM + buffer.getvalue()).encode("utf-8")
