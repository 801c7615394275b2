"""Wiring of the synthesized LoyaltyStack, checked against ``infra/definitions.py``."""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from aws_cdk.assertions import Match, Template
from synth_support import TEST_ALARM_EMAIL, TEST_SENDER_EMAIL
from template_queries import (
    actions_on,
    all_actions,
    api_resource_path,
    as_list,
    function_statements,
    of_type,
    queue_id,
    referenced_ids,
    role_of_function,
)

from infra.constructs.functions import (
    FUNCTIONS_DIR,
    THROTTLE_LEADING_KEYS,
    counts_storefront_requests,
    needs_throttle_grant,
)
from infra.constructs.streams import filter_pattern
from infra.definitions import (
    API_THROTTLE_BURST,
    API_THROTTLE_RATE,
    ARCHITECTURE,
    AUTHORIZER,
    FUNCTIONS,
    LOG_RETENTION_DAYS,
    LOYALTY_TABLE,
    PYTHON_RUNTIME,
    TABLES,
    FunctionDef,
    RouteDef,
    ScheduleDef,
    TableDef,
    function_environment,
    has_dead_letter_queue,
)
from loyalty.keys import api_key_pk, member_pk, tenant_pk, throttle_pk

if TYPE_CHECKING:
    from tests.infra.conftest import Synth

REPO_ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.infra

STREAM_FUNCTIONS = [fn for fn in FUNCTIONS if fn.stream is not None]
SCHEDULED = [(fn, schedule) for fn in FUNCTIONS for schedule in fn.schedules]
ROUTES = [(fn, route) for fn in FUNCTIONS for route in fn.routes]
DYNAMO_WRITE_ACTIONS = {
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
}


def _fn_ids(fns: list[FunctionDef]) -> list[str]:
    return [fn.logical_id for fn in fns]


