"""The local stack (``infra/local``) and the synthesized template describe the same resources."""

from __future__ import annotations

from typing import Any

import pytest
from template_queries import of_type

from infra.definitions import FUNCTIONS, TABLES, TableDef
from infra.local.resources import create_table_kwargs, local_queue_names
from infra.stack import STACK_NAME

pytestmark = pytest.mark.infra


def _by_name(items: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {item[key]: item for item in items}


def test_same_tables(template_dict: dict[str, Any]) -> None:
    assert set(of_type(template_dict["Resources"], "AWS::DynamoDB::Table")) == {t.logical_id for t in TABLES}


@pytest.mark.parametrize("table", TABLES, ids=[t.logical_id for t in TABLES])
def test_table_matches_local_create_table(template_dict: dict[str, Any], table: TableDef) -> None:
    local = create_table_kwargs(table, "x")
    cfn = template_dict["Resources"][table.logical_id]["Properties"]

    assert cfn["KeySchema"] == local["KeySchema"]
    assert _by_name(cfn["AttributeDefinitions"], "AttributeName") == _by_name(
        local["AttributeDefinitions"], "AttributeName"
    )
    assert cfn["BillingMode"] == local["BillingMode"]

    cfn_indexes = _by_name(cfn.get("GlobalSecondaryIndexes", []), "IndexName")
    local_indexes = _by_name(local.get("GlobalSecondaryIndexes", []), "IndexName")
    assert cfn_indexes.keys() == local_indexes.keys()
    for name, local_index in local_indexes.items():
        assert cfn_indexes[name]["KeySchema"] == local_index["KeySchema"]
        assert cfn_indexes[name]["Projection"] == local_index["Projection"]

    local_stream = local.get("StreamSpecification")
    cfn_stream = cfn.get("StreamSpecification")
    if local_stream is None:
        assert cfn_stream is None
    else:
        assert local_stream["StreamEnabled"] is True
        assert cfn_stream == {"StreamViewType": local_stream["StreamViewType"]}

    # infra/local/resources.provision enables TTL on table.ttl_attribute.
    cfn_ttl = cfn.get("TimeToLiveSpecification")
    if table.ttl_attribute is None:
        assert cfn_ttl is None
    else:
        assert cfn_ttl == {"AttributeName": table.ttl_attribute, "Enabled": True}


def test_same_dead_letter_queues(template_dict: dict[str, Any]) -> None:
    queues = of_type(template_dict["Resources"], "AWS::SQS::Queue")
    prefix = f"{STACK_NAME}-"
    names = [q["Properties"]["QueueName"] for q in queues.values()]
    assert all(name.startswith(prefix) for name in names)
    assert sorted(name.removeprefix(prefix) for name in names) == sorted(local_queue_names())
    assert len(local_queue_names()) == len(set(local_queue_names()))


def test_same_schedules(template_dict: dict[str, Any]) -> None:
    schedules = of_type(template_dict["Resources"], "AWS::Scheduler::Schedule")
    in_template = {
        (
            s["Properties"]["Name"].removeprefix(f"{STACK_NAME}-"),
            s["Properties"]["ScheduleExpression"],
            s["Properties"]["ScheduleExpressionTimezone"],
        )
        for s in schedules.values()
    }
    defined = {(s.name, s.expression, s.time_zone) for fn in FUNCTIONS for s in fn.schedules}
    assert len(schedules) == len(defined)
    assert in_template == defined
