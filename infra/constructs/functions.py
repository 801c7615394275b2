"""Every Lambda function of ``FUNCTIONS`` from one factory, each with its own log group,
least-privilege role and (for stream and scheduled functions) dead-letter queue."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import BundlingOptions, DockerImage, Duration, IgnoreMode, ILocalBundling, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.constructs.care_events import CareEvents
from infra.constructs.context import DeploymentContext, powertools_layer_name
from infra.constructs.data import DataStore
from infra.constructs.email import SenderEmail
from infra.constructs.nag import acknowledge
from infra.definitions import (
    ARCHITECTURE,
    AUTHORIZER,
    CARE_RULES_PARAMETER,
    FUNCTION_PACKAGES,
    FUNCTIONS,
    LOG_RETENTION_DAYS,
    LOYALTY_TABLE,
    POWERTOOLS_VERSION,
    PROGRAM_CONFIG_PARAMETER,
    PYTHON_RUNTIME,
    SERVICE_CONFIG_PARAMETER,
    FunctionDef,
    care_rules_defaults_json,
    dead_letter_queue_name,
    function_environment,
    has_dead_letter_queue,
    program_config_json,
    service_config_json,
)
from loyalty.keys import api_key_pk, tenant_pk, throttle_pk

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = REPO_ROOT / "functions"
COMMON_LAYER_DIR = REPO_ROOT / "layers" / "common"

# AWS-managed Powertools for AWS Lambda (Python) v3 layer. Powertools publishes, per region, a
# public SSM parameter naming the layer version ARN of each release; CloudFormation resolves it
# at deploy time, so the layer is always the release requirements.txt pins, with the account and
# partition of the region deployed to. Where the parameter is not published, context
# ``powertools_layer_arn`` names the layer version ARN instead.
POWERTOOLS_LAYER_PARAMETER_PREFIX = "/aws/service/powertools/python"

ASSET_EXCLUDES = ("__pycache__/", "*.pyc", ".pytest_cache/", ".mypy_cache/")

# No dynamodb:Scan: no code path scans a table (indexes serve every listing).
READ_ACTIONS = (
    "dynamodb:BatchGetItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:Query",
)
WRITE_ACTIONS = (
    "dynamodb:BatchWriteItem",
    "dynamodb:DeleteItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
)
# Per-storefront throttling (loyalty.throttle, run by loyalty.api.resolve): one UpdateItem
# on a window counter, whose partition key is T#<tenant>#THROTTLE#<storefront>.
THROTTLE_ACTIONS = ("dynamodb:UpdateItem",)
THROTTLE_LEADING_KEYS = throttle_pk("*", "*")
# The authorizer reads two kinds of LoyaltyTable items, by key (loyalty.credentials): the
# credential (pk APIKEY#<sha256>) and the storefront's rate limit and scopes (pk TENANT#<tenant>).
CREDENTIAL_READ_ACTIONS = ("dynamodb:GetItem",)
CREDENTIAL_LEADING_KEYS = (api_key_pk("*"), tenant_pk("*"))
# Functions whose LoyaltyTable "read" access is narrowed to GetItem on these partition keys.
KEY_SCOPED_READS: dict[str, tuple[str, ...]] = {AUTHORIZER.logical_id: CREDENTIAL_LEADING_KEYS}
KMS_READ_ACTIONS = ("kms:Decrypt", "kms:DescribeKey")
KMS_WRITE_ACTIONS = ("kms:Encrypt", "kms:GenerateDataKey")
SEND_EMAIL_ACTIONS = ("ses:SendEmail", "ses:SendRawEmail")

_RUNTIMES = {runtime.name: runtime for runtime in lambda_.Runtime.ALL}
_ARCHITECTURES = {"arm64": lambda_.Architecture.ARM_64, "x86_64": lambda_.Architecture.X86_64}

XRAY_AND_LIST_STREAMS_REASON = (
    "Resource '*' only for X-Ray PutTraceSegments/PutTelemetryRecords (added by Tracing.ACTIVE) "
    "and, for stream consumers, dynamodb:ListStreams; neither action supports resource-level permissions."
)


_RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
}


def log_retention() -> logs.RetentionDays:
    """``LOG_RETENTION_DAYS`` as CloudWatch's enum (jsii enums are keyed by name, not days)."""
    return _RETENTION[LOG_RETENTION_DAYS]


def runtime() -> lambda_.Runtime:
    return _RUNTIMES[PYTHON_RUNTIME]


def architecture() -> lambda_.Architecture:
    return _ARCHITECTURES[ARCHITECTURE]


