"""Headless Chromium for the email rendering tests: a page opened in a frame of a given
width, and what a probe script in the frame measured (``data-probe`` on the document)."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

HEIGHT = 900
TIMEOUT_SECONDS = 60
PROBED = re.compile(r'data-probe="([^"]*)"')


def chromium() -> str:
    """Debian's chromium; a missing one fails the test when ``CI`` is set, else skips it."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    message = "chromium is not installed (apt-get install -y --no-install-recommends chromium fonts-noto-cjk)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def probe(frame_template: str, page: str, width: int, workdir: Path) -> dict[str, Any]:
    """Open ``page`` in ``frame_template`` (``%(width)s``, ``%(height)s``, ``%(page)s``) at
    ``width`` px and return what its probe measured."""
    binary = chromium()
    path = workdir / f"page-{width}.html"
    frame = frame_template % {"width": width, "height": HEIGHT, "page": html.escape(page, quote=True)}
    path.write_text(frame, encoding="utf-8")
    command = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={workdir / f'profile-{width}'}",
        f"--window-size={width},{HEIGHT}",
        "--virtual-time-budget=2000",
        "--dump-dom",
        path.as_uri(),
    ]
    done = subprocess.run(  # noqa: S603 - a fixed command line, the page is ours
        command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False
    )
    found = PROBED.search(done.stdout)
    assert found, f"chromium exited {done.returncode} without a probe result: {done.stderr[-2000:]}"
    result: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return result
