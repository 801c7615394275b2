"""The unsubscribe signing key: one Secrets Manager secret, encrypted with the data key,
readable by exactly the functions that use it, named the same way in the template and
the local stack; the functions that email links get the stage URL."""

from __future__ import annotations

import json
from typing import Any

import pytest
from template_queries import as_list, of_type, referenced_ids, role_of_function

from infra.definitions import FUNCTIONS, needs_public_api_url, required_settings

pytestmark = pytest.mark.infra


def _secret(resources: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    secrets = of_type(resources, "AWS::SecretsManager::Secret")
    assert len(secrets) == 1
    return next(iter(secrets.items()))


def _reads_secret(resources: dict[str, dict[str, Any]], role_id: str, secret_id: str) -> bool:
    for policy in of_type(resources, "AWS::IAM::Policy").values():
        props = policy["Properties"]
        if {"Ref": role_id} not in props["Roles"]:
            continue
        for statement in as_list(props["PolicyDocument"]["Statement"]):
            actions = as_list(statement["Action"])
            if "secretsmanager:GetSecretValue" in actions and secret_id in referenced_ids(
                statement["Resource"]
            ):
                return True
    return False


def test_one_generated_secret_encrypted_with_the_data_key(template_dict: dict[str, Any]) -> None:
    resources = template_dict["Resources"]
    _, secret = _secret(resources)
    props = secret["Properties"]
    assert props["GenerateSecretString"]["PasswordLength"] == 64
    assert props["GenerateSecretString"]["ExcludePunctuation"] is True
    (key_id,) = of_type(resources, "AWS::KMS::Key")
    assert referenced_ids(props["KmsKeyId"]) == {key_id}
    assert secret["DeletionPolicy"] == "Retain"


def test_exactly_the_functions_using_the_key_may_read_it(template_dict: dict[str, Any]) -> None:
    resources = template_dict["Resources"]
    secret_id, _ = _secret(resources)
    users = {fn.logical_id for fn in FUNCTIONS if fn.uses_unsubscribe_key}
    assert users == {"MembersApi", "CareRules"}
    for fn in FUNCTIONS:
        role = role_of_function(resources, fn.logical_id)
        assert _reads_secret(resources, role, secret_id) == (fn.logical_id in users), fn.logical_id
        env = resources[fn.logical_id]["Properties"]["Environment"]["Variables"]
        assert ("UNSUBSCRIBE_SECRET" in env) == (fn.logical_id in users)
        assert ("UNSUBSCRIBE_SECRET" in required_settings(fn)) == (fn.logical_id in users)


def test_functions_emailing_links_get_the_stage_url(template_dict: dict[str, Any]) -> None:
    resources = template_dict["Resources"]
    (api_id,) = of_type(resources, "AWS::ApiGateway::RestApi")
    (stage_id,) = of_type(resources, "AWS::ApiGateway::Stage")
    for fn in FUNCTIONS:
        env = resources[fn.logical_id]["Properties"]["Environment"]["Variables"]
        if not needs_public_api_url(fn):
            assert "PUBLIC_API_URL" not in env, fn.logical_id
            continue
        assert fn.logical_id == "CareRules" and not fn.routes  # no route: no dependency cycle
        url = env["PUBLIC_API_URL"]
        assert referenced_ids(url) >= {api_id, stage_id}
        assert json.dumps(url).startswith('{"Fn::Join": ["", ["https://"')


def test_the_local_stack_creates_the_secret_the_functions_name(aws: Any) -> None:
    from infra.definitions import UNSUBSCRIBE_SECRET_NAME

    assert aws.env["UNSUBSCRIBE_SECRET"] == UNSUBSCRIBE_SECRET_NAME
    value = aws.session.client("secretsmanager").get_secret_value(SecretId=UNSUBSCRIBE_SECRET_NAME)
    assert len(value["SecretString"]) == 64
    assert aws.env["PUBLIC_API_URL"].startswith("http://127.0.0.1:")
