"""`make local`: serve the local stack until interrupted."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from pathlib import Path

from infra.local.durations import parse_rfc3339
from infra.local.stack import DEMO_API_KEY, LocalStack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local", description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("LOCAL_PORT", "3000")))
    parser.add_argument("--outbox", default=os.environ.get("LOCAL_OUTBOX", "outbox"))
    parser.add_argument("--start", default=os.environ.get("LOCAL_CLOCK_START"), help="RFC 3339 start time")
    args = parser.parse_args(argv)
    stack = LocalStack(
        port=args.port, outbox_dir=Path(args.outbox), start=parse_rfc3339(args.start) if args.start else None
    )
    url = stack.start()
    print(
        f"local stack ready at {url} (x-api-key: {DEMO_API_KEY}, clock {stack.clock.now().isoformat()})",
        flush=True,
    )
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with contextlib.suppress(KeyboardInterrupt):
        done.wait()
    stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
