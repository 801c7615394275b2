"""The care event bus: one EventBridge bus, which exactly the functions that publish care
rules' event actions may put events on, named in their environment; the local stack
creates a bus of the name the functions use."""

from __future__ import annotations

from typing import Any

import pytest
from template_queries import as_list, of_type, referenced_ids, role_of_function

from infra.definitions import CARE_EVENT_BUS_NAME, FUNCTIONS

pytestmark = pytest.mark.infra


def _puts_events(resources: dict[str, dict[str, Any]], role_id: str, bus_id: str) -> bool:
    for policy in of_type(resources, "AWS::IAM::Policy").values():
        props = policy["Properties"]
        if {"Ref": role_id} not in props["Roles"]:
            continue
        for statement in as_list(props["PolicyDocument"]["Statement"]):
            if "events:PutEvents" in as_list(statement["Action"]) and bus_id in referenced_ids(
                statement["Resource"]
            ):
                return True
    return False


def test_only_the_publishers_may_put_events_on_the_care_bus(template_dict: dict[str, Any]) -> None:
    resources = template_dict["Resources"]
    ((bus_id, bus),) = of_type(resources, "AWS::Events::EventBus").items()
    assert bus["Properties"]["Name"] == "LoyaltyStack-care"
    publishers = {fn.logical_id for fn in FUNCTIONS if fn.publishes_care_events}
    assert publishers == {"CareRules"}
    for fn in FUNCTIONS:
        role = role_of_function(resources, fn.logical_id)
        assert _puts_events(resources, role, bus_id) == (fn.logical_id in publishers), fn.logical_id
        env = resources[fn.logical_id]["Properties"]["Environment"]["Variables"]
        assert ("CARE_EVENT_BUS" in env) == (fn.logical_id in publishers)


def test_the_local_stack_creates_the_bus_the_functions_name(aws: Any) -> None:
    names = [b["Name"] for b in aws.session.client("events").list_event_buses()["EventBuses"]]
    assert CARE_EVENT_BUS_NAME in names
    assert aws.env["CARE_EVENT_BUS"] == CARE_EVENT_BUS_NAME
