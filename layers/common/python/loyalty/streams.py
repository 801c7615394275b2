"""Helpers for DynamoDB stream consumers (paired with Powertools BatchProcessor)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord


def new_image(record: DynamoDBRecord) -> dict[str, Any]:
    image = record.dynamodb.new_image if record.dynamodb else None
    if not image:
        raise ValueError("stream record without a new image")
    return dict(image)
