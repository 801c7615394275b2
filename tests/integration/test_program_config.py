"""The program configuration is read at run time from SSM Parameter Store (cached)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Env

pytestmark = pytest.mark.integration


def _estimate(aws: Env) -> int:
    order = {"currency": "CNY", "total": "100.00", "items": []}
    answer = aws.call("POST", "/v1/points/estimate", {"member_id": "m-1", "order": order}).json()
    return int(answer["order_points"])


def test_functions_read_the_configuration_from_the_parameter(aws: Env) -> None:
    from loyalty.program import clear_program_cache

    ssm = aws.session.client("ssm")
    name = aws.env["PROGRAM_CONFIG_PARAMETER"]
    stored = json.loads(ssm.get_parameter(Name=name)["Parameter"]["Value"])
    assert stored["currency"] == "CNY"
    assert _estimate(aws) == 100
    stored["points"]["points_per_unit"] = "3"
    ssm.put_parameter(Name=name, Value=json.dumps(stored), Type="String", Overwrite=True)
    assert _estimate(aws) == 100  # cached (five minutes in Lambda)
    clear_program_cache()
    assert _estimate(aws) == 300
