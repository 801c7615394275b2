"""CDK entry point: ``cdk synth`` (via cdk.json) or ``python infra/app.py``.

Synthesizes offline: no AWS calls, no lookups, no Docker bundling. The cdk-nag
AwsSolutions and Serverless packs run as CDK validation plugins; findings land in
``<outdir>/validation-report.json`` and any unacknowledged finding (with cdk-nag 3.0.2
warnings too) makes ``app.synth()`` raise ValidationFailed.
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

from infra.stack import STACK_NAME, LoyaltyStack  # noqa: E402


def cdk_json_context() -> dict[str, Any]:
    """The ``context`` of cdk.json, so an in-process App (tests) synthesizes with the same
    feature flags as ``cdk synth``. The CLI's own context still takes precedence."""
    cdk_json = REPO_ROOT / "cdk.json"
    if not cdk_json.exists():
        return {}
    return dict(json.loads(cdk_json.read_text()).get("context", {}))


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


def main() -> None:
    # Under the CDK CLI, CDK_OUTDIR decides; a plain ``python infra/app.py`` writes ./cdk.out.
    app, _ = build_app(None if os.environ.get("CDK_OUTDIR") else str(REPO_ROOT / "cdk.out"))
    app.synth()


if __name__ == "__main__":
    main()
