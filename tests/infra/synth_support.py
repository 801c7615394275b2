"""Synthesize the CDK app in-process (shared by conftest and test_nag)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import App  # noqa: E402

from infra.app import build_app  # noqa: E402
from infra.stack import LoyaltyStack  # noqa: E402

# Where CDK writes every validation plugin's findings (cx-api VALIDATION_REPORT_FILE).
VALIDATION_REPORT = "validation-report.json"

# Deployment context of the shared synth: what ``make deploy`` would be given in production
# (the address identity; sender_domain and custom limits are synthesized separately).
TEST_SENDER_EMAIL = "loyalty@retailer.example"
TEST_ALARM_EMAIL = "ops@retailer.example"
TEST_CONTEXT: dict[str, Any] = {"sender_email": TEST_SENDER_EMAIL, "alarm_email": TEST_ALARM_EMAIL}
BUNDLING_STACKS = "aws:cdk:bundling-stacks"  # the stacks whose assets are bundled; [] skips bundling


def synthesize(
    outdir: Path,
    customize: Callable[[App], None] | None = None,
    *,
    context: dict[str, Any] | None = None,
    **build_kwargs: Any,
) -> tuple[App, LoyaltyStack, Exception | None]:
    """Build and synth like ``cdk synth``, with ``TEST_CONTEXT`` unless ``context`` is given.
    A validation failure raises from ``app.synth()`` after the assembly (template, validation
    report) is written; it is returned, not raised."""
    # No asset bundling (it would fetch the functions' packages): tests synthesize offline.
    offline = {BUNDLING_STACKS: [], **(TEST_CONTEXT if context is None else context)}
    app, stack = build_app(str(outdir), context=offline, **build_kwargs)
    if customize is not None:
        customize(app)
    try:
        app.synth()
    except Exception as exc:  # noqa: BLE001 - validation failures are asserted by test_nag
        return app, stack, exc
    return app, stack, None
