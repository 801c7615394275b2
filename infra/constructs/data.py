"""Encryption key, DynamoDB tables (exactly per ``TABLES``), the reports bucket and the
unsubscribe signing key."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.constructs.nag import acknowledge
from infra.definitions import TABLES, TableDef


def _string_key(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)


class DataStore(Construct):
    """The customer-managed key plus everything it encrypts at rest."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)

        self.key = kms.Key(
            self,
            "Key",
            description="Loyalty data at rest: DynamoDB tables, reports bucket, alarm topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )

        self.tables: dict[str, dynamodb.Table] = {}
        self.table_defs: dict[str, TableDef] = {}
        for table_def in TABLES:
            self.tables[table_def.logical_id] = self._table(table_def)
            self.table_defs[table_def.logical_id] = table_def

        self.access_logs_bucket = s3.Bucket(
            self,
            "AccessLogsBucket",
            # S3 server access logging cannot deliver into a KMS-encrypted bucket.
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(365))],
            removal_policy=RemovalPolicy.RETAIN,
        )

        self.reports_bucket = s3.Bucket(
            self,
            "ReportsBucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="reports-bucket/",
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.reports_bucket.node.default_child.override_logical_id("ReportsBucket")  # type: ignore[union-attr]

        # The HMAC key of one-click unsubscribe links (loyalty.unsubscribe): 64 letters and
        # digits, so the value never reads as the JSON key list a rotation writes.
        self.unsubscribe_secret = secretsmanager.Secret(
            self,
            "UnsubscribeKey",
            description="Signing key of one-click unsubscribe links (or a JSON list of keys, current first)",
            encryption_key=self.key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True, include_space=False
            ),
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.unsubscribe_secret,
            "AwsSolutions-SMG4",
            "Rotated by hand, never automatically: a rotation puts a new key in a JSON list next to the "
            "current one, so links already in members' inboxes keep working until they expire "
            "(60 days); a generated replacement would break every one of them (docs/care-rules.md).",
        )

    def _table(self, table_def: TableDef) -> dynamodb.Table:
        table = dynamodb.Table(
            self,
            table_def.logical_id,
            partition_key=_string_key(table_def.partition_key),
            sort_key=_string_key(table_def.sort_key) if table_def.sort_key else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.key,
            stream=dynamodb.StreamViewType[table_def.stream_view_type]
            if table_def.stream_view_type
            else None,
            time_to_live_attribute=table_def.ttl_attribute,
            removal_policy=RemovalPolicy.RETAIN,
        )
        for index in table_def.indexes:
            table.add_global_secondary_index(
                index_name=index.name,
                partition_key=_string_key(index.partition_key),
                sort_key=_string_key(index.sort_key),
                projection_type=dynamodb.ProjectionType.ALL,
            )
        # Stable logical IDs: the template's resources carry the definition names.
        table.node.default_child.override_logical_id(table_def.logical_id)  # type: ignore[union-attr]
        return table
