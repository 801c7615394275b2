"""Starts `python -m infra.local` (what `make local` runs) as a user would."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class LocalClient:
    url: str
    outbox: Path

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        key: str | None = "local-dev-key",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)  # noqa: S310 - loopback
        request.add_header("content-type", "application/json")
        if key:
            request.add_header("x-api-key", key)
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 - loopback only
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")


def module_env() -> dict[str, str]:
    """The environment for running this repository's modules as a user would."""
    paths = [str(ROOT), str(ROOT / "functions"), str(ROOT / "layers/common/python")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def run_module(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`python -m <args>` from the repository root, output captured."""
    return subprocess.run(  # noqa: S603 - runs this repository's own module
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env=module_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@contextmanager
def running_stack(outbox: Path) -> Iterator[LocalClient]:
    """`python -m infra.local` on a free port, stopped on exit."""
    env = {**module_env(), "LOCAL_CLOCK_START": "2026-03-10T08:00:00Z"}
    env.pop("AWS_ENDPOINT_URL", None)
    process = subprocess.Popen(  # noqa: S603 - runs this repository's own module
        [sys.executable, "-m", "infra.local", "--port", "0", "--outbox", str(outbox)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    url = None
    lines = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        found = re.search(r"ready at (http://127\.0\.0\.1:\d+)", line)
        if found:
            url = found.group(1)
            break
    if url is None:
        process.kill()
        pytest.fail("local stack did not start:\n" + "".join(lines))
    # Keep reading its output so a chatty stack never blocks on a full pipe.
    tail: deque[str] = deque(maxlen=200)
    threading.Thread(target=lambda: tail.extend(process.stdout), daemon=True).start()
    try:
        yield LocalClient(url, outbox)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalClient]:
    with running_stack(tmp_path_factory.mktemp("outbox")) as client:
        yield client
