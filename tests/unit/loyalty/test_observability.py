"""loyalty.observability and the settings check of a cold start: one Logger, Tracer
and Metrics per service, X-Ray only when tracing is on (Powertools' own rule), and a
function missing a required variable fails at import, naming it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.definitions import (
    LOCAL_SENDER_EMAIL,
    POINTS_EARN,
    REPORTS,
    TABLES,
    FunctionDef,
    function_environment,
)
from loyalty import observability
from loyalty.settings import MissingSettings, Settings

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("env", "enabled"),
    [
        ({}, False),  # outside Lambda
        ({"LAMBDA_TASK_ROOT": "/var/task"}, True),
        ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "true"}, False),
        ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "1"}, False),
        ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "false"}, True),
        ({"LAMBDA_TASK_ROOT": "/var/task", "AWS_SAM_LOCAL": "true"}, False),
        ({"LAMBDA_TASK_ROOT": "/var/task", "AWS_CHALICE_CLI_MODE": "true"}, False),
    ],
)
def test_tracing_follows_powertools_rule(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], enabled: bool
) -> None:
    from aws_lambda_powertools import Tracer

    for name in ("LAMBDA_TASK_ROOT", "POWERTOOLS_TRACE_DISABLED", "AWS_SAM_LOCAL", "AWS_CHALICE_CLI_MODE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert observability.tracing_enabled() is enabled
    assert bool(Tracer._is_tracer_disabled()) is not enabled  # the rule it mirrors


def test_disabled_tracer_decorators_return_what_they_decorate() -> None:
    tracer = observability.DisabledTracer("points")

    def handler(event: dict[str, Any], context: Any) -> str:
        return "answered"

    assert tracer.capture_lambda_handler(handler) is handler
    assert tracer.capture_lambda_handler(capture_response=False)(handler) is handler
    assert tracer.capture_method(handler) is handler
    assert tracer.capture_method(capture_error=False)(handler) is handler
    tracer.put_annotation("ColdStart", True)
    tracer.put_metadata("key", {"value": 1})
    assert handler({}, None) == "answered"


def test_one_set_of_instruments_per_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POWERTOOLS_SERVICE_NAME", raising=False)
    assert observability.logger_for("points.api") is observability.logger_for("points.stream")
    assert observability.metrics_for("points.api") is observability.metrics_for("points.schedule")
    assert observability.tracer_for("points.api") is observability.tracer_for("points.stream")
    assert observability.logger_for("points.api").service == "points"
    assert observability.logger_for("ingest.storefronts.authorizer").service == "ingest"
    assert observability.metrics_for("tickets.api").namespace == "Loyalty"
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "care_rules")
    assert observability.service_of("points.api") == "care_rules"  # the function's variable wins


def test_entry_modules_share_the_instruments_of_their_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POWERTOOLS_SERVICE_NAME", raising=False)
    from ingest.events import api as events_api
    from ingest.members import api as members_api
    from ingest.members import stream as projector
    from points import api as points_api

    assert events_api.logger is members_api.logger is projector.logger
    assert events_api.logger.name == "ingest"
    assert points_api.logger.name == "points"
    assert isinstance(points_api.tracer, observability.DisabledTracer)  # tracing is off in tests


def test_required_settings_name_every_missing_variable() -> None:
    env = {"REQUIRED_SETTINGS": "EVENTS_TABLE,LOYALTY_TABLE,SENDER_EMAIL", "EVENTS_TABLE": "events"}
    with pytest.raises(MissingSettings) as raised:
        Settings.model_validate({**env, "SENDER_EMAIL": " "})
    assert raised.value.missing == ["LOYALTY_TABLE", "SENDER_EMAIL"]
    assert "LOYALTY_TABLE" in str(raised.value) and "SENDER_EMAIL" in str(raised.value)
    with pytest.raises(MissingSettings, match="not a setting: LOYALTY_TABEL"):
        Settings.model_validate({**env, "REQUIRED_SETTINGS": "LOYALTY_TABEL"})
    settings = Settings.model_validate({**env, "LOYALTY_TABLE": "loyalty", "SENDER_EMAIL": "a@b.example"})
    assert settings.loyalty_table == "loyalty"
    assert Settings.model_validate({}).loyalty_table == ""  # nothing listed, nothing required


def _function_env(fn: FunctionDef) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in (".", "functions", "layers/common/python")),
        "AWS_DEFAULT_REGION": "eu-central-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        **function_environment(fn, sender_email=LOCAL_SENDER_EMAIL),
    }
    env.update({t.env_var: f"test-{t.logical_id}" for t in TABLES if t.logical_id in fn.tables})
    if fn.writes_reports:
        env["REPORTS_BUCKET"] = "test-reports"
    return env


def _import(fn: FunctionDef, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    module = fn.handler.rsplit(".", 1)[0]
    probe = f"import json, sys; import {module}; print(json.dumps(sorted(sys.modules)))"
    return subprocess.run(  # noqa: S603 - this interpreter, this repository's modules
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(("fn", "dropped"), [(POINTS_EARN, ["LOYALTY_TABLE"]), (REPORTS, ["REPORTS_BUCKET"])])
def test_a_function_missing_a_variable_fails_at_import(fn: FunctionDef, dropped: list[str]) -> None:
    env = _function_env(fn)
    for name in dropped:
        env.pop(name)
    done = _import(fn, env)
    assert done.returncode != 0
    assert "MissingSettings" in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    for name in dropped:
        assert name in last
    assert _import(fn, {**env, **{name: "set" for name in dropped}}).returncode == 0


def test_a_stream_function_imports_neither_xray_nor_the_event_handler_with_tracing_off() -> None:
    done = _import(POINTS_EARN, _function_env(POINTS_EARN))
    assert done.returncode == 0, done.stderr[-2000:]
    modules = json.loads(done.stdout)
    assert not [m for m in modules if m.startswith("aws_xray_sdk")]
    assert not [m for m in modules if m.startswith("aws_lambda_powertools.event_handler")]
