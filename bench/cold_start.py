"""Cold-start benchmark: how long each function's handler module takes to import.

For every function of ``infra.definitions.FUNCTIONS``, imports its handler module
in a fresh Python process (``--runs`` rounds, the fastest kept), with the
function's own environment (``function_environment`` plus placeholder resource
names, so the settings check of its cold start runs), and ``import boto3`` the
same way as the yardstick. Each module is imported both with an import statement
(the figure the goal is checked on) and with ``importlib.import_module``, as
Lambda's Python runtime loads a handler: on CPython 3.11 the two differ by tens
of milliseconds for some modules. The interpreter's own start is not counted; the
bytecode caches of this checkout are warm (a deployed function compiles its own
modules at each cold start: the code asset ships no ``__pycache__``).

Two environments:
- tracing disabled (``POWERTOOLS_TRACE_DISABLED=true``), as in the local stack and
  the tests: the goal applies here (stream and schedule functions at most 2x
  ``import boto3``, API functions and the authorizer at most 2.5x);
- tracing enabled (``LAMBDA_TASK_ROOT`` set, as in Lambda with active tracing):
  Powertools' Tracer then imports the X-Ray SDK and patches boto3, which is part
  of a deployed function's cold start (``--no-tracing`` skips it).

Each row also says whether the import pulled in Powertools' event handler
(REST resolver, OpenAPI models) or the X-Ray SDK. Prints a JSON document and a
Markdown table; docs/performance.md records a run.
    python -m bench.cold_start [--runs 3] [--no-tracing] [--function ID ...] [--json-out FILE]
                               [--python INTERPRETER]"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.definitions import (
    AUTHORIZER,
    FUNCTIONS,
    LOCAL_SENDER_EMAIL,
    TABLES,
    FunctionDef,
    function_environment,
)

ROOT = Path(__file__).resolve().parent.parent
GOALS = {"api": 2.5, "authorizer": 2.5, "stream": 2.0, "schedule": 2.0}
REGION = "eu-central-1"

# Runs in the fresh process: everything before the clock starts is the measuring itself.
# ``load`` is an import statement (how the figures here were first measured) or
# importlib.import_module, which is how Lambda's Python runtime loads a handler module.
PROBE = """
import importlib, json, sys, time
started = time.perf_counter()
{load}
elapsed = time.perf_counter() - started
print(json.dumps({{
    "ms": elapsed * 1000,
    "event_handler": any(m.startswith("aws_lambda_powertools.event_handler") for m in sys.modules),
    "xray": "aws_xray_sdk" in sys.modules,
}}))
"""
LOADS = {
    "statement": "import {module}",
    "runtime": "importlib.import_module({module!r})",
}
# What every function imports before any code of its own: boto3, Powertools' Logger
# and Metrics, pydantic with one model built.
FLOOR = "import boto3, aws_lambda_powertools, pydantic\npydantic.create_model('Floor', x=(int, ...))"


def kind(fn: FunctionDef) -> str:
    if fn.logical_id == AUTHORIZER.logical_id:
        return "authorizer"
    if fn.routes:
        return "api"
    return "stream" if fn.stream is not None else "schedule"


def handler_module(fn: FunctionDef) -> str:
    return fn.handler.rsplit(".", 1)[0]


@dataclass(frozen=True)
class Prober:
    """Fresh processes of ``python`` (an interpreter with the runtime dependencies of
    requirements.txt), each timing one import."""

    python: str
    task_root: str  # LAMBDA_TASK_ROOT when tracing is on

    def environment(self, fn: FunctionDef | None, tracing: bool = False) -> dict[str, str]:
        """A clean environment: the function's variables and placeholder resource names
        (nothing is called at import), no credentials."""
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in (".", "functions", "layers/common/python")),
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_TRACE_DISABLED": "false" if tracing else "true",
        }
        if tracing:
            env["LAMBDA_TASK_ROOT"] = self.task_root
        if fn is not None:
            env.update(function_environment(fn, sender_email=LOCAL_SENDER_EMAIL))
            env.update({t.env_var: f"cold-start-{t.logical_id}" for t in TABLES if t.logical_id in fn.tables})
            if fn.writes_reports or fn.reads_reports:
                env["REPORTS_BUCKET"] = "cold-start-reports"
        return env

    def probe(self, load: str, env: dict[str, str]) -> dict[str, Any]:
        """One fresh process timing ``load``: the milliseconds, and what it pulled in."""
        done = subprocess.run(  # noqa: S603 - a Python interpreter, this repository's modules
            [self.python, "-c", PROBE.format(load=load)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{load!r} failed:\n{done.stderr[-2000:]}")
        sample: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return sample

    def version(self) -> str:
        done = subprocess.run(  # noqa: S603 - the interpreter measured
            [self.python, "-c", "import platform; print(platform.python_version())"],
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    def round(self, functions: list[FunctionDef], tracing: bool) -> dict[str, dict[str, Any]]:
        """One import of boto3, of the floor and of every module (each way)."""
        plain = self.environment(None)
        samples = {"boto3": self.probe("import boto3", plain), "floor": self.probe(FLOOR, plain)}
        for fn in functions:
            module, env = handler_module(fn), self.environment(fn)
            samples[f"{fn.logical_id}:off"] = self.probe(LOADS["statement"].format(module=module), env)
            samples[f"{fn.logical_id}:runtime"] = self.probe(LOADS["runtime"].format(module=module), env)
            if tracing:
                traced = self.environment(fn, tracing=True)
                samples[f"{fn.logical_id}:on"] = self.probe(LOADS["statement"].format(module=module), traced)
        return samples


def _row(fn: FunctionDef, samples: dict[str, dict[str, Any]], boto3_ms: float) -> dict[str, Any]:
    off = samples[f"{fn.logical_id}:off"]
    row: dict[str, Any] = {
        "function": fn.logical_id,
        "module": handler_module(fn),
        "kind": kind(fn),
        "goal_ratio": GOALS[kind(fn)],
        "ms": round(off["ms"], 1),
        "ratio": round(off["ms"] / boto3_ms, 2),
        "imports_event_handler": off["event_handler"],
        "imports_xray": off["xray"],
    }
    row["within_goal"] = row["ratio"] <= row["goal_ratio"]
    runtime = samples[f"{fn.logical_id}:runtime"]
    row["runtime_ms"] = round(runtime["ms"], 1)
    row["runtime_ratio"] = round(runtime["ms"] / boto3_ms, 2)
    on = samples.get(f"{fn.logical_id}:on")
    if on is not None:
        row["tracing_ms"] = round(on["ms"], 1)
        row["tracing_ratio"] = round(on["ms"] / boto3_ms, 2)
        row["tracing_imports_xray"] = on["xray"]
    return row


def run(
    functions: list[FunctionDef], runs: int, tracing: bool, python: str = sys.executable
) -> dict[str, Any]:
    """``runs`` rounds, each importing boto3 and every module once, so that a change in
    the machine's load falls on the yardstick as well as on the functions; the fastest
    sample of each counts."""
    load_before = os.getloadavg()
    best: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as task_root:
        prober = Prober(python, task_root)
        for _ in range(runs):
            for key, sample in prober.round(functions, tracing).items():
                if key not in best or sample["ms"] < best[key]["ms"]:
                    best[key] = sample
    boto3_ms = round(best["boto3"]["ms"], 1)
    return {
        "machine": {
            "python": prober.version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_1m": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        },
        "method": (
            f"fastest of {runs} fresh processes per module (rounds interleaved with import boto3), "
            "interpreter start excluded, bytecode caches warm, the function's own environment; "
            "ms: an import statement, runtime_ms: importlib.import_module as Lambda's runtime loads a handler"
        ),
        "environment": "tracing disabled (POWERTOOLS_TRACE_DISABLED=true), as in the local stack and tests",
        "tracing_environment": (
            "tracing enabled (LAMBDA_TASK_ROOT set, POWERTOOLS_TRACE_DISABLED=false): "
            "Powertools' Tracer imports the X-Ray SDK, as in AWS with active tracing"
            if tracing
            else None
        ),
        "boto3_ms": boto3_ms,
        "floor": "import boto3, aws_lambda_powertools (Logger, Metrics), pydantic and build one model",
        "floor_ms": round(best["floor"]["ms"], 1),
        "floor_ratio": round(best["floor"]["ms"] / boto3_ms, 2),
        "functions": [_row(fn, best, boto3_ms) for fn in functions],
    }


def render(document: dict[str, Any]) -> str:
    tracing = document["tracing_environment"] is not None
    header = ["function", "module", "kind", "import ms", "x boto3", "goal", "import_module ms", "x boto3"]
    if tracing:
        header += ["traced ms", "traced x boto3"]
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for row in document["functions"]:
        cells = [
            row["function"],
            f"`{row['module']}`",
            row["kind"],
            f"{row['ms']:.0f}",
            f"{row['ratio']:.2f}",
            f"<= {row['goal_ratio']:g}" + ("" if row["within_goal"] else " (missed)"),
            f"{row['runtime_ms']:.0f}",
            f"{row['runtime_ratio']:.2f}",
        ]
        if tracing:
            cells += [f"{row['tracing_ms']:.0f}", f"{row['tracing_ratio']:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append(f"\n`import boto3`: {document['boto3_ms']:.0f} ms")
    lines.append(
        f"floor ({document['floor']}): {document['floor_ms']:.0f} ms, {document['floor_ratio']:.2f}x"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cold_start", description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per module (the fastest counts)")
    parser.add_argument("--no-tracing", action="store_true", help="skip the tracing-enabled measurement")
    parser.add_argument(
        "--function", action="append", help="logical id (repeatable; default: every function)"
    )
    parser.add_argument("--json-out", type=Path, help="also write the JSON document to this file")
    parser.add_argument(
        "--python", default=sys.executable, help="interpreter to import with (default: this one)"
    )
    args = parser.parse_args(argv)
    functions = [fn for fn in FUNCTIONS if not args.function or fn.logical_id in args.function]
    if args.function and len(functions) != len(set(args.function)):
        parser.error(f"unknown function among {args.function}")
    document = run(functions, max(1, args.runs), tracing=not args.no_tracing, python=args.python)
    text = json.dumps(document, indent=2)
    if args.json_out:
        args.json_out.write_text(text)
    print(text)
    print()
    print(render(document))
    return 0


if __name__ == "__main__":
    sys.exit(main())