@pytest.fixture(scope="module")
def resources(template_dict: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return template_dict["Resources"]


def _single(resources: dict[str, dict[str, Any]], resource_type: str) -> tuple[str, dict[str, Any]]:
    found = of_type(resources, resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return next(iter(found.items()))


def _parameter(resources: dict[str, dict[str, Any]], name: str) -> tuple[str, dict[str, Any]]:
    """The SSM parameter whose name ends with ``name`` (program-config, care-rules-defaults)."""
    found = {
        k: v
        for k, v in of_type(resources, "AWS::SSM::Parameter").items()
        if str(v["Properties"]["Name"]).endswith(name)
    }
    assert len(found) == 1, f"expected one parameter named ...{name}, found {sorted(found)}"
    return next(iter(found.items()))


# Functions ------------------------------------------------------------------


def test_one_lambda_per_function_definition(resources: dict[str, dict[str, Any]]) -> None:
    assert set(of_type(resources, "AWS::Lambda::Function")) == {fn.logical_id for fn in FUNCTIONS}


@pytest.mark.parametrize("fn", FUNCTIONS, ids=_fn_ids(list(FUNCTIONS)))
def test_function_settings(resources: dict[str, dict[str, Any]], fn: FunctionDef) -> None:
    props = resources[fn.logical_id]["Properties"]
    assert props["Handler"] == fn.handler
    assert props["Runtime"] == PYTHON_RUNTIME
    assert props["Architectures"] == [ARCHITECTURE]
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["MemorySize"] == fn.memory_mb
    assert props["Timeout"] == fn.timeout_seconds
    assert props["Description"] == fn.description

    logging_config = props["LoggingConfig"]
    assert logging_config["LogFormat"] == "JSON"
    log_group = resources[logging_config["LogGroup"]["Ref"]]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] == LOG_RETENTION_DAYS


def _pinned_powertools_version() -> str:
    """The aws-lambda-powertools version requirements.txt pins (``==``)."""
    pins = [
        match.group(1)
        for line in (REPO_ROOT / "requirements.txt").read_text().splitlines()
        if (match := re.match(r"^aws-lambda-powertools(?:\[[^\]]*\])?==([0-9][^\s;#]*)", line.strip()))
    ]
    assert len(pins) == 1, f"expected one pinned aws-lambda-powertools in requirements.txt, found {pins}"
    return pins[0]


@pytest.mark.parametrize("fn", FUNCTIONS, ids=_fn_ids(list(FUNCTIONS)))
def test_function_layers_are_powertools_and_common(
    template_dict: dict[str, Any], resources: dict[str, dict[str, Any]], fn: FunctionDef
) -> None:
    layers = resources[fn.logical_id]["Properties"]["Layers"]
    assert len(layers) == 2
    assert all(set(layer) == {"Ref"} for layer in layers), layers
    parameters = template_dict.get("Parameters", {})
    powertools = [layer["Ref"] for layer in layers if layer["Ref"] in parameters]
    assert len(powertools) == 1, f"the Powertools layer is not resolved from its SSM parameter: {layers}"
    # Powertools' public parameter for the release requirements.txt pins: the layer the
    # functions run with in AWS is the package version the tests run with.
    pinned = _pinned_powertools_version()
    assert parameters[powertools[0]] == {
        "Type": "AWS::SSM::Parameter::Value<String>",
        "Default": f"/aws/service/powertools/python/{ARCHITECTURE}/{PYTHON_RUNTIME}/{pinned}",
    }
    own = [layer["Ref"] for layer in layers if layer["Ref"] in resources]
    assert len(own) == 1
    layer = resources[own[0]]
    assert layer["Type"] == "AWS::Lambda::LayerVersion"
    assert layer["Properties"]["CompatibleRuntimes"] == [PYTHON_RUNTIME]
    assert layer["Properties"]["CompatibleArchitectures"] == [ARCHITECTURE]


def test_powertools_version_is_pinned_once() -> None:
    from infra.definitions import POWERTOOLS_VERSION

    assert _pinned_powertools_version() == POWERTOOLS_VERSION


def test_no_account_bound_layer_arn_in_the_template(template_dict: dict[str, Any]) -> None:
    """The Powertools layer account differs between partitions (and GovCloud regions), so the
    template names none: the regional SSM parameter resolves the ARN where it is deployed."""
    layer_arns = [
        json.dumps(layer)
        for fn in of_type(template_dict["Resources"], "AWS::Lambda::Function").values()
        for layer in fn["Properties"]["Layers"]
    ]
    assert not [arn for arn in layer_arns if ":layer:" in arn], layer_arns


def _asset_dir(synth: Synth, code: dict[str, Any]) -> Path:
    asset_hash = code["S3Key"].removesuffix(".zip")
    path = synth.outdir / f"asset.{asset_hash}"
    assert path.is_dir(), f"no staged asset {path}"
    return path


@pytest.mark.parametrize("fn", FUNCTIONS, ids=_fn_ids(list(FUNCTIONS)))
def test_function_code_is_only_its_package_and_handler_resolves(
    synth: Synth, resources: dict[str, dict[str, Any]], fn: FunctionDef
) -> None:
    asset = _asset_dir(synth, resources[fn.logical_id]["Properties"]["Code"])
    assert sorted(p.name for p in asset.iterdir()) == [fn.package]
    assert not list(asset.rglob("__pycache__"))
    module_path = fn.handler.rsplit(".", 1)[0].replace(".", "/") + ".py"
    assert (asset / module_path).is_file(), f"{fn.handler} does not resolve inside the asset"
    assert (FUNCTIONS_DIR / module_path).is_file()


def test_common_layer_ships_the_loyalty_package(synth: Synth, resources: dict[str, dict[str, Any]]) -> None:
    _, layer = _single(resources, "AWS::Lambda::LayerVersion")
    asset = _asset_dir(synth, layer["Properties"]["Content"])
    assert sorted(p.name for p in asset.iterdir()) == ["python"]
    assert (asset / "python" / "loyalty" / "__init__.py").is_file()


@pytest.mark.parametrize("fn", FUNCTIONS, ids=_fn_ids(list(FUNCTIONS)))
def test_function_environment(resources: dict[str, dict[str, Any]], fn: FunctionDef) -> None:
    parameter, _ = _parameter(resources, "/program-config")
    expected: dict[str, Any] = dict(
        function_environment(fn, sender_email=TEST_SENDER_EMAIL, program_config_parameter="unused")
    )
    expected["PROGRAM_CONFIG_PARAMETER"] = {"Ref": parameter}
    if fn.reads_care_rules:
        expected["CARE_RULES_PARAMETER"] = {"Ref": _parameter(resources, "/care-rules-defaults")[0]}
    if fn.reads_service_config:
        expected["SERVICE_CONFIG_PARAMETER"] = {"Ref": _parameter(resources, "/service-config")[0]}
    for table in TABLES:
        if table.logical_id in fn.tables:
            expected[table.env_var] = {"Ref": table.logical_id}
    if counts_storefront_requests(fn):
        expected[LOYALTY_TABLE.env_var] = {"Ref": LOYALTY_TABLE.logical_id}
    if fn.writes_reports or fn.reads_reports:
        expected["REPORTS_BUCKET"] = {"Ref": "ReportsBucket"}
    if fn.stream is not None:
        expected["DEAD_LETTER_QUEUE_URL"] = {"Ref": queue_id(resources, fn)}
        expected["STREAM_MAX_RETRIES"] = str(fn.stream.max_retries)
    variables = resources[fn.logical_id]["Properties"]["Environment"]["Variables"]
    if fn.uses_unsubscribe_key:
        expected["UNSUBSCRIBE_SECRET"] = {"Ref": _single(resources, "AWS::SecretsManager::Secret")[0]}
    if "CARE_EVENT_BUS" in expected:
        expected["CARE_EVENT_BUS"] = {"Ref": _single(resources, "AWS::Events::EventBus")[0]}
    if "PUBLIC_API_URL" in expected:  # the stage URL (tests/infra/test_unsubscribe_secret.py)
        expected["PUBLIC_API_URL"] = variables.get("PUBLIC_API_URL")
    assert variables == expected


def test_the_program_configuration_is_a_parameter_every_function_may_read(
    resources: dict[str, dict[str, Any]],
) -> None:
    from infra.definitions import program_config_json

    parameter_id, parameter = _parameter(resources, "/program-config")
    care_id, _ = _parameter(resources, "/care-rules-defaults")
    service_id, _ = _parameter(resources, "/service-config")
    assert parameter["Properties"]["Value"] == program_config_json()
    assert parameter["Properties"]["Name"] == "/LoyaltyStack/loyalty/program-config"
    for fn in FUNCTIONS:
        env = resources[fn.logical_id]["Properties"]["Environment"]["Variables"]
        assert "PROGRAM_CONFIG" not in env  # Lambda allows 4 KB for all variables
        statements = function_statements(resources, fn.logical_id)
        reads = [s for s in statements if "ssm:GetParameter" in as_list(s["Action"])]
        readable = [parameter_id] + ([care_id] if fn.reads_care_rules else [])
        readable += [service_id] if fn.reads_service_config else []
        assert reads and any(parameter_id in str(s["Resource"]) for s in reads), reads
        assert all(any(p in str(s["Resource"]) for p in readable) for s in reads), reads


def test_the_default_care_rules_are_a_parameter_only_their_readers_may_read(
    resources: dict[str, dict[str, Any]],
) -> None:
    from infra.definitions import care_rules_defaults_json

    parameter_id, parameter = _parameter(resources, "/care-rules-defaults")
    assert parameter["Properties"]["Value"] == care_rules_defaults_json()
    assert parameter["Properties"]["Name"] == "/LoyaltyStack/loyalty/care-rules-defaults"
    assert parameter["Properties"]["Tier"] == "Standard"
    readers = [fn.logical_id for fn in FUNCTIONS if fn.reads_care_rules]
    assert readers == ["CareTriggers", "CareRules", "CareRulesApi"]
    for fn in FUNCTIONS:
        reads = [
            s
            for s in function_statements(resources, fn.logical_id)
            if "ssm:GetParameter" in as_list(s["Action"]) and parameter_id in str(s["Resource"])
        ]
        assert bool(reads) == fn.reads_care_rules, fn.logical_id


def test_tracer_captures_no_responses_or_errors(resources: dict[str, dict[str, Any]]) -> None:
    """Handlers use @tracer.capture_lambda_handler, whose default records the response (one-time
    API keys, member data) and exception messages in X-Ray; every function turns both off."""
    functions = of_type(resources, "AWS::Lambda::Function")
    assert functions
    for logical_id, function in functions.items():
        env = function["Properties"].get("Environment", {}).get("Variables", {})
        assert env.get("POWERTOOLS_TRACER_CAPTURE_RESPONSE") == "false", logical_id
        assert env.get("POWERTOOLS_TRACER_CAPTURE_ERROR") == "false", logical_id


def test_default_limits_fit_together(resources: dict[str, dict[str, Any]]) -> None:
    """Defaults: the stage allows 1000 requests/s (burst 2000) for all storefronts together;
    a storefront's default limit stays within it; the admin function knows the stage rate."""
    _, stage = _single(resources, "AWS::ApiGateway::Stage")
    (settings,) = stage["Properties"]["MethodSettings"]
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (1000, 2000)
    for fn in FUNCTIONS:
        env = resources[fn.logical_id]["Properties"]["Environment"]["Variables"]
        if fn.logical_id == AUTHORIZER.logical_id or fn.routes:
            assert env["STOREFRONT_RATE_LIMIT"] == "100", fn.logical_id
            assert int(env["STOREFRONT_RATE_LIMIT"]) <= settings["ThrottlingRateLimit"]
        else:
            assert "STOREFRONT_RATE_LIMIT" not in env, fn.logical_id
        assert ("API_RATE_LIMIT" in env) == (fn.logical_id == "AdminApi"), fn.logical_id
    assert resources["AdminApi"]["Properties"]["Environment"]["Variables"]["API_RATE_LIMIT"] == "1000"


@pytest.mark.parametrize("fn", [fn for fn, _ in SCHEDULED], ids=[fn.logical_id for fn, _ in SCHEDULED])
def test_scheduled_function_async_failures_go_to_its_dlq(
    resources: dict[str, dict[str, Any]], fn: FunctionDef
) -> None:
    target = resources[fn.logical_id]["Properties"]["DeadLetterConfig"]["TargetArn"]
    assert target == {"Fn::GetAtt": [queue_id(resources, fn), "Arn"]}


def test_dead_letter_queues_per_definition(resources: dict[str, dict[str, Any]]) -> None:
    queues = of_type(resources, "AWS::SQS::Queue")
    expected = [fn for fn in FUNCTIONS if has_dead_letter_queue(fn)]
    assert len(queues) == len(expected)
    for fn in expected:
        props = queues[queue_id(resources, fn)]["Properties"]
        assert props["SqsManagedSseEnabled"] is True
    _assert_ssl_enforced(resources, "AWS::SQS::QueuePolicy", "Queues", set(queues))


# Streams --------------------------------------------------------------------


def test_one_event_source_mapping_per_stream_definition(resources: dict[str, dict[str, Any]]) -> None:
    assert len(of_type(resources, "AWS::Lambda::EventSourceMapping")) == len(STREAM_FUNCTIONS)


@pytest.mark.parametrize("fn", STREAM_FUNCTIONS, ids=_fn_ids(STREAM_FUNCTIONS))
def test_stream_subscription(resources: dict[str, dict[str, Any]], fn: FunctionDef) -> None:
    assert fn.stream is not None
    mappings = [
        m["Properties"]
        for m in of_type(resources, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": fn.logical_id}
    ]
    assert len(mappings) == 1
    esm = mappings[0]
    assert esm["EventSourceArn"] == {"Fn::GetAtt": [fn.stream.table, "StreamArn"]}
    assert esm["BatchSize"] == fn.stream.batch_size
    assert esm["MaximumRetryAttempts"] == fn.stream.max_retries
    assert esm["BisectBatchOnFunctionError"] is True
    assert esm["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert esm["StartingPosition"] == "TRIM_HORIZON"
    assert esm["DestinationConfig"] == {
        "OnFailure": {"Destination": {"Fn::GetAtt": [queue_id(resources, fn), "Arn"]}}
    }

    patterns = [json.loads(f["Pattern"]) for f in esm.get("FilterCriteria", {}).get("Filters", [])]
    new_image: dict[str, Any] = {}
    if fn.stream.event_types:
        new_image["type"] = {"S": list(fn.stream.event_types)}
    if fn.stream.kinds:
        new_image["kind"] = {"S": list(fn.stream.kinds)}
    expected: dict[str, Any] = {}
    if fn.stream.event_names:
        expected["eventName"] = list(fn.stream.event_names)
    if new_image:
        expected["dynamodb"] = {"NewImage": new_image}
    assert patterns == ([expected] if expected else [])


def test_filter_pattern_combines_types_and_kinds() -> None:
    from infra.definitions import StreamSourceDef

    both = StreamSourceDef(table="T", batch_size=1, max_retries=0, event_types=("a",), kinds=("k1", "k2"))
    assert json.loads(json.dumps(filter_pattern(both))) == {
        "eventName": ["INSERT"],
        "dynamodb": {"NewImage": {"type": {"S": ["a"]}, "kind": {"S": ["k1", "k2"]}}},
    }
    everything = StreamSourceDef(table="T", batch_size=1, max_retries=0, event_names=())
    assert filter_pattern(everything) is None


@pytest.mark.parametrize("fn", STREAM_FUNCTIONS, ids=_fn_ids(STREAM_FUNCTIONS))
def test_stream_function_may_send_failed_records_to_its_dead_letter_queue(
    resources: dict[str, dict[str, Any]], fn: FunctionDef
) -> None:
    statements = function_statements(resources, fn.logical_id)
    sends = [s for s in statements if "sqs:SendMessage" in as_list(s["Action"])]
    assert [s["Resource"] for s in sends] == [{"Fn::GetAtt": [queue_id(resources, fn), "Arn"]}]


def test_every_job_that_parks_items_has_an_alarm_on_them(resources: dict[str, dict[str, Any]]) -> None:
    alarms = _alarms(resources, "JobItemsParked")
    assert sorted(a["Dimensions"][0]["Value"] for a in alarms) == [
        "care_rules",
        "ingest",
        "points",
        "reports",
        "tickets",
    ]
    for alarm in alarms:
        assert (alarm["Namespace"], alarm["Statistic"], alarm["Threshold"]) == ("Loyalty", "Sum", 0)


def test_every_stream_consumer_has_an_iterator_age_alarm(resources: dict[str, dict[str, Any]]) -> None:
    alarms = _alarms(resources, "IteratorAge")
    assert sorted(a["Dimensions"][0]["Value"]["Ref"] for a in alarms) == sorted(
        fn.logical_id for fn in STREAM_FUNCTIONS
    )
    for alarm in alarms:
        assert (alarm["Namespace"], alarm["Statistic"], alarm["Threshold"]) == (
            "AWS/Lambda",
            "Maximum",
            3_600_000,
        )


@pytest.mark.parametrize("fn", STREAM_FUNCTIONS, ids=_fn_ids(STREAM_FUNCTIONS))
def test_stream_function_can_read_only_its_stream(
    resources: dict[str, dict[str, Any]], fn: FunctionDef
) -> None:
    assert fn.stream is not None
    statements = function_statements(resources, fn.logical_id)
    stream_actions = {
        action
        for s in statements
        for action in as_list(s["Action"])
        if action in {"dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream"}
    }
    assert stream_actions == {"dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream"}
    for s in statements:
        if "dynamodb:GetRecords" in as_list(s["Action"]):
            assert s["Resource"] == {"Fn::GetAtt": [fn.stream.table, "StreamArn"]}


# Schedules ------------------------------------------------------------------


def test_one_schedule_per_schedule_definition(resources: dict[str, dict[str, Any]]) -> None:
    assert len(of_type(resources, "AWS::Scheduler::Schedule")) == len(SCHEDULED)


@pytest.mark.parametrize(("fn", "schedule"), SCHEDULED, ids=[s.name for _, s in SCHEDULED])
def test_schedule(resources: dict[str, dict[str, Any]], fn: FunctionDef, schedule: ScheduleDef) -> None:
    found = [
        s["Properties"]
        for s in of_type(resources, "AWS::Scheduler::Schedule").values()
        if s["Properties"]["Name"].endswith(f"-{schedule.name}")
    ]
    assert len(found) == 1
    props = found[0]
    assert props["ScheduleExpression"] == schedule.expression
    assert props["ScheduleExpressionTimezone"] == schedule.time_zone
    assert props["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert props["State"] == "ENABLED"
    target = props["Target"]
    assert target["Arn"] == {"Fn::GetAtt": [fn.logical_id, "Arn"]}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id(resources, fn), "Arn"]}}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    assert json.loads(target["Input"]) == {
        "job": schedule.job,
        "schedule": schedule.name,
        "scheduled_time": "<aws.scheduler.scheduled-time>",
    }
    role_id = target["RoleArn"]["Fn::GetAtt"][0]
    role_actions = set()
    for policy in of_type(resources, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            for s in as_list(policy["Properties"]["PolicyDocument"]["Statement"]):
                role_actions |= set(as_list(s["Action"]))
                assert referenced_ids(s["Resource"]) <= {fn.logical_id, queue_id(resources, fn)}
    assert role_actions == {"lambda:InvokeFunction", "sqs:SendMessage"}


# API ------------------------------------------------------------------------


def test_one_method_per_route(resources: dict[str, dict[str, Any]]) -> None:
    assert len(of_type(resources, "AWS::ApiGateway::Method")) == len(ROUTES)


@pytest.mark.parametrize(("fn", "route"), ROUTES, ids=[f"{r.method} {r.path}" for _, r in ROUTES])
def test_route_integrates_its_function(
    resources: dict[str, dict[str, Any]], fn: FunctionDef, route: RouteDef
) -> None:
    methods = [
        m["Properties"]
        for m in of_type(resources, "AWS::ApiGateway::Method").values()
        if m["Properties"]["HttpMethod"] == route.method
        and api_resource_path(resources, m["Properties"]["ResourceId"]["Ref"]) == route.path
    ]
    assert len(methods) == 1
    method = methods[0]
    assert method["Integration"]["Type"] == "AWS_PROXY"
    assert referenced_ids(method["Integration"]["Uri"]) & {f.logical_id for f in FUNCTIONS} == {fn.logical_id}
    authorizer_id, _ = _single(resources, "AWS::ApiGateway::Authorizer")
    if route.authorized:
        assert method["AuthorizationType"] == "CUSTOM"
        assert method["AuthorizerId"] == {"Ref": authorizer_id}
    else:
        assert method["AuthorizationType"] == "NONE"


def test_authorizer(resources: dict[str, dict[str, Any]]) -> None:
    _, authorizer = _single(resources, "AWS::ApiGateway::Authorizer")
    props = authorizer["Properties"]
    assert props["Type"] == "REQUEST"
    assert props["IdentitySource"] == "method.request.header.x-api-key"
    assert props["AuthorizerResultTtlInSeconds"] == 300
    assert AUTHORIZER.logical_id in referenced_ids(props["AuthorizerUri"])


def test_stage_throttling_tracing_and_access_logs(
    template: Template, resources: dict[str, dict[str, Any]]
) -> None:
    template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "TracingEnabled": True,
            "MethodSettings": Match.array_with(
                [
                    Match.object_like(
                        {
                            "HttpMethod": "*",
                            "ResourcePath": "/*",
                            "ThrottlingRateLimit": API_THROTTLE_RATE,
                            "ThrottlingBurstLimit": API_THROTTLE_BURST,
                        }
                    )
                ]
            ),
        },
    )
    _, stage = _single(resources, "AWS::ApiGateway::Stage")
    access = stage["Properties"]["AccessLogSetting"]
    assert json.loads(access["Format"])["status"] == "$context.status"
    targets = [r for r in referenced_ids(access["DestinationArn"]) if r in resources]
    assert [resources[r]["Type"] for r in targets] == ["AWS::Logs::LogGroup"]


