"""Typed DynamoDB stream records of the event log, for the stream consumers'
``BatchProcessor(event_type=EventType.DynamoDBStreams, model=EventRecord)``.

The fields are those of Powertools' ``DynamoDBStreamRecordModel`` that the
consumers and the batch processor read, and an image is deserialised from
DynamoDB JSON the same way, with Powertools' ``TypeDeserializer`` (numbers become
``Decimal``, never floats); the new image is then validated as the
:class:`~loyalty.events.stored.StoredEvent` it was written from. (Powertools'
parser models are not subclassed: importing any of them builds every model of
its parser package, tens of milliseconds of each stream function's cold start.)
A record without a new image, or whose image is not a stored event, fails
validation: the batch processor reports it as a failed record without calling
the handler, and ``loyalty.streams.consume`` counts, retries and dead-letters it
whole like any other failure."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from aws_lambda_powertools.shared.dynamodb_deserializer import TypeDeserializer
from pydantic import BaseModel, field_validator

from loyalty.events.stored import StoredEvent

_DESERIALIZER = TypeDeserializer()


class EventChange(BaseModel):
    ApproximateCreationDateTime: datetime | None = None  # epoch seconds on the wire
    Keys: dict[str, Any]
    NewImage: StoredEvent  # the event log streams NEW_IMAGE
    SequenceNumber: str
    SizeBytes: int
    StreamViewType: Literal["NEW_AND_OLD_IMAGES", "KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE"]

    @field_validator("Keys", "NewImage", mode="before")
    @classmethod
    def _deserialise(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {k: _DESERIALIZER.deserialize(v) for k, v in value.items()}


class EventRecord(BaseModel):
    eventID: str
    eventName: Literal["INSERT", "MODIFY", "REMOVE"]
    eventVersion: float
    eventSource: Literal["aws:dynamodb"]
    awsRegion: str
    eventSourceARN: str
    dynamodb: EventChange

    @property
    def event(self) -> StoredEvent:
        """The stored event the record carries."""
        return self.dynamodb.NewImage

    @property
    def created_at(self) -> datetime:
        """When the stream record was written (ApproximateCreationDateTime, whole
        seconds): a stream consumer's "now"."""
        moment = self.dynamodb.ApproximateCreationDateTime
        if moment is None:
            raise ValueError("stream record without ApproximateCreationDateTime")
        return moment.replace(microsecond=0)
