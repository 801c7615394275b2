"""The capacity meter behind `make bench`: item sizes and unit prices follow
DynamoDB's published rules, and only calls made inside a handler count."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bench.meter import Meter, item_size, read_units, write_units
from infra.local.runtime import current_function

pytestmark = pytest.mark.integration


def test_item_sizes_follow_the_documented_rules() -> None:
    assert item_size({"name": {"S": "abc"}}) == 4 + 3
    assert item_size({"n": {"N": "123"}}) == 1 + 3  # 3 significant digits: 2 bytes + 1
    assert item_size({"n": {"N": "100.000"}}) == 1 + 2  # trailing zeros are not significant
    assert item_size({"ok": {"BOOL": True}, "no": {"NULL": True}}) == 2 + 1 + 2 + 1
    assert item_size({"m": {"M": {"a": {"S": "xy"}}}}) == 1 + 3 + 1 + 1 + 2
    assert item_size({"l": {"L": [{"S": "a"}, {"S": "b"}]}}) == 1 + 3 + 2 * (1 + 1)
    assert (read_units(4096, False), read_units(4097, False), read_units(0, True)) == (0.5, 1.0, 1.0)
    assert (write_units(1024), write_units(1025), write_units(0)) == (1, 2, 1)


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    import boto3
    from moto import mock_aws

    with mock_aws():
        session = boto3.session.Session(region_name="eu-central-1")
        client = session.client("dynamodb")
        client.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "g", "AttributeType": "S"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "gsi",
                    "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        meter = Meter(session)
        meter.install()
        try:
            yield client, meter
        finally:
            meter.uninstall()


def test_requests_are_priced_from_the_items_written_and_read(dynamodb: Any) -> None:
    client, meter = dynamodb
    big = {"pk": {"S": "a"}, "blob": {"S": "x" * 1500}}
    client.put_item(TableName="t", Item=big)  # outside any handler: not counted
    token = current_function.set("Fn")
    try:
        with meter.window() as usage:
            client.put_item(TableName="t", Item={"pk": {"S": "b"}, "g": {"S": "i"}})
            client.update_item(
                TableName="t",
                Key={"pk": {"S": "a"}},
                UpdateExpression="SET c = :c",
                ExpressionAttributeValues={":c": {"N": "1"}},
            )
            client.transact_write_items(
                TransactItems=[{"Put": {"TableName": "t", "Item": {"pk": {"S": "c"}}}}]
            )
            client.get_item(TableName="t", Key={"pk": {"S": "a"}}, ConsistentRead=True)
            client.batch_get_item(RequestItems={"t": {"Keys": [{"pk": {"S": "a"}}, {"pk": {"S": "zz"}}]}})
    finally:
        current_function.reset(token)
    fn = usage["Fn"]
    assert dict(fn.calls) == {
        "PutItem": 1,
        "UpdateItem": 1,
        "TransactWriteItems": 1,
        "GetItem": 1,
        "BatchGetItem": 1,
    }
    # put (1) + update of a 1.5 KB item (2) + transactional put (2 x 1)
    assert fn.write_units == 1 + 2 + 2
    assert fn.index_write_units == 1  # only the item carrying the index key enters the index
    # consistent get of 1.5 KB (1) + batch: one found, eventually consistent (0.5) and one miss (0.5)
    assert fn.read_units == 1 + 0.5 + 0.5
    assert (fn.items_read, fn.items_written) == (2, 3)
    assert list(usage) == ["Fn"]
