"""Each function's ``REQUIRED_SETTINGS`` names exactly what it was given: its tables'
variables, the sender when it sends email, the bucket when it writes or reads reports, the
unsubscribe secret (and, when it sends email, the public API URL) when it uses the
unsubscribe key; the
deployed template and the local stack provide every one of them."""

from __future__ import annotations

from typing import Any

import pytest

from infra.definitions import (
    FUNCTIONS,
    LOCAL_SENDER_EMAIL,
    TABLES,
    FunctionDef,
    function_environment,
    required_settings,
)
from infra.local.resources import local_required_settings
from loyalty.settings import Settings

pytestmark = pytest.mark.infra
IDS = [fn.logical_id for fn in FUNCTIONS]


def _listed(env: dict[str, Any]) -> list[str]:
    return str(env["REQUIRED_SETTINGS"]).split(",")


@pytest.mark.parametrize("fn", FUNCTIONS, ids=IDS)
def test_required_settings_name_exactly_the_functions_tables(fn: FunctionDef) -> None:
    expected = {t.env_var for t in TABLES if t.logical_id in fn.tables}
    if fn.sends_email:
        expected.add("SENDER_EMAIL")
    if fn.writes_reports or fn.reads_reports:
        expected.add("REPORTS_BUCKET")
    if fn.uses_unsubscribe_key:
        expected.add("UNSUBSCRIBE_SECRET")
        if fn.sends_email:
            expected.add("PUBLIC_API_URL")
    if fn.publishes_care_events:
        expected.add("CARE_EVENT_BUS")
    listed = _listed(function_environment(fn, sender_email=LOCAL_SENDER_EMAIL))
    assert listed == sorted(expected)
    assert tuple(listed) == required_settings(fn)


def test_every_required_name_is_a_setting() -> None:
    known = {str(f.alias) for f in Settings.model_fields.values()}
    for fn in FUNCTIONS:
        assert set(required_settings(fn)) <= known, fn.logical_id


@pytest.mark.parametrize("fn", FUNCTIONS, ids=IDS)
def test_the_template_gives_each_function_what_it_requires(
    template_dict: dict[str, Any], fn: FunctionDef
) -> None:
    env = template_dict["Resources"][fn.logical_id]["Properties"]["Environment"]["Variables"]
    for name in _listed(env):
        assert env.get(name), f"{fn.logical_id} requires {name}, which the template does not set"


def test_the_local_stack_requires_what_any_function_requires() -> None:
    union = {name for fn in FUNCTIONS for name in required_settings(fn)}
    assert local_required_settings().split(",") == sorted(union)
