"""The staff registry's admin API: create, replace, a repeated save that changes
nothing, each change audited in its transaction; lists filtered and paged; admin
keys only, one tenant's registry invisible to another; bad input changes nothing;
a transaction conflict is retried."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from loyalty import keys
from tests.conftest import API_KEY, OTHER_API_KEY, OTHER_TENANT, TENANT, Env, personal
from tests.faults import Faults

pytestmark = pytest.mark.integration
ADMIN = f"admin-{API_KEY}"
RIVAL_ADMIN = f"admin-{OTHER_API_KEY}"


def _person(n: int = 1, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": personal(f"Zhang Wei {n}"),
        "email": personal(f"zhang.wei{n}@shop.example"),
        "role": "rep",
        "queues": ["vip"],
        "time_zone": "Asia/Shanghai",
    }
    return {**body, **changes}


def _call(aws: Env, method: str, path: str, body: Any = None, key: str = ADMIN, minutes: int = 0) -> Any:
    return aws.call(method, path, body, key=key, at=aws.now + timedelta(minutes=minutes))


def _items(aws: Env, tenant: str = TENANT) -> list[dict[str, Any]]:
    table = aws.table("LOYALTY_TABLE")
    found: list[dict[str, Any]] = []
    for pk in (keys.staff_pk(tenant), f"T#{tenant}#AUDIT"):
        found += table.query(KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": pk})[
            "Items"
        ]
    return found


def _audit(aws: Env, key: str = ADMIN) -> list[tuple[str, str, Any]]:
    entries = aws.call("GET", "/v1/admin/audit", key=key).json()["entries"]
    return [(e["action"], e["target"], e["details"]) for e in entries if e["action"] == "staff.saved"]


def test_create_replace_and_a_repeat_that_changes_nothing(aws: Env) -> None:
    created = _call(aws, "PUT", "/v1/admin/staff/rep-1", _person())
    assert created.status == 201, created.json()
    assert created.json() == {
        "staff_id": "rep-1",
        **_person(),
        "locale": "zh-CN",  # the program's locale
        "active": True,
        "version": 1,
        "saved_at": "2026-03-10T12:00:00.000Z",
        "calendar": "cn-business",  # the defaults
        "max_open": 20,
        "reports": ["daily", "weekly", "monthly"],
    }
    assert _call(aws, "GET", "/v1/admin/staff/rep-1").json() == created.json()
    replaced = _call(aws, "PUT", "/v1/admin/staff/rep-1", _person(role="lead", locale="en"), minutes=1)
    assert replaced.status == 200, replaced.json()
    assert (replaced.json()["version"], replaced.json()["role"], replaced.json()["locale"]) == (
        2,
        "lead",
        "en",
    )
    before = _items(aws)
    repeat = _call(aws, "PUT", "/v1/admin/staff/rep-1", _person(role="lead", locale="en"), minutes=2)
    assert repeat.status == 200 and repeat.json() == replaced.json()
    assert _items(aws) == before  # no version, no audit entry
    retired = _call(
        aws, "PUT", "/v1/admin/staff/rep-1", _person(role="lead", locale="en", active=False), minutes=3
    )
    assert (retired.status, retired.json()["version"], retired.json()["active"]) == (200, 3, False)
    assert _call(aws, "GET", "/v1/admin/staff/rep-1").json()["active"] is False  # kept, retired
    assert _audit(aws) == [
        ("staff.saved", "rep-1", {"version": 3, "role": "lead", "active": False}),
        ("staff.saved", "rep-1", {"version": 2, "role": "lead", "active": True}),
        ("staff.saved", "rep-1", {"version": 1, "role": "rep", "active": True}),
    ]
    audit_items = [i for i in _items(aws) if i["kind"] == "audit"]
    assert len(audit_items) == 3
    assert not any("zhang" in str(item).lower() for item in audit_items)  # no personal data
    missing = _call(aws, "GET", "/v1/admin/staff/nobody")
    assert missing.status == 404 and missing.json()["error"]["field"] == "staff_id"


def test_calendar_and_max_open_round_trip_and_an_older_record_reads_with_the_defaults(aws: Env) -> None:
    body = _person(role="agent", calendar="24x7", max_open=5)
    created = _call(aws, "PUT", "/v1/admin/staff/agent-1", body)
    assert created.status == 201, created.json()
    assert (created.json()["calendar"], created.json()["max_open"]) == ("24x7", 5)
    assert _call(aws, "GET", "/v1/admin/staff/agent-1").json() == created.json()
    listed = _call(aws, "GET", "/v1/admin/staff?role=agent").json()["staff"]
    assert [(p["calendar"], p["max_open"]) for p in listed] == [("24x7", 5)]
    stored = aws.table("LOYALTY_TABLE").get_item(
        Key={"pk": keys.staff_pk(TENANT), "sk": keys.staff_sk("agent-1")}
    )["Item"]
    assert (stored["calendar"], stored["max_open"]) == ("24x7", 5)
    assert _call(aws, "PUT", "/v1/admin/staff/agent-1", body, minutes=1).json()["version"] == 1  # a repeat
    changed = _call(aws, "PUT", "/v1/admin/staff/agent-1", {**body, "max_open": 6}, minutes=2)
    assert (changed.status, changed.json()["version"], changed.json()["max_open"]) == (200, 2, 6)
    # a record saved before the two fields existed reads with their defaults
    older = {k: v for k, v in stored.items() if k not in ("calendar", "max_open")}
    aws.table("LOYALTY_TABLE").put_item(Item={**older, "staff_id": "old-1", "sk": keys.staff_sk("old-1")})
    found = _call(aws, "GET", "/v1/admin/staff/old-1").json()
    assert (found["calendar"], found["max_open"]) == ("cn-business", 20)
    again = _call(aws, "PUT", "/v1/admin/staff/old-1", _person(role="agent"), minutes=3)
    assert (again.status, again.json()["calendar"], again.json()["max_open"]) == (200, "cn-business", 20)


def _seed(aws: Env) -> None:
    people = {
        "a-rep": _person(1),
        "b-agent": _person(2, role="agent", queues=["returns", "vip"]),
        "c-lead": _person(3, role="lead", queues=["returns"]),
        "d-rep-retired": _person(4, active=False),
        "e-manager": _person(5, role="manager", queues=[]),
    }
    for staff_id, body in people.items():
        assert _call(aws, "PUT", f"/v1/admin/staff/{staff_id}", body).status == 201


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["a-rep", "b-agent", "c-lead", "d-rep-retired", "e-manager"]),
        ("?role=rep", ["a-rep", "d-rep-retired"]),
        ("?role=rep&active=true", ["a-rep"]),
        ("?active=false", ["d-rep-retired"]),
        ("?queue=vip", ["a-rep", "b-agent", "d-rep-retired"]),
        ("?queue=returns&role=lead", ["c-lead"]),
        ("?queue=nobody-works-this", []),
    ],
)
def test_the_list_filters_by_role_queue_and_active(aws: Env, query: str, expected: list[str]) -> None:
    _seed(aws)
    answer = _call(aws, "GET", f"/v1/admin/staff{query}")
    assert answer.status == 200, answer.json()
    assert [p["staff_id"] for p in answer.json()["staff"]] == expected
    assert answer.json()["next_cursor"] is None


def test_the_list_is_paged_over_the_filtered_people(aws: Env) -> None:
    _seed(aws)
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        path = "/v1/admin/staff?active=true&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = _call(aws, "GET", path).json()
        seen += [p["staff_id"] for p in page["staff"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["a-rep", "b-agent", "c-lead", "e-manager"] and pages == 2
    exact = _call(aws, "GET", "/v1/admin/staff?role=rep&limit=2").json()
    assert len(exact["staff"]) == 2 and exact["next_cursor"] is None  # no empty last page
    foreign = _call(aws, "GET", f"/v1/admin/staff?cursor={_first_cursor(aws)}", key=RIVAL_ADMIN)
    assert foreign.status == 400 and foreign.json()["error"]["code"] == "invalid_cursor"
    tampered = _call(aws, "GET", "/v1/admin/staff?cursor=not-a-cursor")
    assert tampered.status == 400 and tampered.json()["error"]["field"] == "cursor"


def _first_cursor(aws: Env) -> str:
    cursor = _call(aws, "GET", "/v1/admin/staff?limit=1").json()["next_cursor"]
    assert cursor
    return str(cursor)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/v1/admin/staff/rep-1", _person()),
        ("GET", "/v1/admin/staff/rep-1", None),
        ("GET", "/v1/admin/staff", None),
    ],
)
def test_a_storefront_key_is_refused(aws: Env, method: str, path: str, body: Any) -> None:
    assert _call(aws, "PUT", "/v1/admin/staff/rep-1", _person()).status == 201
    before = _items(aws)
    answer = _call(aws, method, path, body, key=API_KEY, minutes=1)
    assert answer.status == 403 and answer.json()["error"]["code"] == "forbidden"
    assert _items(aws) == before


def test_a_tenant_never_sees_another_tenants_staff(aws: Env) -> None:
    _call(aws, "PUT", "/v1/admin/staff/rep-1", _person())
    assert _call(aws, "GET", "/v1/admin/staff/rep-1", key=RIVAL_ADMIN).status == 404
    assert _call(aws, "GET", "/v1/admin/staff", key=RIVAL_ADMIN).json()["staff"] == []
    rival = _call(aws, "PUT", "/v1/admin/staff/rep-1", _person(9, role="manager"), key=RIVAL_ADMIN)
    assert rival.status == 201 and rival.json()["version"] == 1  # its own registry
    assert _call(aws, "GET", "/v1/admin/staff/rep-1").json()["role"] == "rep"
    assert len(_items(aws, OTHER_TENANT)) == 2 and len(_items(aws)) == 2


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/admin/staff/rep-1", _person(email="not-an-email"), "email"),
        ("/v1/admin/staff/rep-1", _person(role="boss"), "role"),
        ("/v1/admin/staff/rep-1", _person(time_zone="Mars/Olympus"), "time_zone"),
        ("/v1/admin/staff/rep-1", _person(locale="fr"), "locale"),
        ("/v1/admin/staff/rep-1", _person(queues=[f"q{n}" for n in range(21)]), "queues"),
        ("/v1/admin/staff/rep-1", _person(queues=["no spaces"]), "queues.0"),
        ("/v1/admin/staff/rep-1", _person(name=""), "name"),
        ("/v1/admin/staff/rep-1", _person(colour="red"), "colour"),
        ("/v1/admin/staff/rep-1", _person(calendar="Not A Calendar"), "calendar"),
        ("/v1/admin/staff/rep-1", _person(calendar="../24x7"), "calendar"),
        ("/v1/admin/staff/rep-1", _person(max_open=0), "max_open"),
        ("/v1/admin/staff/rep-1", _person(max_open=501), "max_open"),
        ("/v1/admin/staff/rep-1", {k: v for k, v in _person().items() if k != "email"}, "email"),
        ("/v1/admin/staff/bad%20id", _person(), "staff_id"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_changes_nothing(
    aws: Env, path: str, body: dict[str, Any], field: str
) -> None:
    _call(aws, "PUT", "/v1/admin/staff/rep-1", _person())
    before = _items(aws)
    answer = _call(aws, "PUT", path, body, minutes=1)
    assert answer.status == 400, answer.json()
    assert answer.json()["error"]["code"] == "validation_error"
    assert answer.json()["error"]["field"] == field, answer.json()
    assert _items(aws) == before and len(before) == 2


@pytest.mark.parametrize(
    ("query", "field"), [("?role=boss", "role"), ("?limit=0", "limit"), ("?active=maybe", "active")]
)
def test_a_bad_list_filter_is_a_400(aws: Env, query: str, field: str) -> None:
    answer = _call(aws, "GET", f"/v1/admin/staff{query}")
    assert answer.status == 400 and answer.json()["error"]["field"] == field, answer.json()


def _first_transaction() -> Any:
    seen: list[str] = []

    def when(operation: str, params: dict[str, Any]) -> bool:
        if operation != "TransactWriteItems" or seen:
            return False
        seen.append(operation)
        return True

    return when


def test_a_transaction_conflict_on_a_save_is_retried(aws: Env) -> None:
    faults = Faults(
        1.0, seed=7, functions={"CareRulesApi"}, kinds=("conflict",), when=_first_transaction()
    ).install()
    try:
        answer = _call(aws, "PUT", "/v1/admin/staff/rep-1", _person())
    finally:
        faults.uninstall()
    assert faults.injected["conflict"] == 1
    assert answer.status == 201 and answer.json()["version"] == 1
    assert len([i for i in _items(aws) if i["kind"] == "staff"]) == 1
    assert _audit(aws) == [("staff.saved", "rep-1", {"version": 1, "role": "rep", "active": True})]
