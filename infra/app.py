"""CDK entry point: ``cdk synth``/``cdk deploy`` (via cdk.json) or ``python infra/app.py``.

Synthesizes offline: no AWS calls, no lookups, no Docker bundling. The cdk-nag
AwsSolutions and Serverless packs run as CDK validation plugins; findings land in
``<outdir>/validation-report.json`` and any unacknowledged finding (with cdk-nag 3.0.2
warnings too) makes ``app.synth()`` raise ValidationFailed.

Deployment settings are CDK context (``infra/constructs/context.py``); ``sender_email`` is
required. Under the CDK CLI a missing or invalid setting stops synthesis with a message
saying how to pass it. A plain ``python infra/app.py [-c name=value ...]`` (``make synth``) is
an offline check and fills a missing sender with an undeliverable placeholder.
``python infra/app.py --check-context [-c name=value ...]`` only validates the settings,
as the CLI would see them (``make deploy`` runs it first).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
# ``python infra/app.py`` puts infra/ first on sys.path, where infra/constructs would shadow
# the ``constructs`` library: import from the repository root instead.
_INFRA_DIR = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _INFRA_DIR]
# The program configuration is validated at synth time with the shared layer's model.
for _path in (REPO_ROOT, REPO_ROOT / "layers" / "common" / "python"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from aws_cdk import App, Validations  # noqa: E402
from cdk_nag import AwsSolutionsChecks, ServerlessChecks  # noqa: E402

from infra.constructs.context import SENDER_EMAIL, ContextError, DeploymentContext  # noqa: E402
from infra.stack import STACK_NAME, LoyaltyStack  # noqa: E402

# The sender of an offline ``python infra/app.py`` without ``sender_email``: the reserved
# .invalid domain (RFC 2606) can never be verified, so such a template cannot send mail.
OFFLINE_SENDER_EMAIL = "sender@example.invalid"
CHECK_CONTEXT_FLAG = "--check-context"


def cdk_json_context() -> dict[str, Any]:
    """The ``context`` of cdk.json, so an in-process App (tests) synthesizes with the same
    feature flags as ``cdk synth``. The CLI's own context still takes precedence."""
    cdk_json = REPO_ROOT / "cdk.json"
    if not cdk_json.exists():
        return {}
    return dict(json.loads(cdk_json.read_text()).get("context", {}))


def _json_context(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    # cdk.context.json holds context values only; cdk.json and ~/.cdk.json hold them under "context".
    return dict(data if path.name == "cdk.context.json" else data.get("context", {}))


def cli_visible_context(extra: dict[str, Any]) -> dict[str, Any]:
    """The context the CDK CLI hands the app: ~/.cdk.json, cdk.json, cdk.context.json, then ``-c``."""
    merged: dict[str, Any] = {}
    for path in (Path.home() / ".cdk.json", REPO_ROOT / "cdk.json", REPO_ROOT / "cdk.context.json"):
        merged.update(_json_context(path))
    merged.update(extra)
    return merged


def parse_context_args(args: list[str]) -> dict[str, str]:
    """``-c name=value`` / ``--context name=value`` pairs, as the CDK CLI takes them."""
    context: dict[str, str] = {}
    pending = list(args)
    while pending:
        arg = pending.pop(0)
        if arg == CHECK_CONTEXT_FLAG:
            continue
        if arg in ("-c", "--context"):
            if not pending:
                raise ContextError(f"{arg} needs a name=value argument")
            arg = pending.pop(0)
        elif arg.startswith("--context="):
            arg = arg.removeprefix("--context=")
        else:
            raise ContextError(f"unexpected argument {arg!r}; pass settings as -c name=value")
        name, sep, value = arg.partition("=")
        if not sep or not name:
            raise ContextError(f"expected name=value, got {arg!r}")
        context[name] = value
    return context


def add_nag_packs(app: App) -> None:
    """cdk-nag 3 packs run as CDK validation plugins (not Aspects)."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))


def build_app(
    outdir: str | None = None, *, nag: bool = True, context: dict[str, Any] | None = None
) -> tuple[App, LoyaltyStack]:
    app = App(outdir=outdir, context={**cdk_json_context(), **(context or {})})
    stack = LoyaltyStack(app, STACK_NAME)
    if nag:
        add_nag_packs(app)
    return app, stack


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    under_cli = bool(os.environ.get("CDK_OUTDIR"))
    try:
        extra: dict[str, Any] = parse_context_args(args)
        if CHECK_CONTEXT_FLAG in args:
            DeploymentContext.from_mapping(cli_visible_context(extra))
            return 0
        if not under_cli and SENDER_EMAIL not in {**cdk_json_context(), **extra}:
            print(
                f"infra/app.py: offline synth with the placeholder sender {OFFLINE_SENDER_EMAIL}; "
                f"a deployment needs -c {SENDER_EMAIL}=<address>",
                file=sys.stderr,
            )
            extra[SENDER_EMAIL] = OFFLINE_SENDER_EMAIL
        if not under_cli:  # an offline check bundles no asset (the CLI bundles what it deploys)
            extra.setdefault("aws:cdk:bundling-stacks", [])
        # Under the CDK CLI, CDK_OUTDIR decides; a plain ``python infra/app.py`` writes ./cdk.out.
        app, _ = build_app(None if under_cli else str(REPO_ROOT / "cdk.out"), context=extra)
    except ContextError as err:
        print(f"infra/app.py: {err}", file=sys.stderr)
        return 2
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
