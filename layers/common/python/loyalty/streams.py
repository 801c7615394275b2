"""Helpers for DynamoDB stream consumers (paired with Powertools BatchProcessor)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from loyalty.timeutil import from_epoch_ms


def new_image(record: DynamoDBRecord) -> dict[str, Any]:
    image = record.dynamodb.new_image if record.dynamodb else None
    if not image:
        raise ValueError("stream record without a new image")
    return dict(image)


def created_at(record: DynamoDBRecord) -> datetime:
    """When the stream record was written (ApproximateCreationDateTime, whole
    seconds): a stream consumer's "now"."""
    seconds = record.dynamodb.approximate_creation_date_time if record.dynamodb else None
    if seconds is None:
        raise ValueError("stream record without ApproximateCreationDateTime")
    return from_epoch_ms(seconds * 1000)
