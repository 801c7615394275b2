"""The local stack's faster moto Query answers exactly what moto's own does,
for table and index queries, across puts, updates that move an item between
index partitions, deletes, re-puts and transactions."""

from __future__ import annotations

import random
from typing import Any

import pytest

from infra.local import moto_patch

pytestmark = pytest.mark.integration


def _queries(client: Any) -> list[list[dict[str, Any]]]:
    answers = []
    for shard in range(4):
        for forward in (True, False):
            answers.append(
                client.query(
                    TableName="t",
                    IndexName="gsi1",
                    KeyConditionExpression="g = :g AND gs <= :s",
                    ExpressionAttributeValues={":g": {"S": f"shard-{shard}"}, ":s": {"S": "5"}},
                    ScanIndexForward=forward,
                )["Items"]
            )
    for pk in range(5):
        answers.append(
            client.query(
                TableName="t",
                KeyConditionExpression="pk = :p",
                ExpressionAttributeValues={":p": {"S": f"p{pk}"}},
            )["Items"]
        )
    return answers


def test_patched_queries_match_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    from moto import mock_aws

    moto_patch.install()
    try:
        with mock_aws():
            client = boto3.client("dynamodb", region_name="eu-central-1")
            client.create_table(
                TableName="t",
                KeySchema=[
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                AttributeDefinitions=[
                    {"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "g", "gs")
                ],
                GlobalSecondaryIndexes=[
                    {
                        "IndexName": "gsi1",
                        "KeySchema": [
                            {"AttributeName": "g", "KeyType": "HASH"},
                            {"AttributeName": "gs", "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                ],
                BillingMode="PAY_PER_REQUEST",
            )
            rng = random.Random(3)
            for step in range(400):
                key = {"pk": {"S": f"p{rng.randrange(5)}"}, "sk": {"S": f"s{rng.randrange(20)}"}}
                roll = rng.random()
                if roll < 0.4:
                    item = {**key, "n": {"N": str(step)}}
                    if rng.random() < 0.8:
                        item["g"] = {"S": f"shard-{rng.randrange(4)}"}
                        item["gs"] = {"S": str(rng.randrange(10))}
                    client.put_item(TableName="t", Item=item)
                elif roll < 0.7:  # moves the item to another index partition, or out of the index
                    if rng.random() < 0.8:
                        client.update_item(
                            TableName="t",
                            Key=key,
                            UpdateExpression="SET g = :g, gs = :s",
                            ExpressionAttributeValues={
                                ":g": {"S": f"shard-{rng.randrange(4)}"},
                                ":s": {"S": str(rng.randrange(10))},
                            },
                        )
                    else:
                        client.update_item(TableName="t", Key=key, UpdateExpression="REMOVE g")
                elif roll < 0.85:
                    client.delete_item(TableName="t", Key=key)
                else:
                    client.transact_write_items(
                        TransactItems=[
                            {
                                "Put": {
                                    "TableName": "t",
                                    "Item": {**key, "g": {"S": "shard-0"}, "gs": {"S": str(step % 10)}},
                                }
                            }
                        ]
                    )
            patched = _queries(client)
            moto_patch.uninstall()
            assert patched == _queries(client)
            assert sum(len(a) for a in patched) > 50  # the comparison covers real answers
    finally:
        moto_patch.install()
