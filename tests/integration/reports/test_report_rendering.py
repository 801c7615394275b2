"""The KPI report email of a daily, a weekly and a monthly report, in both locales,
opened in headless Chromium at 375 px (a phone) and 800 px (a desktop client's reading
pane): the page shows text and has height, nothing scrolls sideways (``scrollWidth``
never exceeds ``innerWidth``), and each of the five charts is there, displayed, of
non-zero size and described by an aria-label. Control pages prove the probe sees a
blank page, an overflow and a missing or hidden chart.

Chromium is Debian's ``chromium`` (with ``fonts-noto-cjk`` for the Chinese copy;
``.ci/run`` installs both when missing). Without it the test is skipped, unless ``CI``
is set: then it fails."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from reports import email as report_email
from reports import labels
from tests.chromium import probe as chromium_probe
from tests.unit.reports.test_report_email import sample_report

pytestmark = pytest.mark.integration

WIDTHS = (375, 800)
PERIODS = ("daily", "weekly", "monthly")
CHARTS = [name for name, _ in labels.CHARTS]

# Headless Chromium keeps its window at least 500 px wide, so the email is laid out in
# an iframe exactly ``width`` px wide: its own viewport, which its media queries see. The
# iframe (srcdoc: same origin) is measured once everything loaded, fonts included; the
# result lands on <html data-probe="...">, which --dump-dom prints.
FRAME = """<!DOCTYPE html><html><head><meta charset="utf-8"><style>
body { margin: 0; } iframe { border: 0; display: block; width: %(width)dpx; height: %(height)dpx; }
</style></head><body><iframe id="email" srcdoc="%(page)s"></iframe>
<script>
window.addEventListener("load", function () {
  var frame = document.getElementById("email").contentWindow;
  var doc = frame.document;
  var text = (doc.body ? doc.body.innerText || "" : "").replace(/\\s+/g, "");
  var charts = Array.prototype.map.call(doc.querySelectorAll("[data-chart]"), function (el) {
    var box = el.getBoundingClientRect();
    var style = frame.getComputedStyle(el);
    return {
      name: el.getAttribute("data-chart"),
      width: Math.round(box.width), height: Math.round(box.height),
      visible: style.display !== "none" && style.visibility !== "hidden" && style.opacity !== "0",
      label: el.getAttribute("aria-label") || el.getAttribute("alt") || "",
      role: el.getAttribute("role") || ""
    };
  });
  document.documentElement.setAttribute("data-probe", JSON.stringify({
    scrollWidth: doc.documentElement.scrollWidth,
    innerWidth: frame.innerWidth,
    textLength: text.length,
    bodyHeight: doc.body ? Math.round(doc.body.getBoundingClientRect().height) : 0,
    charts: charts
  }));
});
</script></body></html>"""


def probe(page: str, width: int, workdir: Path) -> dict[str, Any]:
    """Open ``page`` at ``width`` px and return what the probe measured."""
    return chromium_probe(FRAME, page, width, workdir)


def problems(measured: dict[str, Any], width: int, charts: list[str] = CHARTS) -> list[str]:
    found = []
    if measured["innerWidth"] != width:
        found.append(f"the viewport is {measured['innerWidth']} px wide, not {width}")
    if measured["textLength"] == 0 or measured["bodyHeight"] == 0:
        found.append(f"blank page: {measured}")
    if measured["scrollWidth"] > measured["innerWidth"]:
        found.append(f"horizontal overflow: {measured['scrollWidth']} px in {measured['innerWidth']} px")
    seen = {chart["name"]: chart for chart in measured["charts"]}
    for name in charts:
        chart = seen.get(name)
        if chart is None:
            found.append(f"missing chart: {name}")
        elif not chart["visible"] or chart["width"] == 0 or chart["height"] == 0:
            found.append(f"chart not shown: {chart}")
        elif not chart["label"].strip() or chart["role"] != "img":
            found.append(f"chart without alt text: {chart}")
    return found


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("locale", labels.LOCALES)
@pytest.mark.parametrize("period", PERIODS)
def test_the_report_email_fits_the_screen_with_every_chart(
    period: str, locale: str, width: int, tmp_path: Path
) -> None:
    page = report_email.render_email(sample_report(period), locale, ["m@example.com"], "t-1", "星享会").html
    assert page is not None
    assert problems(probe(page, width, tmp_path), width) == [], f"{period}.{locale} at {width} px"


def test_long_names_and_a_year_of_cohorts_still_fit_a_phone(tmp_path: Path) -> None:
    report = sample_report("monthly")
    report["figures"]["by_tier"] = {"platinum_" + "x" * 80: 1}
    report["restated"].append(
        {"report_id": "monthly-" + "9" * 90, "figure": "gross_revenue", "old": "1", "new": "2"}
    )
    page = report_email.render_html(report, "en", "W" * 120)
    assert problems(probe(page, 375, tmp_path), 375) == []


def test_the_probe_sees_an_overflow_a_blank_page_and_a_missing_chart(tmp_path: Path) -> None:
    wide = "<html><body><table style='width:520px'><tr><td>wide</td></tr></table></body></html>"
    assert any("overflow" in p for p in problems(probe(wide, 375, tmp_path), 375, []))
    blank = "<html><body><div style='display:none'>hidden</div></body></html>"
    assert any("blank" in p for p in problems(probe(blank, 375, tmp_path), 375, []))
    page = report_email.render_html(sample_report("weekly"), "en", "Star Club")
    dropped = re.sub(r'data-chart="orders"', 'data-gone="orders"', page)
    assert problems(probe(dropped, 375, tmp_path), 375) == ["missing chart: orders"]
    hidden = page.replace('role="img"', 'role="img" hidden', 1)
    assert [p.split(":")[0] for p in problems(probe(hidden, 375, tmp_path), 375)] == ["chart not shown"]
    unlabelled = re.sub(r'aria-label="Revenue[^"]*"', "", page)
    assert [p.split(":")[0] for p in problems(probe(unlabelled, 375, tmp_path), 375)] == [
        "chart without alt text"
    ]
