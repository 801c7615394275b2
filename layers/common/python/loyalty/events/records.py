"""Typed DynamoDB stream records of the event log, for the stream consumers'
``BatchProcessor(event_type=EventType.DynamoDBStreams, model=EventRecord)``.

Powertools' stream record models deserialise an image from DynamoDB JSON with
its ``TypeDeserializer`` (numbers become ``Decimal``, never floats); here the
new image is then validated as the :class:`~loyalty.events.stored.StoredEvent`
it was written from. A record without a new image, or whose image is not a
stored event, fails validation: the batch processor reports it as a failed
record without calling the handler, and ``loyalty.streams.consume`` counts,
retries and dead-letters it whole like any other failure."""

from __future__ import annotations

from datetime import datetime

from aws_lambda_powertools.utilities.parser.models import (
    DynamoDBStreamChangedRecordModel,
    DynamoDBStreamRecordModel,
)

from loyalty.events.stored import StoredEvent


class EventChange(DynamoDBStreamChangedRecordModel):
    NewImage: StoredEvent  # type: ignore[assignment]  # narrowed: the event log streams NEW_IMAGE


class EventRecord(DynamoDBStreamRecordModel):
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