def powertools_layer_parameter(version: str = POWERTOOLS_VERSION) -> str:
    """e.g. ``/aws/service/powertools/python/arm64/python3.13/3.37.0``."""
    return f"{POWERTOOLS_LAYER_PARAMETER_PREFIX}/{ARCHITECTURE}/{PYTHON_RUNTIME}/{version}"


def counts_storefront_requests(fn_def: FunctionDef) -> bool:
    """Every function behind the authorizer admits storefront requests through the
    per-storefront window counter in the LoyaltyTable."""
    return any(route.authorized for route in fn_def.routes)


def needs_throttle_grant(fn_def: FunctionDef) -> bool:
    """The counter needs a grant of its own only where the LoyaltyTable is not writable already."""
    return counts_storefront_requests(fn_def) and fn_def.tables.get(LOYALTY_TABLE.logical_id) != "write"


def code_excludes(package: str) -> list[str]:
    """Everything under ``functions/`` except ``package`` (and caches), so the handler
    path ``<package>.<module>.<callable>`` resolves from the asset root (gitignore syntax):
    the other function packages by name, and any stray top-level file as well."""
    if package not in FUNCTION_PACKAGES:
        raise ValueError(f"{package} is not in FUNCTION_PACKAGES")
    others = [f"/{other}/" for other in FUNCTION_PACKAGES if other != package]
    return [*others, "/*", f"!/{package}/", *ASSET_EXCLUDES]


# Third-party packages a function package needs beyond the Lambda runtime and the Powertools
# layer, bundled into that package's own asset (pins from requirements.txt): the care emails
# are Jinja2 templates (MarkupSafe comes with it) with their CSS inlined by css-inline. Local
# bundling installs the target platform's wheels with pip (no Docker); where that fails, CDK
# falls back to the SAM build image of the runtime and architecture. Synthesis with the
# context ``aws:cdk:bundling-stacks`` set to ``[]`` (the tests) skips bundling altogether.
BUNDLED_REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "care_rules": ("jinja2", "css-inline"),
    "tickets": ("holidays",),  # the business-hours calendars' public holidays and make-up workdays
    "reports": ("css-inline",),  # the report email's inlined CSS
}
PIP_PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}
BUILD_IMAGE = f"public.ecr.aws/sam/build-{PYTHON_RUNTIME}"


def pinned_requirements(package: str) -> list[str]:
    """``name==version`` of each of ``package``'s bundled requirements, as requirements.txt pins them."""
    wanted = BUNDLED_REQUIREMENTS.get(package, ())
    pins = {}
    for line in (REPO_ROOT / "requirements.txt").read_text().splitlines():
        name, sep, version = line.split("#", 1)[0].strip().partition("==")
        if sep:
            pins[name.strip().lower()] = f"{name.strip()}=={version.strip()}"
    missing = [name for name in wanted if name not in pins]
    if missing:
        raise ValueError(f"requirements.txt pins none of {missing}")
    return [pins[name] for name in wanted]


def pip_install_command(requirements: list[str], target: str) -> list[str]:
    """Wheels for the functions' platform only: nothing is compiled for the build machine."""
    version = PYTHON_RUNTIME.removeprefix("python")
    return [
        sys.executable, "-m", "pip", "install", "--quiet", "--no-compile",
        "--platform", PIP_PLATFORMS[ARCHITECTURE], "--implementation", "cp",
        "--only-binary=:all:", "--python-version", version, "--target", target, *requirements,
    ]  # fmt: skip


@jsii.implements(ILocalBundling)
class PipBundling:
    """Local bundling: the package's sources plus its requirements, installed by pip."""

    def __init__(self, package: str, requirements: list[str]) -> None:
        self.package = package
        self.requirements = requirements

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_: Any) -> bool:
        done = subprocess.run(  # noqa: S603 - a fixed command line
            pip_install_command(self.requirements, output_dir), check=False, capture_output=True, text=True
        )
        if done.returncode != 0:
            print(
                f"local bundling of {self.package} failed, trying Docker: {done.stderr[-800:]}",
                file=sys.stderr,
            )
            return False
        shutil.copytree(
            FUNCTIONS_DIR / self.package,
            Path(output_dir) / self.package,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache"),
            dirs_exist_ok=True,
        )
        return True


