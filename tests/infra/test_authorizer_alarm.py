"""The authorizer's alarm counts real failures, not rejected keys.

A rejected key is ``PermissionError("Unauthorized")`` (API Gateway's contract for a 401), which
Lambda counts in AWS/Lambda ``Errors``. The alarm instead watches a metric filter on the
authorizer's log group; here the synthesized filter pattern is evaluated against the log lines
the authorizer really writes: Powertools Logger's (produced by the pinned Powertools) and the
Python runtime's line for an unhandled exception (awslambdaric ``bootstrap.log_error`` with
JSON log format: ``{"timestamp", "level": "ERROR", "errorMessage", "errorType", "requestId",
"stackTrace"}``).
"""

from __future__ import annotations

import functools
import io
import json
import re
from typing import Any

import pytest
from template_queries import of_type

from infra.definitions import AUTHORIZER

pytestmark = pytest.mark.infra

_COMPARISON = re.compile(r'\$\.([A-Za-z_][A-Za-z0-9_.]*)\s*(=|!=)\s*"([^"]*)"')
_NOT_EXISTS = re.compile(r"\$\.([A-Za-z_][A-Za-z0-9_.]*)\s+NOT EXISTS")


def _field(event: dict[str, Any], path: str) -> Any:
    value: Any = event
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


_MISSING = object()


def matches(pattern: str, event: dict[str, Any]) -> bool:
    """Evaluate the JSON filter pattern subset CDK's FilterPattern generates (string = / !=,
    NOT EXISTS, && and ||, parentheses). A comparison on a missing field does not match."""
    body = pattern.strip()
    assert body.startswith("{") and body.endswith("}"), pattern
    expression = body[1:-1]
    values: list[bool] = []

    def comparison(match: re.Match[str]) -> str:
        value = _field(event, match.group(1))
        if value is _MISSING:
            result = False
        elif match.group(2) == "=":
            result = value == match.group(3)
        else:
            result = value != match.group(3)
        values.append(result)
        return f" _v[{len(values) - 1}] "

    def not_exists(match: re.Match[str]) -> str:
        values.append(_field(event, match.group(1)) is _MISSING)
        return f" _v[{len(values) - 1}] "

    expression = _NOT_EXISTS.sub(not_exists, expression)
    expression = _COMPARISON.sub(comparison, expression)
    expression = expression.replace("&&", " and ").replace("||", " or ")
    assert re.fullmatch(r"[\s()_v\[\]0-9andor]*", expression), f"unsupported pattern: {pattern}"
    return bool(eval(expression, {"__builtins__": {}}, {"_v": values}))  # noqa: S307 - vetted tokens only


def runtime_error_line(error_type: str, message: str) -> dict[str, Any]:
    """What the Python runtime logs for an exception escaping the handler (JSON log format)."""
    return {
        "timestamp": "2026-03-10T09:00:00Z",
        "level": "ERROR",
        "errorMessage": message,
        "errorType": error_type,
        "requestId": "8f5d6c1e-0000-4000-8000-000000000000",
        "stackTrace": ['  File "/var/task/ingest/storefronts/authorizer.py", line 50, in lambda_handler\n'],
    }


@functools.cache
def powertools_lines() -> dict[str, dict[str, Any]]:
    """Lines of a Logger like the authorizer's, formatted by the pinned Powertools (once: a
    second Logger of the same service would reuse the first one's handler and stream)."""
    from aws_lambda_powertools import Logger

    stream = io.StringIO()
    logger = Logger(service="authorizer-alarm-test", stream=stream, level="DEBUG")
    logger.info("rejected key")
    logger.warning("credential lookup retried")
    logger.error("credential table not configured")
    try:
        raise KeyError("pk")
    except KeyError:
        logger.exception("credential lookup failed")
    logger.critical("authorizer cannot start")
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    assert [line["level"] for line in lines] == ["INFO", "WARNING", "ERROR", "ERROR", "CRITICAL"]
    return dict(zip(["info", "warning", "error", "exception", "critical"], lines, strict=True))


