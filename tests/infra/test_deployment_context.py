"""Deployment settings from CDK context: the sender (address or domain identity), alarm
email, API limits and the Powertools layer; a missing or contradictory setting stops synth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file
from synth_support import TEST_CONTEXT, synthesize
from template_queries import as_list, function_statements, of_type

from infra.app import build_app, main
from infra.definitions import AUTHORIZER, FUNCTIONS

pytestmark = pytest.mark.infra

REPO_ROOT = Path(__file__).resolve().parents[2]
DOMAIN = "shop.example"
DOMAIN_SENDER = f"care@{DOMAIN}"
# A layer version ARN as a deployment in a partition without Powertools' SSM parameter passes it
# (account and version are test values).
LAYER_ARN = (
    "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:9"
)
CUSTOM_CONTEXT: dict[str, Any] = {
    # As the CDK CLI passes -c values: strings.
    "sender_email": DOMAIN_SENDER,
    "sender_domain": DOMAIN,
    "api_rate_limit": "300",
    "api_burst_limit": "600",
    "storefront_rate_limit": "50",
    "powertools_layer_arn": LAYER_ARN,
}


@pytest.fixture(scope="module")
def custom(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], Exception | None]:
    outdir = tmp_path_factory.mktemp("cdk.out.custom")
    _, stack, error = synthesize(outdir, context=CUSTOM_CONTEXT)
    template_file = outdir / stack.template_file
    return template_file, json.loads(template_file.read_text()), error


@pytest.fixture(scope="module")
def resources(custom: tuple[Path, dict[str, Any], Exception | None]) -> dict[str, dict[str, Any]]:
    return custom[1]["Resources"]


def _single(resources: dict[str, dict[str, Any]], resource_type: str) -> dict[str, Any]:
    found = of_type(resources, resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return next(iter(found.values()))


def _env(resources: dict[str, dict[str, Any]], logical_id: str) -> dict[str, Any]:
    return resources[logical_id]["Properties"]["Environment"]["Variables"]


# The variant synthesizes cleanly ------------------------------------------------------------


def test_custom_context_is_nag_and_lint_clean(custom: tuple[Path, dict[str, Any], Exception | None]) -> None:
    template_file, _, error = custom
    assert error is None, str(error)
    matches = lint_file(template_file, config=ManualArgs(regions=["us-east-1"]))
    errors = [
        f"{m.rule.id} {'/'.join(map(str, m.path))}: {m.message}" for m in matches if m.rule.id[0] == "E"
    ]
    assert not errors, "\n".join(errors)


# Sender ---------------------------------------------------------------------------------------


def test_domain_identity_with_easy_dkim(
    custom: tuple[Path, dict[str, Any], Exception | None], resources: dict[str, dict[str, Any]]
) -> None:
    identity = _single(resources, "AWS::SES::EmailIdentity")["Properties"]
    assert identity["EmailIdentity"] == DOMAIN
    assert identity["DkimAttributes"] == {"SigningEnabled": True}
    assert identity["DkimSigningAttributes"] == {"NextSigningKeyLength": "RSA_2048_BIT"}
    outputs = custom[1]["Outputs"]
    assert sorted(k for k in outputs if k.startswith("SenderDkimRecord")) == [
        "SenderDkimRecord1",
        "SenderDkimRecord2",
        "SenderDkimRecord3",
    ]


def test_domain_sender_reaches_the_functions(resources: dict[str, dict[str, Any]]) -> None:
    for fn in FUNCTIONS:
        assert _env(resources, fn.logical_id).get("SENDER_EMAIL") == (
            DOMAIN_SENDER if fn.sends_email else None
        )
        ses = [
            s
            for s in function_statements(resources, fn.logical_id)
            if any(a.startswith("ses:") for a in as_list(s["Action"]))
        ]
        if not fn.sends_email:
            assert not ses
            continue
        (statement,) = ses
        resource_text = json.dumps(statement["Resource"])
        assert f"identity/{DOMAIN_SENDER}" in resource_text  # the sender address itself
        identity_id = next(iter(of_type(resources, "AWS::SES::EmailIdentity")))
        assert identity_id in resource_text  # and the domain identity


def test_no_alarm_subscription_without_alarm_email(resources: dict[str, dict[str, Any]]) -> None:
    assert not of_type(resources, "AWS::SNS::Subscription")


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({}, r"sender_email .*required.*-c sender_email="),
        ({"sender_email": "  "}, r"sender_email .*required"),
        ({"sender_email": "not-an-address"}, r"sender_email is not an email address"),
        ({"sender_email": "care@shop.example", "sender_domain": "other.example"}, r"must be an address at"),
        ({"sender_email": "care@shop.example", "alarm_email": "ops"}, r"alarm_email is not an email address"),
    ],
)
def test_sender_settings_are_required_and_checked(
    tmp_path: Path, context: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build_app(str(tmp_path), context=context, nag=False)


def test_cdk_json_holds_no_sender() -> None:
    context = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    assert not {"sender_email", "sender_domain", "alarm_email"} & set(context)


def test_deploy_refuses_without_a_sender(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``make deploy`` runs ``infra/app.py --check-context`` first; under the CDK CLI the app
    itself refuses too. Both say how to pass the sender."""
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.cdk.json
    assert main(["--check-context"]) == 2
    assert "-c sender_email=" in capsys.readouterr().err
    assert main(["--check-context", "-c", "sender_email=loyalty@shop.example"]) == 0
    monkeypatch.setenv("CDK_OUTDIR", str(tmp_path / "cdk.out"))
    assert main([]) == 2
    assert "-c sender_email=" in capsys.readouterr().err

    makefile = (REPO_ROOT / "Makefile").read_text()
    recipe = makefile.split("\ndeploy:", 1)[1].split("\n\n", 1)[0]
    check, deploy = recipe.index("--check-context"), recipe.index("aws-cdk@2 deploy")
    assert check < deploy, "the context check must run before the CLI"


