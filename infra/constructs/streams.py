"""DynamoDB stream subscriptions (``FunctionDef.stream``) with event filters and failure DLQs."""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from constructs import Construct

from infra.constructs.data import DataStore
from infra.constructs.functions import Functions
from infra.definitions import FUNCTIONS, StreamSourceDef


def filter_pattern(stream: StreamSourceDef) -> dict[str, Any] | None:
    """The Lambda event filter for a subscription, or ``None`` when every record is wanted."""
    new_image: dict[str, Any] = {}
    if stream.event_types:
        new_image["type"] = {"S": lambda_.FilterRule.or_(*stream.event_types)}
    if stream.kinds:
        new_image["kind"] = {"S": lambda_.FilterRule.or_(*stream.kinds)}
    pattern: dict[str, Any] = {}
    if stream.event_names:
        pattern["eventName"] = lambda_.FilterRule.or_(*stream.event_names)
    if new_image:
        pattern["dynamodb"] = {"NewImage": new_image}
    return pattern or None


class StreamSubscriptions(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, data: DataStore, functions: Functions) -> None:
        super().__init__(scope, construct_id)
        self.sources: dict[str, sources.DynamoEventSource] = {}
        for fn_def in FUNCTIONS:
            stream = fn_def.stream
            if stream is None:
                continue
            pattern = filter_pattern(stream)
            source = sources.DynamoEventSource(
                data.tables[stream.table],
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=stream.batch_size,
                retry_attempts=stream.max_retries,
                bisect_batch_on_error=True,
                report_batch_item_failures=True,
                on_failure=sources.SqsDlq(functions.dead_letter_queues[fn_def.logical_id]),
                filters=[lambda_.FilterCriteria.filter(pattern)] if pattern else None,
            )
            functions.functions[fn_def.logical_id].add_event_source(source)
            self.sources[fn_def.logical_id] = source