@pytest.fixture(scope="module")
def failure_filter(template_dict: dict[str, Any]) -> dict[str, Any]:
    resources = template_dict["Resources"]
    authorizer_logs = resources[AUTHORIZER.logical_id]["Properties"]["LoggingConfig"]["LogGroup"]
    filters = [
        f["Properties"]
        for f in of_type(resources, "AWS::Logs::MetricFilter").values()
        if f["Properties"]["LogGroupName"] == authorizer_logs
    ]
    assert len(filters) == 1, f"expected one metric filter on the authorizer's log group, found {filters}"
    return filters[0]


def test_authorizer_has_no_alarm_on_lambda_errors(template_dict: dict[str, Any]) -> None:
    """Lambda's Errors metric counts every rejected key; no alarm may watch it for the authorizer."""
    for alarm in of_type(template_dict["Resources"], "AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        if props.get("Namespace") == "AWS/Lambda":
            assert {"Ref": AUTHORIZER.logical_id} not in [d["Value"] for d in props.get("Dimensions", [])]


def test_authorizer_failure_alarm_watches_the_filter(
    template_dict: dict[str, Any], failure_filter: dict[str, Any]
) -> None:
    resources = template_dict["Resources"]
    (transformation,) = failure_filter["MetricTransformations"]
    assert transformation["MetricValue"] == "1"
    alarms = [
        a["Properties"]
        for a in of_type(resources, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == transformation["MetricName"]
        and a["Properties"].get("Namespace") == transformation["MetricNamespace"]
    ]
    assert len(alarms) == 1
    (alarm,) = alarms
    (topic_id,) = of_type(resources, "AWS::SNS::Topic")
    assert alarm["AlarmActions"] == [{"Ref": topic_id}]
    assert alarm["Statistic"] == "Sum"
    assert "Dimensions" not in alarm
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    assert (alarm["Period"], alarm["EvaluationPeriods"]) == (300, 1)
    assert alarm["TreatMissingData"] == "notBreaching"


def test_a_rejected_key_is_not_a_failure(failure_filter: dict[str, Any]) -> None:
    pattern = failure_filter["FilterPattern"]
    assert not matches(pattern, runtime_error_line("PermissionError", "Unauthorized"))
    assert not matches(pattern, powertools_lines()["info"])  # logger.info("rejected key")
    assert not matches(pattern, powertools_lines()["warning"])


@pytest.mark.parametrize(
    ("error_type", "message"),
    [
        ("ClientError", "An error occurred (ProvisionedThroughputExceededException) when calling GetItem"),
        ("RuntimeError", "setting loyalty_table is not configured for this function"),
        (
            "Runtime.ImportModuleError",
            "Unable to import module 'ingest.storefronts.authorizer': No module named 'x'",
        ),
        ("PermissionError", "[Errno 13] Permission denied: '/tmp/cache'"),
    ],
)
def test_an_unhandled_exception_is_a_failure(
    failure_filter: dict[str, Any], error_type: str, message: str
) -> None:
    assert matches(failure_filter["FilterPattern"], runtime_error_line(error_type, message))


@pytest.mark.parametrize("kind", ["error", "exception", "critical"])
def test_an_error_logged_by_the_authorizer_is_a_failure(failure_filter: dict[str, Any], kind: str) -> None:
    assert matches(failure_filter["FilterPattern"], powertools_lines()[kind])


def test_pattern_evaluator_is_live() -> None:
    assert matches('{ $.level = "ERROR" }', {"level": "ERROR"})
    assert not matches('{ $.level = "ERROR" }', {"message": "no level"})
    assert matches('{ ($.a NOT EXISTS) || ($.a != "x") }', {})
    assert not matches('{ ($.a = "x") && ($.b = "y") }', {"a": "x"})
