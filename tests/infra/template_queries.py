"""Small queries over a synthesized CloudFormation template (plain dicts)."""

from __future__ import annotations

from typing import Any

from infra.definitions import FunctionDef, dead_letter_queue_name
from infra.stack import STACK_NAME

Resources = dict[str, dict[str, Any]]


def of_type(resources: Resources, resource_type: str) -> Resources:
    return {k: v for k, v in resources.items() if v["Type"] == resource_type}


def referenced_ids(value: Any) -> set[str]:
    """Logical IDs referenced anywhere in ``value`` via Ref / Fn::GetAtt / Fn::Sub."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt" and isinstance(inner, list):
                found.add(inner[0])
            else:
                found |= referenced_ids(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= referenced_ids(inner)
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_of_function(resources: Resources, function_id: str) -> str:
    role = resources[function_id]["Properties"]["Role"]
    return role["Fn::GetAtt"][0]


def role_statements(resources: Resources, role_id: str) -> list[dict[str, Any]]:
    """Every statement of the role's inline policies and of AWS::IAM::Policy attached to it."""
    statements: list[dict[str, Any]] = []
    for policy in resources[role_id]["Properties"].get("Policies", []):
        statements += as_list(policy["PolicyDocument"]["Statement"])
    for policy in of_type(resources, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"].get("Roles", []):
            statements += as_list(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def function_statements(resources: Resources, function_id: str) -> list[dict[str, Any]]:
    return role_statements(resources, role_of_function(resources, function_id))


def actions_on(statements: list[dict[str, Any]], logical_id: str) -> set[str]:
    """Allowed actions of statements whose resources reference ``logical_id``."""
    allowed: set[str] = set()
    for statement in statements:
        if statement["Effect"] == "Allow" and logical_id in referenced_ids(statement.get("Resource")):
            allowed |= set(as_list(statement["Action"]))
    return allowed


def all_actions(statements: list[dict[str, Any]]) -> set[str]:
    allowed: set[str] = set()
    for statement in statements:
        if statement["Effect"] == "Allow":
            allowed |= set(as_list(statement["Action"]))
    return allowed


def queue_id(resources: Resources, fn: FunctionDef) -> str:
    """The logical ID of ``fn``'s dead-letter queue, found by its physical name."""
    name = f"{STACK_NAME}-{dead_letter_queue_name(fn)}"
    matches = [
        k
        for k, v in of_type(resources, "AWS::SQS::Queue").items()
        if v["Properties"].get("QueueName") == name
    ]
    assert len(matches) == 1, f"expected exactly one queue named {name}, found {matches}"
    return matches[0]


def api_resource_path(resources: Resources, resource_id: str) -> str:
    """Rebuild ``/v1/members/{member_id}`` from the AWS::ApiGateway::Resource parent chain."""
    parts: list[str] = []
    current: str | None = resource_id
    while current is not None:
        props = resources[current]["Properties"]
        parts.append(props["PathPart"])
        parent = props["ParentId"]
        current = parent.get("Ref")  # Fn::GetAtt RootResourceId ends the chain
    return "/" + "/".join(reversed(parts))