def function_code(package: str, stack: Stack) -> lambda_.Code:
    """``package``'s code asset: its directory under ``functions/``, plus its bundled
    requirements when it has any and ``stack`` is bundled (a synthesis that skips
    bundling stages the plain directory, so its content can still be inspected)."""
    requirements = pinned_requirements(package)
    bundling = None
    if requirements and stack.bundling_required:
        script = (
            f"pip install --quiet --no-compile --target /asset-output {' '.join(requirements)} "
            f"&& cp -r /asset-input/{package} /asset-output/ "
            "&& find /asset-output -name __pycache__ -prune -exec rm -rf {} +"
        )
        bundling = BundlingOptions(
            image=DockerImage.from_registry(BUILD_IMAGE),
            platform=f"linux/{ARCHITECTURE.replace('x86_64', 'amd64')}",
            command=["bash", "-c", script],
            local=PipBundling(package, requirements),
        )
    return lambda_.Code.from_asset(
        str(FUNCTIONS_DIR), exclude=code_excludes(package), ignore_mode=IgnoreMode.GIT, bundling=bundling
    )


class Functions(Construct):
    """``self.functions`` and ``self.dead_letter_queues`` are keyed by ``FunctionDef.logical_id``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        context: DeploymentContext,
        data: DataStore,
        email: SenderEmail,
        care_events: CareEvents,
    ) -> None:
        super().__init__(scope, construct_id)
        self._context = context
        self._data = data
        self._email = email
        self._care_events = care_events
        stack = Stack.of(self)

        layer_arn = context.powertools_layer_arn or ssm.StringParameter.value_for_string_parameter(
            self, powertools_layer_parameter()
        )
        self.powertools_layer = lambda_.LayerVersion.from_layer_version_arn(
            self, "PowertoolsLayer", layer_arn
        )
        self.common_layer = lambda_.LayerVersion(
            self,
            "CommonLayer",
            description="loyalty shared package (layers/common/python/loyalty)",
            code=lambda_.Code.from_asset(
                str(COMMON_LAYER_DIR), exclude=list(ASSET_EXCLUDES), ignore_mode=IgnoreMode.GIT
            ),
            compatible_runtimes=[runtime()],
            compatible_architectures=[architecture()],
            removal_policy=RemovalPolicy.RETAIN,
        )

        # One decision for every function of this construct: the runtime comes from definitions.py.
        for rule in ("AwsSolutions-L1", "Serverless-LambdaLatestVersion"):
            acknowledge(
                self,
                rule,
                f"Runtime pinned to {PYTHON_RUNTIME} by infra/definitions.py PYTHON_RUNTIME, matching "
                f"the Powertools {powertools_layer_name()} {POWERTOOLS_VERSION} layer and the tested "
                "dependency set.",
            )

        # Read at run time through Powertools Parameters (cached), not an environment
        # variable: Lambda allows 4 KB for all of a function's variables together.
        self.program_config = ssm.StringParameter(
            self,
            "ProgramConfig",
            parameter_name=f"/{stack.stack_name}{PROGRAM_CONFIG_PARAMETER}",
            string_value=program_config_json(),
            description="The loyalty program's configuration (config/program.yaml), validated",
        )
        # The default care rules (config/care_rules.yaml), validated: about 2.3 KB of compact
        # JSON, within the standard tier's 4 KB (tests/unit/care_rules checks the size).
        self.care_rules_defaults = ssm.StringParameter(
            self,
            "CareRulesDefaults",
            parameter_name=f"/{stack.stack_name}{CARE_RULES_PARAMETER}",
            string_value=care_rules_defaults_json(),
            tier=ssm.ParameterTier.STANDARD,
            description="The default care rules every tenant starts with (config/care_rules.yaml), validated",
        )
        # The service desk's calendars and SLA policies (config/service.yaml), validated:
        # about 1.3 KB of compact JSON, within the standard tier's 4 KB (tests/infra checks it).
        self.service_config = ssm.StringParameter(
            self,
            "ServiceConfig",
            parameter_name=f"/{stack.stack_name}{SERVICE_CONFIG_PARAMETER}",
            string_value=service_config_json(),
            tier=ssm.ParameterTier.STANDARD,
            description="The service desk's calendars and SLA policies (config/service.yaml), validated",
        )

        self.definitions: dict[str, FunctionDef] = {}
        self.functions: dict[str, lambda_.Function] = {}
        self.roles: dict[str, iam.Role] = {}
        self.log_groups: dict[str, logs.LogGroup] = {}
        self.dead_letter_queues: dict[str, sqs.Queue] = {}
        for fn_def in FUNCTIONS:
            self.definitions[fn_def.logical_id] = fn_def
            self._build(fn_def, stack)

    # ------------------------------------------------------------------ factory

    def _build(self, fn_def: FunctionDef, stack: Stack) -> None:
        scope = Construct(self, fn_def.logical_id)

        log_group = logs.LogGroup(
            scope,
            "LogGroup",
            retention=log_retention(),
            removal_policy=RemovalPolicy.DESTROY,
        )
        role = iam.Role(
            scope,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Execution role of {fn_def.logical_id}",
        )
        log_group.grant_write(role)
        self.program_config.grant_read(role)
        if fn_def.reads_care_rules:
            self.care_rules_defaults.grant_read(role)
        if fn_def.reads_service_config:
            self.service_config.grant_read(role)

        dlq = None
        if has_dead_letter_queue(fn_def):
            dlq = sqs.Queue(
                scope,
                "DeadLetterQueue",
                queue_name=f"{stack.stack_name}-{dead_letter_queue_name(fn_def)}",
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
                retention_period=Duration.days(14),
            )
            if fn_def.stream is not None:
                # cdk-nag recognises a Lambda DeadLetterConfig target as a DLQ, but not an
                # event source mapping's on-failure destination.
                acknowledge(
                    dlq,
                    "AwsSolutions-SQS3",
                    f"This queue is itself the on-failure destination (DLQ) of {fn_def.logical_id}'s "
                    "DynamoDB stream event source mapping.",
                )
            acknowledge(
                dlq,
                "Serverless-SQSRedrivePolicy",
                "This queue is itself a dead-letter queue; failed records end here for inspection "
                "and redrive.",
            )
            self.dead_letter_queues[fn_def.logical_id] = dlq

        environment = function_environment(
            fn_def,
            sender_email=self._context.sender_email,
            program_config_parameter=self.program_config.parameter_name,
            care_rules_parameter=self.care_rules_defaults.parameter_name,
            service_config_parameter=self.service_config.parameter_name,
            storefront_rate_limit=self._context.storefront_rate_limit,
            api_rate_limit=self._context.api_rate_limit,
            unsubscribe_secret=self._data.unsubscribe_secret.secret_arn,
            # The stage URL exists only once the API is built: the Api construct sets it.
            public_api_url="",
            care_event_bus=self._care_events.bus.event_bus_name,
        )
        if fn_def.publishes_care_events:
            self._care_events.bus.grant_put_events_to(role)
        if fn_def.uses_unsubscribe_key:
            self._data.unsubscribe_secret.grant_read(role)
        for table_id, access in sorted(fn_def.tables.items()):
            table_def = self._data.table_defs[table_id]
            environment[table_def.env_var] = self._data.tables[table_id].table_name
            leading_keys = KEY_SCOPED_READS.get(fn_def.logical_id)
            if leading_keys is not None and table_id == LOYALTY_TABLE.logical_id:
                if access != "read":
                    raise ValueError(f"{fn_def.logical_id} has key-scoped reads but {access} access")
                self._grant_key_scoped_reads(role, leading_keys)
            else:
                self._grant_table(role, table_id, access)
        if needs_throttle_grant(fn_def):
            environment[LOYALTY_TABLE.env_var] = self._data.tables[LOYALTY_TABLE.logical_id].table_name
            self._grant_throttle_counter(role, writes_a_table="write" in fn_def.tables.values())
        if fn_def.stream is not None:
            # A record that keeps failing is sent whole to this queue by the handler
            # (loyalty.streams.consume), after the same number of retries Lambda allows.
            dlq = self.dead_letter_queues[fn_def.logical_id]
            environment["DEAD_LETTER_QUEUE_URL"] = dlq.queue_url
            environment["STREAM_MAX_RETRIES"] = str(fn_def.stream.max_retries)
            dlq.grant_send_messages(role)
        if fn_def.writes_reports or fn_def.reads_reports:
            environment["REPORTS_BUCKET"] = self._data.reports_bucket.bucket_name
            self._grant_reports(scope, role, fn_def)
        if fn_def.sends_email:
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="SendAsSender",
                    actions=list(SEND_EMAIL_ACTIONS),
                    resources=self._email.send_resources(),
                )
            )

        function = lambda_.Function(
            scope,
            "Function",
            description=fn_def.description,
            runtime=runtime(),
            architecture=architecture(),
            handler=fn_def.handler,
            code=function_code(fn_def.package, stack),
            layers=[self.powertools_layer, self.common_layer],
            memory_size=fn_def.memory_mb,
            timeout=Duration.seconds(fn_def.timeout_seconds),
            tracing=lambda_.Tracing.ACTIVE,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            log_group=log_group,
            role=role,
            environment=environment,
            dead_letter_queue=dlq if fn_def.schedules else None,
        )
        function.node.default_child.override_logical_id(fn_def.logical_id)  # type: ignore[union-attr]

        acknowledge(role, "AwsSolutions-IAM5[Resource::*]", XRAY_AND_LIST_STREAMS_REASON)
        if fn_def.stream is not None:
            acknowledge(
                function,
                "Serverless-LambdaDLQ",
                "Invoked only by its DynamoDB stream event source mapping, whose on-failure destination "
                f"is the {dead_letter_queue_name(fn_def)} queue; there are no asynchronous invocations.",
            )
        elif not has_dead_letter_queue(fn_def):
            acknowledge(
                function,
                "Serverless-LambdaDLQ",
                "Invoked only synchronously (API Gateway); errors return to the caller, so an async DLQ "
                "would never receive anything.",
            )

        self.functions[fn_def.logical_id] = function
        self.roles[fn_def.logical_id] = role
        self.log_groups[fn_def.logical_id] = log_group

    # ------------------------------------------------------------------ grants

    def _grant_table(self, role: iam.Role, table_id: str, access: str) -> None:
        if access not in ("read", "write"):
            raise ValueError(f"unknown table access {access!r} for {table_id}")
        table = self._data.tables[table_id]
        table_def = self._data.table_defs[table_id]
        resources = [table.table_arn] + [
            f"{table.table_arn}/index/{index.name}" for index in table_def.indexes
        ]
        actions = list(READ_ACTIONS) + (list(WRITE_ACTIONS) if access == "write" else [])
        role.add_to_policy(
            iam.PolicyStatement(sid=f"{table_id}{access.title()}", actions=actions, resources=resources)
        )
        kms_actions = list(KMS_READ_ACTIONS) + (list(KMS_WRITE_ACTIONS) if access == "write" else [])
        self._grant_key(role, f"{table_id}Key", kms_actions, "dynamodb")

    def _grant_key_scoped_reads(self, role: iam.Role, leading_keys: tuple[str, ...]) -> None:
        """GetItem on the LoyaltyTable itself (no index), only on items whose partition key
        matches one of ``leading_keys``."""
        table = self._data.tables[LOYALTY_TABLE.logical_id]
        role.add_to_policy(
            iam.PolicyStatement(
                sid="CredentialRead",
                actions=list(CREDENTIAL_READ_ACTIONS),
                resources=[table.table_arn],
                conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": list(leading_keys)}},
            )
        )
        self._grant_key(role, "CredentialReadKey", list(KMS_READ_ACTIONS), "dynamodb")

    def _grant_throttle_counter(self, role: iam.Role, *, writes_a_table: bool) -> None:
        """UpdateItem on the throttle window items only: the table itself (no index), and
        only items whose partition key is a throttle counter's."""
        table = self._data.tables[LOYALTY_TABLE.logical_id]
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ThrottleCounter",
                actions=list(THROTTLE_ACTIONS),
                resources=[table.table_arn],
                conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [THROTTLE_LEADING_KEYS]}},
            )
        )
        if not writes_a_table:
            # Every table is encrypted with the one data key; writing any table grants its use already.
            self._grant_key(
                role, "ThrottleCounterKey", list(KMS_READ_ACTIONS + KMS_WRITE_ACTIONS), "dynamodb"
            )

    def _grant_reports(self, scope: Construct, role: iam.Role, fn_def: FunctionDef) -> None:
        bucket = self._data.reports_bucket
        actions = (["s3:PutObject"] if fn_def.writes_reports else []) + (
            ["s3:GetObject"] if fn_def.reads_reports else []
        )
        role.add_to_policy(
            iam.PolicyStatement(sid="Reports", actions=actions, resources=[bucket.arn_for_objects("*")])
        )
        key_actions = (list(KMS_WRITE_ACTIONS) if fn_def.writes_reports else []) + (
            list(KMS_READ_ACTIONS) if fn_def.reads_reports else []
        )
        self._grant_key(role, "ReportsKey", sorted(set(key_actions)), "s3")
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::<ReportsBucket.Arn>/*]",
            "Report object keys are dated (one per period), so the object actions are scoped to the "
            "objects of the reports bucket only.",
        )

    def _grant_key(self, role: iam.Role, sid: str, actions: list[str], service: str) -> None:
        role.add_to_policy(
            iam.PolicyStatement(
                sid=sid,
                actions=actions,
                resources=[self._data.key.key_arn],
                conditions={
                    "StringEquals": {"kms:ViaService": f"{service}.{Stack.of(self).region}.amazonaws.com"}
                },
            )
        )