# Limits ---------------------------------------------------------------------------------------


def test_stage_throttle_from_context(resources: dict[str, dict[str, Any]]) -> None:
    stage = _single(resources, "AWS::ApiGateway::Stage")
    (settings,) = stage["Properties"]["MethodSettings"]
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (300, 600)


def test_storefront_default_and_stage_rate_reach_the_functions(resources: dict[str, dict[str, Any]]) -> None:
    for fn in FUNCTIONS:
        env = _env(resources, fn.logical_id)
        if fn is AUTHORIZER or fn.routes:
            assert env["STOREFRONT_RATE_LIMIT"] == "50", fn.logical_id
    assert _env(resources, "AdminApi")["API_RATE_LIMIT"] == "300"


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"api_rate_limit": "50"}, r"storefront_rate_limit \(100\) exceeds api_rate_limit \(50\)"),
        ({"api_rate_limit": 500, "storefront_rate_limit": 501}, r"exceeds api_rate_limit"),
        ({"storefront_rate_limit": "0"}, r"storefront_rate_limit must be at least 1"),
        ({"api_rate_limit": 20_000, "storefront_rate_limit": 10_001}, r"between 1 and 10000"),
        ({"api_burst_limit": "lots"}, r"api_burst_limit must be a whole number"),
        ({"api_rate_limit": True}, r"api_rate_limit must be a whole number"),
    ],
)
def test_limits_that_do_not_fit_stop_synth(tmp_path: Path, limits: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_app(str(tmp_path), context={**TEST_CONTEXT, **limits}, nag=False)


# Powertools layer -----------------------------------------------------------------------------


def test_layer_arn_from_context(
    custom: tuple[Path, dict[str, Any], Exception | None], resources: dict[str, dict[str, Any]]
) -> None:
    parameters = custom[1].get("Parameters", {}).values()
    assert not [p for p in parameters if str(p.get("Default", "")).startswith("/aws/service/powertools/")]
    for fn in FUNCTIONS:
        assert LAYER_ARN in resources[fn.logical_id]["Properties"]["Layers"], fn.logical_id


@pytest.mark.parametrize(
    ("context", "message"),
    [
        (
            {"powertools_layer_arn": "arn:aws:lambda:eu-west-1:123456789012:layer:Other:1"},
            r"powertools_layer_arn",
        ),
        ({"powertoolsLayerVersion": 27}, r"powertoolsLayerVersion is no longer read"),
    ],
)
def test_layer_settings_are_checked(tmp_path: Path, context: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_app(str(tmp_path), context={**TEST_CONTEXT, **context}, nag=False)
