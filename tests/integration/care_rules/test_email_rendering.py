"""Every shipped care email, rendered with the sample variables, opened in headless
Chromium at 375 px (a phone) and 800 px (a desktop client's reading pane): each page
shows text and has height, and nothing scrolls sideways (``scrollWidth`` never exceeds
``innerWidth``). Two control pages prove the probe sees a blank page and an overflow.

Chromium is Debian's ``chromium`` (with ``fonts-noto-cjk`` for the Chinese copy;
``.ci/run`` installs both when missing). Without it the test is skipped, unless ``CI``
is set: then it fails."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from care_rules import rendering
from tests.chromium import probe as chromium_probe

pytestmark = pytest.mark.integration

WIDTHS = (375, 800)
EVERY = [(t, loc) for t in sorted(rendering.TEMPLATE_IDS) for loc in rendering.LOCALES]

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
  document.documentElement.setAttribute("data-probe", JSON.stringify({
    scrollWidth: doc.documentElement.scrollWidth,
    innerWidth: frame.innerWidth,
    textLength: text.length,
    bodyHeight: doc.body ? Math.round(doc.body.getBoundingClientRect().height) : 0,
    windowWidth: window.innerWidth
  }));
});
</script></body></html>"""


def probe(page: str, width: int, workdir: Path) -> dict[str, Any]:
    """Open ``page`` at ``width`` px and return what the probe measured."""
    return chromium_probe(FRAME, page, width, workdir)


def problems(measured: dict[str, Any], width: int) -> list[str]:
    found = []
    if measured["innerWidth"] != width:
        found.append(f"the viewport is {measured['innerWidth']} px wide, not {width}")
    if measured["textLength"] == 0 or measured["bodyHeight"] == 0:
        found.append(f"blank page: {measured}")
    if measured["scrollWidth"] > measured["innerWidth"]:
        found.append(f"horizontal overflow: {measured['scrollWidth']} px in {measured['innerWidth']} px")
    return found


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(("template_id", "locale"), EVERY)
def test_the_email_fits_the_screen(template_id: str, locale: str, width: int, tmp_path: Path) -> None:
    page = rendering.render(template_id, locale, rendering.SAMPLE_VARIABLES).html
    measured = probe(page, width, tmp_path)
    assert problems(measured, width) == [], f"{template_id}.{locale} at {width} px"


def test_a_long_unbroken_value_still_fits_a_phone(tmp_path: Path) -> None:
    variables: dict[str, Any] = json.loads(json.dumps(rendering.SAMPLE_VARIABLES))
    variables["member"]["name"] = "W" * 120
    variables["ticket"]["subject"] = "https://example.com/" + "a" * 200
    variables["unsubscribe_url"] = "https://example.com/unsubscribe?token=" + "x" * 300
    page = rendering.render("ticket-csat", "en", variables).html
    assert problems(probe(page, 375, tmp_path), 375) == []


def test_the_probe_sees_an_overflow_and_a_blank_page(tmp_path: Path) -> None:
    wide = "<html><body><table style='width:520px'><tr><td>wide</td></tr></table></body></html>"
    assert any("overflow" in p for p in problems(probe(wide, 375, tmp_path), 375))
    blank = "<html><body><div style='display:none'>hidden</div></body></html>"
    assert any("blank" in p for p in problems(probe(blank, 375, tmp_path), 375))