def test_api_gateway_account_has_a_cloudwatch_role(resources: dict[str, dict[str, Any]]) -> None:
    """Access logging needs the region's API Gateway CloudWatch role; a fresh account has none,
    so the stack sets it (retained on deletion) and the stage waits for it."""
    account_id, account = _single(resources, "AWS::ApiGateway::Account")
    assert account.get("DeletionPolicy") == "Retain"
    role_arn = account["Properties"]["CloudWatchRoleArn"]
    assert set(role_arn) == {"Fn::GetAtt"} and role_arn["Fn::GetAtt"][1] == "Arn"
    role = resources[role_arn["Fn::GetAtt"][0]]
    assert role["Type"] == "AWS::IAM::Role"
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"}}
    ]
    assert [json.dumps(arn) for arn in role["Properties"]["ManagedPolicyArns"]] == [
        json.dumps(
            {
                "Fn::Join": [
                    "",
                    [
                        "arn:",
                        {"Ref": "AWS::Partition"},
                        ":iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
                    ],
                ]
            }
        )
    ]
    assert "Policies" not in role["Properties"]
    _, stage = _single(resources, "AWS::ApiGateway::Stage")
    assert account_id in as_list(stage.get("DependsOn", []))


# IAM ------------------------------------------------------------------------


def test_every_function_has_its_own_role(resources: dict[str, dict[str, Any]]) -> None:
    roles = [role_of_function(resources, fn.logical_id) for fn in FUNCTIONS]
    assert len(set(roles)) == len(FUNCTIONS)
    for role in roles:
        assert "ManagedPolicyArns" not in resources[role]["Properties"]


