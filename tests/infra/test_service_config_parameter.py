"""The service desk's configuration (config/service.yaml) is shipped as one SSM parameter,
the way the default care rules are: validated at synth, named after the stack, and
readable by exactly the functions whose definition sets ``reads_service_config``."""

from __future__ import annotations

from typing import Any

import pytest
from template_queries import as_list, function_statements, of_type

from infra.definitions import FUNCTIONS, SERVICE_CONFIG_PARAMETER, function_environment, service_config_json

pytestmark = pytest.mark.infra

STANDARD_TIER_BYTES = 4096


@pytest.fixture(scope="module")
def resources(template_dict: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return template_dict["Resources"]


def _service_parameter(resources: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    found = {
        k: v
        for k, v in of_type(resources, "AWS::SSM::Parameter").items()
        if str(v["Properties"]["Name"]).endswith(SERVICE_CONFIG_PARAMETER)
    }
    assert len(found) == 1, sorted(found)
    return next(iter(found.items()))


def test_the_service_config_is_a_standard_parameter_named_after_the_stack(
    resources: dict[str, dict[str, Any]],
) -> None:
    _, parameter = _service_parameter(resources)
    assert parameter["Properties"]["Name"] == "/LoyaltyStack/loyalty/service-config"
    assert parameter["Properties"]["Value"] == service_config_json()
    assert parameter["Properties"]["Tier"] == "Standard"
    assert len(service_config_json().encode()) < STANDARD_TIER_BYTES


def test_only_the_ticket_functions_read_the_service_config(resources: dict[str, dict[str, Any]]) -> None:
    parameter_id, _ = _service_parameter(resources)
    readers = [fn.logical_id for fn in FUNCTIONS if fn.reads_service_config]
    assert readers == ["TicketsApi", "TicketsEvents", "TicketsEscalation"]
    for fn in FUNCTIONS:
        reads = [
            s
            for s in function_statements(resources, fn.logical_id)
            if "ssm:GetParameter" in as_list(s["Action"]) and parameter_id in str(s["Resource"])
        ]
        assert bool(reads) == fn.reads_service_config, fn.logical_id
        variables = resources[fn.logical_id]["Properties"]["Environment"]["Variables"]
        if fn.reads_service_config:
            assert variables["SERVICE_CONFIG_PARAMETER"] == {"Ref": parameter_id}
        else:
            assert "SERVICE_CONFIG_PARAMETER" not in variables


def test_the_environment_names_the_parameter_only_for_its_readers() -> None:
    for fn in FUNCTIONS:
        env = function_environment(fn, sender_email="x@example.com", service_config_parameter="/s/p")
        assert (env.get("SERVICE_CONFIG_PARAMETER") == "/s/p") == fn.reads_service_config, fn.logical_id
