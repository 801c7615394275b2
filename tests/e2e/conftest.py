"""Starts `python -m infra.local` (what `make local` runs) as a user would."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from infra.local.client import Client

ROOT = Path(__file__).resolve().parents[2]


class LocalClient(Client):
    """The API client (infra/local/client.py) of a running stack, with the
    storefront key `make local` provisions, and the stack's outbox."""

    def __init__(self, url: str, outbox: Path) -> None:
        super().__init__(url, key="local-dev-key", timeout=120)
        self.outbox = outbox


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
    output = process.stdout
    deadline = time.monotonic() + 60
    url = None
    lines = []
    while time.monotonic() < deadline:
        line = output.readline()
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
    threading.Thread(target=lambda: tail.extend(output), daemon=True).start()
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