@pytest.mark.parametrize("fn", FUNCTIONS, ids=_fn_ids(list(FUNCTIONS)))
def test_table_access_matches_definition(resources: dict[str, dict[str, Any]], fn: FunctionDef) -> None:
    statements = function_statements(resources, fn.logical_id)
    for table in TABLES:
        granted = {a for a in actions_on(statements, table.logical_id) if a.startswith("dynamodb:")}
        # Stream reads are on the table's StreamArn, checked separately.
        granted -= {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"}
        access = fn.tables.get(table.logical_id)
        if table is LOYALTY_TABLE and needs_throttle_grant(fn):
            # The throttle window counter, checked in the next test.
            granted -= {"dynamodb:UpdateItem"}
        if fn is AUTHORIZER and table is LOYALTY_TABLE:
            # GetItem on credential and storefront items only, checked below.
            assert granted == {"dynamodb:GetItem"}
            continue
        if access is None:
            assert not granted, f"{fn.logical_id} may not touch {table.logical_id}: {granted}"
        elif access == "read":
            assert {"dynamodb:GetItem", "dynamodb:Query"} <= granted
            assert not granted & DYNAMO_WRITE_ACTIONS
        else:
            assert {"dynamodb:GetItem", "dynamodb:Query"} | DYNAMO_WRITE_ACTIONS <= granted


API_FUNCTIONS = [fn for fn in FUNCTIONS if counts_storefront_requests(fn)]


@pytest.mark.parametrize("fn", API_FUNCTIONS, ids=_fn_ids(API_FUNCTIONS))
def test_every_api_function_can_update_the_throttle_counter(
    resources: dict[str, dict[str, Any]], fn: FunctionDef
) -> None:
    statements = [
        s
        for s in function_statements(resources, fn.logical_id)
        if s["Effect"] == "Allow"
        and "dynamodb:UpdateItem" in as_list(s["Action"])
        and LOYALTY_TABLE.logical_id in referenced_ids(s["Resource"])
    ]
    assert statements, f"{fn.logical_id} cannot count requests in the LoyaltyTable"
    if not needs_throttle_grant(fn):
        return  # it writes to the LoyaltyTable anyway
    # Least privilege: UpdateItem only, on the table (no index), on throttle counter items only.
    assert len(statements) == 1
    (statement,) = statements
    assert as_list(statement["Action"]) == ["dynamodb:UpdateItem"]
    assert statement["Resource"] == {"Fn::GetAtt": [LOYALTY_TABLE.logical_id, "Arn"]}
    condition = statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
    assert as_list(condition) == [THROTTLE_LEADING_KEYS]
    assert fnmatch.fnmatchcase(throttle_pk("demo", "demo-web"), THROTTLE_LEADING_KEYS)
    assert not fnmatch.fnmatchcase("T#demo#M#m-1", THROTTLE_LEADING_KEYS)
    # ... and may use the data key through DynamoDB to do so.
    data_key_id, _ = _single(resources, "AWS::KMS::Key")
    kms = {
        action
        for s in function_statements(resources, fn.logical_id)
        if data_key_id in referenced_ids(s["Resource"])
        and "dynamodb." in json.dumps(s.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService"))
        for action in as_list(s["Action"])
    }
    assert {"kms:Decrypt", "kms:GenerateDataKey"} <= kms


def _policy_statements(resources: dict[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(resource id, statement) of every identity policy in the template."""
    found: list[tuple[str, dict[str, Any]]] = []
    for logical_id, resource in resources.items():
        props = resource.get("Properties", {})
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            found += [(logical_id, s) for s in as_list(props["PolicyDocument"]["Statement"])]
        elif resource["Type"] in ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"):
            for policy in props.get("Policies", []):
                found += [(logical_id, s) for s in as_list(policy["PolicyDocument"]["Statement"])]
    return found


def test_no_policy_grants_scan(resources: dict[str, dict[str, Any]]) -> None:
    statements = _policy_statements(resources)
    assert statements
    for logical_id, statement in statements:
        assert "NotAction" not in statement, (logical_id, statement)
        if statement["Effect"] != "Allow":
            continue
        for action in as_list(statement["Action"]):
            # IAM action names are case-insensitive; "*" and "dynamodb:*" grant Scan too.
            assert not fnmatch.fnmatchcase("dynamodb:scan", action.lower()), (logical_id, action)


def test_authorizer_reads_only_credential_items(resources: dict[str, dict[str, Any]]) -> None:
    dynamo = [
        s
        for s in function_statements(resources, AUTHORIZER.logical_id)
        if any(a.startswith("dynamodb:") for a in as_list(s["Action"]))
    ]
    assert len(dynamo) == 1, dynamo
    (statement,) = dynamo
    assert statement["Effect"] == "Allow"
    assert as_list(statement["Action"]) == ["dynamodb:GetItem"]
    # The table itself: no index, no stream.
    assert statement["Resource"] == {"Fn::GetAtt": [LOYALTY_TABLE.logical_id, "Arn"]}
    condition = statement["Condition"]
    assert set(condition) == {"ForAllValues:StringLike"}
    leading = as_list(condition["ForAllValues:StringLike"]["dynamodb:LeadingKeys"])
    # loyalty.credentials reads the credential (APIKEY#<sha256>) and the storefront's rate
    # limit on the tenant partition (TENANT#<tenant>); nothing else.
    assert sorted(leading) == sorted([api_key_pk("*"), tenant_pk("*")]) == ["APIKEY#*", "TENANT#*"]

    def allowed(pk: str) -> bool:
        return any(fnmatch.fnmatchcase(pk, pattern) for pattern in leading)

    assert allowed(api_key_pk("0" * 64))
    assert allowed(tenant_pk("demo"))
    assert not allowed(member_pk("demo", "m-1"))
    assert not allowed(throttle_pk("demo", "demo-web"))


def test_authorizer_is_read_only_and_cannot_email(resources: dict[str, dict[str, Any]]) -> None:
    actions = all_actions(function_statements(resources, AUTHORIZER.logical_id))
    assert not actions & DYNAMO_WRITE_ACTIONS
    assert not {a for a in actions if a.startswith("ses:") or a.startswith("s3:")}


@pytest.mark.parametrize("fn", FUNCTIONS, ids=_fn_ids(list(FUNCTIONS)))
def test_only_email_functions_send_email_as_the_sender(
    resources: dict[str, dict[str, Any]], fn: FunctionDef
) -> None:
    statements = function_statements(resources, fn.logical_id)
    ses = [s for s in statements if any(a.startswith("ses:") for a in as_list(s["Action"]))]
    if not fn.sends_email:
        assert not ses
        return
    identity_id, _ = _single(resources, "AWS::SES::EmailIdentity")
    assert {a for s in ses for a in as_list(s["Action"])} == {"ses:SendEmail", "ses:SendRawEmail"}
    for s in ses:
        assert identity_id in referenced_ids(s["Resource"])


@pytest.mark.parametrize("fn", FUNCTIONS, ids=_fn_ids(list(FUNCTIONS)))
def test_only_the_report_writer_puts_reports(resources: dict[str, dict[str, Any]], fn: FunctionDef) -> None:
    s3_actions = {
        a for a in all_actions(function_statements(resources, fn.logical_id)) if a.startswith("s3:")
    }
    expected = ({"s3:PutObject"} if fn.writes_reports else set()) | (
        {"s3:GetObject"} if fn.reads_reports else set()
    )
    assert s3_actions == expected


@pytest.mark.parametrize("fn", FUNCTIONS, ids=_fn_ids(list(FUNCTIONS)))
def test_wildcards_only_where_iam_has_no_resource_scope(
    resources: dict[str, dict[str, Any]], fn: FunctionDef
) -> None:
    allowed = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
    if fn.stream is not None:
        allowed.add("dynamodb:ListStreams")
    for s in function_statements(resources, fn.logical_id):
        actions = as_list(s["Action"])
        assert not [a for a in actions if "*" in a], s
        if "*" in as_list(s["Resource"]):
            assert set(actions) <= allowed, s


@pytest.mark.parametrize("fn", FUNCTIONS, ids=_fn_ids(list(FUNCTIONS)))
def test_dlq_send_only_to_own_queue(resources: dict[str, dict[str, Any]], fn: FunctionDef) -> None:
    statements = function_statements(resources, fn.logical_id)
    queues = set(of_type(resources, "AWS::SQS::Queue"))
    reachable = {q for s in statements for q in referenced_ids(s["Resource"]) if q in queues}
    assert reachable == ({queue_id(resources, fn)} if has_dead_letter_queue(fn) else set())


# Data -----------------------------------------------------------------------


@pytest.mark.parametrize("table", TABLES, ids=[t.logical_id for t in TABLES])
def test_table_protection(resources: dict[str, dict[str, Any]], table: TableDef) -> None:
    key_id, key = _single(resources, "AWS::KMS::Key")
    assert key["Properties"]["EnableKeyRotation"] is True
    props = resources[table.logical_id]["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"] == {
        "SSEEnabled": True,
        "SSEType": "KMS",
        "KMSMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]},
    }
    assert resources[table.logical_id].get("DeletionPolicy") == "Retain"
    if table.ttl_attribute:
        assert props["TimeToLiveSpecification"] == {"AttributeName": table.ttl_attribute, "Enabled": True}
    else:
        assert "TimeToLiveSpecification" not in props
    if table.stream_view_type:
        assert props["StreamSpecification"] == {"StreamViewType": table.stream_view_type}
    else:
        assert "StreamSpecification" not in props
    assert sorted(i["IndexName"] for i in props.get("GlobalSecondaryIndexes", [])) == sorted(
        i.name for i in table.indexes
    )


def _assert_ssl_enforced(
    resources: dict[str, dict[str, Any]], policy_type: str, target_key: str, targets: set[str]
) -> None:
    covered: set[str] = set()
    for policy in of_type(resources, policy_type).values():
        props = policy["Properties"]
        denies_insecure = any(
            s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
            for s in as_list(props["PolicyDocument"]["Statement"])
        )
        if denies_insecure:
            covered |= referenced_ids(props[target_key])
    assert targets <= covered, f"no TLS-only policy for {targets - covered}"


def test_buckets_private_encrypted_tls_only(resources: dict[str, dict[str, Any]]) -> None:
    buckets = of_type(resources, "AWS::S3::Bucket")
    for props in (b["Properties"] for b in buckets.values()):
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    reports = buckets["ReportsBucket"]["Properties"]
    key_id, _ = _single(resources, "AWS::KMS::Key")
    assert reports["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]}}
    assert reports["VersioningConfiguration"] == {"Status": "Enabled"}
    assert reports["LoggingConfiguration"]["DestinationBucketName"]["Ref"] in buckets
    _assert_ssl_enforced(resources, "AWS::S3::BucketPolicy", "Bucket", set(buckets))


def test_sender_identity(resources: dict[str, dict[str, Any]]) -> None:
    """The sender comes from context ``sender_email``: here the address identity."""
    _, identity = _single(resources, "AWS::SES::EmailIdentity")
    assert identity["Properties"]["EmailIdentity"] == TEST_SENDER_EMAIL
    assert not {"DkimAttributes", "DkimSigningAttributes"} & set(identity["Properties"])
    for fn in FUNCTIONS:
        env = resources[fn.logical_id]["Properties"]["Environment"]["Variables"]
        assert env.get("SENDER_EMAIL") == (TEST_SENDER_EMAIL if fn.sends_email else None)


# Monitoring -----------------------------------------------------------------


def _alarms(resources: dict[str, dict[str, Any]], metric: str) -> list[dict[str, Any]]:
    return [
        a["Properties"]
        for a in of_type(resources, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == metric
    ]


def _assert_alarm_shape(resources: dict[str, dict[str, Any]], alarm: dict[str, Any]) -> None:
    topic_id, topic = _single(resources, "AWS::SNS::Topic")
    assert alarm["AlarmActions"] == [{"Ref": topic_id}]
    assert alarm["Threshold"] == 0
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["Period"] == 300
    assert alarm["EvaluationPeriods"] == 1


def test_alarm_topic_encrypted_and_tls_only(resources: dict[str, dict[str, Any]]) -> None:
    topic_id, topic = _single(resources, "AWS::SNS::Topic")
    key_id, _ = _single(resources, "AWS::KMS::Key")
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    _assert_ssl_enforced(resources, "AWS::SNS::TopicPolicy", "Topics", {topic_id})


def test_every_function_has_an_error_alarm(resources: dict[str, dict[str, Any]]) -> None:
    """Lambda's Errors metric for every function but the authorizer (next test)."""
    alarms = _alarms(resources, "Errors")
    watched = [a["Dimensions"] for a in alarms]
    assert sorted(d[0]["Value"]["Ref"] for d in watched) == sorted(
        fn.logical_id for fn in FUNCTIONS if fn is not AUTHORIZER
    )
    for alarm in alarms:
        assert alarm["Namespace"] == "AWS/Lambda"
        assert alarm["Statistic"] == "Sum"
        _assert_alarm_shape(resources, alarm)


def test_alarm_topic_mails_the_alarm_email(resources: dict[str, dict[str, Any]]) -> None:
    topic_id, _ = _single(resources, "AWS::SNS::Topic")
    _, subscription = _single(resources, "AWS::SNS::Subscription")
    assert subscription["Properties"] == {
        "Protocol": "email",
        "Endpoint": TEST_ALARM_EMAIL,
        "TopicArn": {"Ref": topic_id},
    }


def test_every_dlq_has_a_depth_alarm(resources: dict[str, dict[str, Any]]) -> None:
    alarms = _alarms(resources, "ApproximateNumberOfMessagesVisible")
    watched = sorted(a["Dimensions"][0]["Value"]["Fn::GetAtt"][0] for a in alarms)
    assert watched == sorted(of_type(resources, "AWS::SQS::Queue"))
    for alarm in alarms:
        _assert_alarm_shape(resources, alarm)


def test_api_5xx_alarm(resources: dict[str, dict[str, Any]]) -> None:
    alarms = _alarms(resources, "5XXError")
    assert len(alarms) == 1
    assert alarms[0]["Namespace"] == "AWS/ApiGateway"
    assert {d["Name"] for d in alarms[0]["Dimensions"]} == {"ApiName", "Stage"}
    _assert_alarm_shape(resources, alarms[0])


def test_gateway_errors_follow_the_error_contract(template: Template) -> None:  # type: ignore[no-untyped-def]
    import json as _json

    responses = template.find_resources("AWS::ApiGateway::GatewayResponse")
    by_type = {r["Properties"]["ResponseType"]: r["Properties"] for r in responses.values()}
    assert by_type["UNAUTHORIZED"]["StatusCode"] == "401"
    assert by_type["MISSING_AUTHENTICATION_TOKEN"]["StatusCode"] == "404"
    body = _json.loads(by_type["UNAUTHORIZED"]["ResponseTemplates"]["application/json"])
    assert body == {"error": {"code": "unauthorized", "message": "missing or unknown API key", "field": None}}
