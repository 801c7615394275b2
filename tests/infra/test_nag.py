"""cdk-nag AwsSolutions + Serverless packs: no unacknowledged finding, every acknowledgement reasoned.

How findings surface (aws-cdk-lib 2.275, cdk-nag 3.0.2): the packs are CDK validation
plugins (``Validations.of(app).add_plugins``). After ``app.synth()`` has written the
assembly, CDK runs them; each pack walks the construct tree and reports every finding
that no ``Validations.of(construct).acknowledge(...)`` on the resource or an ancestor
covers. CDK writes all plugins' findings to ``<outdir>/validation-report.json``
(``pluginReports[].violations[]`` with ruleName, severity, violatingConstructs) and,
when a report holds an error, ``app.synth()`` raises ``ValidationFailed`` (in pytest the
message contains the whole report). Warnings only reach the report, so both are checked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from aws_cdk import Acknowledgment, App, Stack, Validations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from synth_support import VALIDATION_REPORT, synthesize

import infra.constructs.nag as nag_helper

if TYPE_CHECKING:
    from tests.infra.conftest import Synth

pytestmark = pytest.mark.infra

RULE_PREFIXES = ("AwsSolutions-", "Serverless-")


def violations(outdir: Path) -> list[tuple[str, str, str, str, str]]:
    """(plugin, severity, rule, construct path, description) of every finding in the report;
    a plugin that crashed counts as a finding too."""
    report: dict[str, Any] = json.loads((outdir / VALIDATION_REPORT).read_text())
    found = []
    for plugin in report["pluginReports"]:
        if (plugin.get("metadata") or {}).get("error"):
            found.append((plugin["pluginName"], "error", "PluginFailed", "", plugin["metadata"]["error"]))
        for violation in plugin.get("violations", []):
            for construct in violation.get("violatingConstructs", []):
                found.append(
                    (
                        plugin["pluginName"],
                        violation["severity"],
                        violation["ruleName"],
                        construct.get("constructPath") or "",
                        violation.get("description", ""),
                    )
                )
    return found


def findings(outdir: Path) -> list[str]:
    return [f"{p} {sev} {rule} at {path}: {desc}" for p, sev, rule, path, desc in violations(outdir)]


def acknowledgements(stack: Stack) -> list[tuple[str, str, str]]:
    """(construct path, rule id, reason) of every acknowledgement in the stack."""
    key = Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    found = []
    for construct in [stack, *stack.node.find_all()]:
        for entry in construct.node.metadata:
            if entry.type == key:
                for rule_id, reason in dict(entry.data).items():
                    found.append((construct.node.path, rule_id, reason))
    return found


def test_synth_raises_no_validation_error(synth: Synth) -> None:
    assert synth.synth_error is None, str(synth.synth_error)


def test_validation_report_has_no_unacknowledged_findings(synth: Synth) -> None:
    assert (synth.outdir / VALIDATION_REPORT).is_file()
    found = findings(synth.outdir)
    assert not found, "\n".join(found)


def test_every_acknowledgement_has_a_reason(synth: Synth) -> None:
    acks = acknowledgements(synth.stack)
    assert acks, "expected the documented acknowledgements"
    for path, rule_id, reason in acks:
        print(f"{path}: {rule_id} -- {reason}")
        assert isinstance(reason, str)
        assert len(reason.strip()) >= 20, f"{path}: {rule_id} needs a real reason"
        assert rule_id.removeprefix("Annotation::").startswith(RULE_PREFIXES), rule_id
        # No blanket acknowledgements on the app or the whole stack.
        assert path.count("/") >= 1, f"{rule_id} acknowledged on the whole stack"


def test_a_new_finding_fails_validation(tmp_path: Path) -> None:
    """build_app attaches both packs and the report/exception catch what they flag."""

    def add_violations(app: App) -> None:
        stack = Stack.of(app.node.find_child("LoyaltyStack"))
        sqs.Queue(stack, "NagCanaryQueue", encryption=sqs.QueueEncryption.UNENCRYPTED)
        logs.LogGroup(stack, "NagCanaryLogs", retention=logs.RetentionDays.INFINITE)

    _, _, error = synthesize(tmp_path, customize=add_violations)
    assert error is not None, "an unencrypted, non-TLS queue must fail synth"
    found = findings(tmp_path)
    canary_queue = [f for f in found if "NagCanaryQueue" in f]
    assert any(" error AwsSolutions-SQS4 " in f for f in canary_queue), found
    assert any("Serverless-SQSRedrivePolicy" in f for f in canary_queue), found
    # Warning-level findings are in the report too (with cdk-nag 3.0.2 they also fail synth).
    assert any(
        " warning Serverless-CloudWatchLogGroupRetentionPeriod " in f for f in found if "NagCanaryLogs" in f
    ), found
    assert not [f for f in found if "NagCanary" not in f], "only the canaries may be flagged"


def test_every_acknowledgement_is_still_needed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Synth with acknowledgements recorded instead of applied: each one must match a finding
    on its construct or below, so no stale acknowledgement hides a future finding."""
    recorded: list[tuple[str, str]] = []

    class RecordingValidations:
        def __init__(self, scope: Any) -> None:
            self.scope = scope

        @classmethod
        def of(cls, scope: Any) -> RecordingValidations:
            return cls(scope)

        def acknowledge(self, *rules: Acknowledgment) -> None:
            recorded.extend((self.scope.node.path, rule.id) for rule in rules)

    monkeypatch.setattr(nag_helper, "Validations", RecordingValidations)
    synthesize(tmp_path)
    assert recorded
    found = {(rule, path) for _, _, rule, path, _ in violations(tmp_path)}
    stale = [
        f"{rule} at {scope}"
        for scope, rule in recorded
        if not any(r == rule and (p == scope or p.startswith(scope + "/")) for r, p in found)
    ]
    assert not stale, "acknowledged but never reported:\n" + "\n".join(stale)
