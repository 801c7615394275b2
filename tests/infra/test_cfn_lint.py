"""cfn-lint over every synthesized template: no errors (E*); warnings are printed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cfnlint.api import ManualArgs, lint_file

if TYPE_CHECKING:
    from tests.infra.conftest import Synth

pytestmark = pytest.mark.infra

# The stack is environment-agnostic; lint for the program's home region and us-east-1.
REGIONS = ["eu-central-1", "us-east-1"]


def _lint(template: Path) -> tuple[list[str], list[str]]:
    matches = lint_file(template, config=ManualArgs(regions=REGIONS))
    errors = [
        f"{m.rule.id} {'/'.join(map(str, m.path))}: {m.message}" for m in matches if m.rule.id[0] == "E"
    ]
    warnings = [
        f"{m.rule.id} {'/'.join(map(str, m.path))}: {m.message}" for m in matches if m.rule.id[0] == "W"
    ]
    return errors, warnings


def test_synthesized_templates_have_no_cfn_lint_errors(synth: Synth) -> None:
    templates = sorted(synth.outdir.glob("*.template.json"))
    assert templates, "synth produced no templates"
    all_errors: list[str] = []
    for template in templates:
        errors, warnings = _lint(template)
        for warning in warnings:
            print(f"cfn-lint warning in {template.name}: {warning}")
        all_errors += [f"{template.name}: {e}" for e in errors]
    assert not all_errors, "\n".join(all_errors)


def test_cfn_lint_reports_errors(tmp_path: Path) -> None:
    """The linter is live: a broken template yields an E-level finding."""
    broken = tmp_path / "broken.template.json"
    broken.write_text(
        json.dumps(
            {
                "Resources": {
                    "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {"BillingMode": "FREE"}},
                }
            }
        )
    )
    errors, _ = _lint(broken)
    assert errors
