"""One CDK synth per test session, shared by every infra test.

The app is synthesized exactly like ``cdk synth`` does (same cdk.json context, cdk-nag
packs attached as validation plugins). A validation failure raises from ``app.synth()``
*after* the assembly is written, so the error is kept for ``test_nag`` and the other
tests still get the template.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# Before the first jsii import starts node: keep its Node-version banner out of the output.
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import App  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402
from synth_support import VALIDATION_REPORT, synthesize  # noqa: E402

from infra.stack import LoyaltyStack  # noqa: E402


@dataclass
class Synth:
    app: App
    stack: LoyaltyStack
    outdir: Path
    template: Template
    template_dict: dict[str, Any]
    synth_error: Exception | None

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.template_dict["Resources"]

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == resource_type}

    def validation_report(self) -> dict[str, Any]:
        return json.loads((self.outdir / VALIDATION_REPORT).read_text())


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synth]:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app, stack, error = synthesize(outdir)
    template_file = outdir / stack.template_file
    if not template_file.exists():
        raise RuntimeError(f"synth wrote no template: {error}")
    template_dict = json.loads(template_file.read_text())
    yield Synth(
        app=app,
        stack=stack,
        outdir=outdir,
        template=Template.from_json(template_dict),
        template_dict=template_dict,
        synth_error=error,
    )


@pytest.fixture(scope="session")
def template(synth: Synth) -> Template:
    return synth.template


@pytest.fixture(scope="session")
def template_dict(synth: Synth) -> dict[str, Any]:
    return synth.template_dict
