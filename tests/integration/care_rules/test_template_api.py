"""Tenant template overrides through CareRulesApi: validated by rendering before they are
saved (a bad source is a 400 naming ``source`` and stores nothing), created, replaced
and repeated without a write, each change audited in its transaction; read back (the
override or the shipped source), removed, listed for the engine in one Query; admin keys
only, one tenant's overrides invisible to another; a lost reply and a transaction
conflict applied once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from care_rules import rendering, template_store
from loyalty import keys
from loyalty.timeutil import iso
from tests.conftest import API_KEY, OTHER_API_KEY, OTHER_TENANT, TENANT, Env
from tests.faults import Faults

pytestmark = pytest.mark.integration
ADMIN = f"admin-{API_KEY}"
RIVAL_ADMIN = f"admin-{OTHER_API_KEY}"
PATH = "/v1/admin/templates/tier-changed/en"
SOURCE = (
    "{% block subject %}Welcome to {{ member.tier | tier_name }}{% endblock %}\n"
    "{% block html %}{% from '_layout.html.jinja' import page with context %}"
    "{% call page('Our words') %}<p>Hi {{ member.name }}</p>{% endcall %}{% endblock %}\n"
    "{% block text %}Hi {{ member.name }}{% endblock %}\n"
)


def _call(
    aws: Env, method: str, path: str = PATH, body: Any = None, key: str = ADMIN, minutes: int = 0
) -> Any:
    return aws.call(method, path, body, key=key, at=aws.now + timedelta(minutes=minutes))


def _items(aws: Env, tenant: str = TENANT) -> list[dict[str, Any]]:
    table = aws.table("LOYALTY_TABLE")
    found: list[dict[str, Any]] = []
    for pk in (keys.care_pk(tenant), f"T#{tenant}#AUDIT"):
        found += table.query(KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": pk})[
            "Items"
        ]
    return [item for item in found if item["kind"] in ("care_template", "audit")]


def _audit(aws: Env) -> list[tuple[str, str, Any]]:
    entries = aws.call("GET", "/v1/admin/audit", key=ADMIN).json()["entries"]
    return [
        (e["action"], e["target"], e["details"]) for e in entries if e["action"].startswith("care_template")
    ]


def test_create_replace_repeat_read_and_remove(aws: Env) -> None:
    shipped = _call(aws, "GET")
    assert shipped.status == 200
    assert shipped.json() == {
        "template_id": "tier-changed",
        "locale": "en",
        "origin": "default",
        "source": rendering.shipped_source("tier-changed", "en"),
        "version": None,
        "saved_at": None,
    }

    created = _call(aws, "PUT", body={"source": SOURCE})
    assert created.status == 201, created.json()
    assert created.json() == {
        "template_id": "tier-changed",
        "locale": "en",
        "version": 1,
        "saved_at": iso(aws.now),
    }
    first_saved = created.json()["saved_at"]

    repeated = _call(aws, "PUT", body={"source": SOURCE}, minutes=1)
    assert repeated.status == 200 and repeated.json() == created.json()  # nothing written

    changed = SOURCE.replace("Our words", "Our new words")
    replaced = _call(aws, "PUT", body={"source": changed}, minutes=2)
    assert replaced.status == 200 and replaced.json()["version"] == 2
    assert replaced.json()["saved_at"] > first_saved

    read = _call(aws, "GET").json()
    assert (read["origin"], read["source"], read["version"]) == ("tenant", changed, 2)
    stored = [i for i in _items(aws) if i["kind"] == "care_template"]
    assert len(stored) == 1 and stored[0]["version"] == 2
    assert stored[0]["saved_by"] and ADMIN not in stored[0]["saved_by"]  # the key's id, never the key

    # what the engine reads: one Query, keyed as rendering.render takes it
    table = aws.env["LOYALTY_TABLE"]
    overrides = template_store.overrides(table, TENANT)
    assert overrides == {"tier-changed.en": changed}
    out = rendering.render("tier-changed", "en", rendering.SAMPLE_VARIABLES, overrides)
    assert "Our new words" in out.html

    removed = _call(aws, "DELETE", minutes=3)
    assert removed.status == 200 and removed.json()["origin"] == "default"
    again = _call(aws, "DELETE", minutes=4)
    assert again.status == 200 and again.json()["origin"] == "default"
    assert template_store.overrides(table, TENANT) == {}
    details = {"template_id": "tier-changed", "locale": "en"}
    assert _audit(aws) == [
        ("care_template.removed", "tier-changed.en", {**details, "version": 2}),
        ("care_template.saved", "tier-changed.en", {**details, "version": 2}),
        ("care_template.saved", "tier-changed.en", {**details, "version": 1}),
    ]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (SOURCE.replace("{% endcall %}", ""), "line 2: syntax error"),
        (SOURCE.replace("<p>Hi", "<p>{{ ''.__class__.__mro__ }}"), "line 2: not allowed"),
        (
            SOURCE.replace("Hi {{ member.name }}{% endblock", "\n{{ member.nickname }}{% endblock"),
            "line 4: undefined",
        ),
        (SOURCE.split("{% block text")[0], "block text"),
        ("x" * (50 * 1024 + 1), "51200"),
        ("好" * 20000, "exceeds"),  # 20,000 characters, 60,000 bytes
    ],
)
def test_a_bad_source_is_refused_naming_source_and_nothing_is_stored(
    aws: Env, source: str, expected: str
) -> None:
    answer = _call(aws, "PUT", body={"source": source})
    assert answer.status == 400, answer.json()
    error = answer.json()["error"]
    assert error["field"] == "source" and expected in error["message"], error
    assert _items(aws) == []


def test_unknown_template_and_locale(aws: Env) -> None:
    for method, body in (("GET", None), ("PUT", {"source": SOURCE}), ("DELETE", None)):
        unknown = _call(aws, method, "/v1/admin/templates/no-such/en", body)
        assert unknown.status == 404 and unknown.json()["error"]["field"] == "template_id"
        locale = _call(aws, method, "/v1/admin/templates/tier-changed/fr", body)
        assert locale.status == 400 and locale.json()["error"]["field"] == "locale"
    extra = _call(aws, "PUT", body={"source": SOURCE, "other": 1})
    assert extra.status == 400
    assert _items(aws) == []


def test_admin_keys_only_and_tenants_apart(aws: Env) -> None:
    assert _call(aws, "GET", key=API_KEY).status == 403
    assert _call(aws, "PUT", body={"source": SOURCE}, key=API_KEY).status == 403
    assert _call(aws, "PUT", body={"source": SOURCE}).status == 201
    assert _call(aws, "GET", key=RIVAL_ADMIN).json()["origin"] == "default"
    assert template_store.overrides(aws.env["LOYALTY_TABLE"], OTHER_TENANT) == {}
    assert _call(aws, "DELETE", key=RIVAL_ADMIN).status == 200
    assert _call(aws, "GET").json()["origin"] == "tenant"


def _first_transaction() -> Any:
    seen: list[str] = []

    def when(operation: str, params: dict[str, Any]) -> bool:
        if operation != "TransactWriteItems" or seen:
            return False
        seen.append(operation)
        return True

    return when


@pytest.mark.parametrize("kind", ["conflict", "lost_reply"])
def test_a_fault_on_the_save_applies_it_once(aws: Env, kind: str) -> None:
    faults = Faults(
        1.0, seed=7, functions={"CareRulesApi"}, kinds=(kind,), when=_first_transaction()
    ).install()
    try:
        answer = _call(aws, "PUT", body={"source": SOURCE})
    finally:
        faults.uninstall()
    assert faults.injected[kind] == 1
    assert answer.status in (200, 201) and answer.json()["version"] == 1
    assert len([i for i in _items(aws) if i["kind"] == "care_template"]) == 1
    assert len(_audit(aws)) == 1
