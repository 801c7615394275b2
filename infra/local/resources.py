"""Provision the local (moto) resources from ``infra/definitions.py``."""

from __future__ import annotations

import secrets
from typing import Any

from infra.definitions import (
    CARE_EVENT_BUS_NAME,
    CARE_RULES_PARAMETER,
    FUNCTIONS,
    LOCAL_PUBLIC_API_URL,
    PROGRAM_CONFIG_PARAMETER,
    SERVICE_CONFIG_PARAMETER,
    TABLES,
    UNSUBSCRIBE_SECRET_NAME,
    TableDef,
    care_rules_defaults_json,
    dead_letter_queue_name,
    has_dead_letter_queue,
    program_config_json,
    required_settings,
    service_config_json,
)

CARE_EVENTS_OUTBOX = "local-care-events"  # what the care bus received, locally


def create_table_kwargs(table: TableDef, table_name: str) -> dict[str, Any]:
    """The boto3 ``create_table`` arguments for a table definition."""
    attributes = {table.partition_key}
    key_schema = [{"AttributeName": table.partition_key, "KeyType": "HASH"}]
    if table.sort_key:
        attributes.add(table.sort_key)
        key_schema.append({"AttributeName": table.sort_key, "KeyType": "RANGE"})
    indexes = []
    for index in table.indexes:
        attributes.update({index.partition_key, index.sort_key})
        indexes.append(
            {
                "IndexName": index.name,
                "KeySchema": [
                    {"AttributeName": index.partition_key, "KeyType": "HASH"},
                    {"AttributeName": index.sort_key, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        )
    kwargs: dict[str, Any] = {
        "TableName": table_name,
        "KeySchema": key_schema,
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in sorted(attributes)],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if indexes:
        kwargs["GlobalSecondaryIndexes"] = indexes
    if table.stream_view_type:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": table.stream_view_type}
    return kwargs


def local_table_name(table: TableDef) -> str:
    return f"local-{table.logical_id}"


def local_queue_names() -> list[str]:
    return [dead_letter_queue_name(fn) for fn in FUNCTIONS if has_dead_letter_queue(fn)]


def local_required_settings() -> str:
    """``REQUIRED_SETTINGS`` of the local stack, which runs every function in one
    process: what any function requires."""
    return ",".join(sorted({name for fn in FUNCTIONS for name in required_settings(fn)}))


def provision(
    session: Any, sender_email: str, bucket: str, public_api_url: str = LOCAL_PUBLIC_API_URL
) -> dict[str, str]:
    """Create every table (keys, indexes, streams, TTL), queue, bucket, SES identity,
    parameter and secret. Returns the environment variables the handlers need, with
    ``REQUIRED_SETTINGS`` naming each of them a function requires; ``public_api_url``
    is where unsubscribe links point (the local API)."""
    dynamodb = session.client("dynamodb")
    env: dict[str, str] = {}
    for table in TABLES:
        name = local_table_name(table)
        dynamodb.create_table(**create_table_kwargs(table, name))
        if table.ttl_attribute:
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
            )
        env[table.env_var] = name
    sqs = session.client("sqs")
    for queue in local_queue_names():
        sqs.create_queue(QueueName=queue)
    session.client("s3").create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": session.region_name}
    ) if session.region_name != "us-east-1" else session.client("s3").create_bucket(Bucket=bucket)
    session.client("ses").verify_email_identity(EmailAddress=sender_email)
    env["REPORTS_BUCKET"] = bucket
    env["SENDER_EMAIL"] = sender_email
    # The program configuration, where a deployment keeps it: SSM Parameter Store.
    session.client("ssm").put_parameter(
        Name=PROGRAM_CONFIG_PARAMETER, Value=program_config_json(), Type="String", Overwrite=True
    )
    env["PROGRAM_CONFIG_PARAMETER"] = PROGRAM_CONFIG_PARAMETER
    # The default care rules, seeded into each tenant's rule set on its first use.
    session.client("ssm").put_parameter(
        Name=CARE_RULES_PARAMETER, Value=care_rules_defaults_json(), Type="String", Overwrite=True
    )
    env["CARE_RULES_PARAMETER"] = CARE_RULES_PARAMETER
    # The service desk's calendars and SLA policies, read by the ticket functions.
    session.client("ssm").put_parameter(
        Name=SERVICE_CONFIG_PARAMETER, Value=service_config_json(), Type="String", Overwrite=True
    )
    env["SERVICE_CONFIG_PARAMETER"] = SERVICE_CONFIG_PARAMETER
    # The unsubscribe signing key: random on every start, like a fresh deployment's.
    session.client("secretsmanager").create_secret(
        Name=UNSUBSCRIBE_SECRET_NAME, SecretString=secrets.token_urlsafe(48)
    )
    env["UNSUBSCRIBE_SECRET"] = UNSUBSCRIBE_SECRET_NAME
    env["PUBLIC_API_URL"] = public_api_url
    # The care event bus; a rule sends what it publishes to a queue, which the local stack
    # reads as the bus's outbox.
    events = session.client("events")
    events.create_event_bus(Name=CARE_EVENT_BUS_NAME)
    outbox = sqs.create_queue(QueueName=CARE_EVENTS_OUTBOX)["QueueUrl"]
    outbox_arn = sqs.get_queue_attributes(QueueUrl=outbox, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(
        Name="care-events-outbox",
        EventBusName=CARE_EVENT_BUS_NAME,
        EventPattern='{"source": ["loyalty.care"]}',
    )
    events.put_targets(
        Rule="care-events-outbox",
        EventBusName=CARE_EVENT_BUS_NAME,
        Targets=[{"Id": "outbox", "Arn": outbox_arn}],
    )
    env["CARE_EVENT_BUS"] = CARE_EVENT_BUS_NAME
    env["REQUIRED_SETTINGS"] = local_required_settings()
    return env
