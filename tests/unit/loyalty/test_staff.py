"""The staff registry's model: what a valid person is (each refusal names its field),
versions and repeats, the list filters; and who gets a task (``resolve_assignee``),
against a fake registry (no AWS, no moto)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from loyalty import staff
from loyalty.staff import Staff, StaffMember, repository
from tests.conftest import personal

pytestmark = pytest.mark.unit
AT = "2026-03-10T12:00:00.000Z"
LATER = "2026-03-10T12:05:00.000Z"


def _body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": personal("Wang Fang"),
        "email": personal("wang.fang@shop.example"),
        "role": "rep",
        "queues": ["vip", "returns"],
        "time_zone": "Asia/Shanghai",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def test_a_valid_person_gets_the_defaults() -> None:
    person = StaffMember.model_validate(_body(queues=None))
    assert (person.queues, person.locale, person.active) == ([], None, True)
    assert (person.calendar, person.max_open) == ("cn-business", 20)
    person = StaffMember.model_validate(_body(calendar="24x7", max_open=500))
    assert (person.calendar, person.max_open) == ("24x7", 500)
    assert StaffMember.model_validate(_body(max_open=1, calendar="a" * 40)).max_open == 1
    person = StaffMember.model_validate(_body(name="  Li Lei  ", locale="en", active=False))
    assert (person.name, person.locale, person.active) == ("Li Lei", "en", False)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "two@@shop.example"}, "email"),
        ({"email": "space in@shop.example"}, "email"),
        ({"email": "a@b"}, "email"),
        ({"role": "boss"}, "role"),
        ({"role": None}, "role"),
        ({"queues": [f"q{n}" for n in range(21)]}, "queues"),
        ({"queues": ["vip", "vip"]}, "queues"),
        ({"queues": ["has space"]}, "queues.0"),
        ({"queues": [""]}, "queues.0"),
        ({"queues": "vip"}, "queues"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"time_zone": "+08:00"}, "time_zone"),
        ({"time_zone": "../etc/passwd"}, "time_zone"),
        ({"time_zone": None}, "time_zone"),
        ({"locale": "fr"}, "locale"),
        ({"locale": "zh-cn"}, "locale"),
        ({"active": "maybe"}, "active"),
        ({"calendar": ""}, "calendar"),
        ({"calendar": "CN-Business"}, "calendar"),
        ({"calendar": "-late"}, "calendar"),
        ({"calendar": "has space"}, "calendar"),
        ({"calendar": "a" * 41}, "calendar"),
        ({"calendar": 7}, "calendar"),
        ({"max_open": 0}, "max_open"),
        ({"max_open": -1}, "max_open"),
        ({"max_open": 501}, "max_open"),
        ({"max_open": "20"}, "max_open"),
        ({"max_open": 2.5}, "max_open"),
        ({"max_open": True}, "max_open"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_an_invalid_person_is_refused_on_its_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        StaffMember.model_validate(_body(**changes))
    assert ".".join(str(p) for p in caught.value.errors()[0]["loc"]) == field


def test_twenty_queues_are_accepted() -> None:
    assert len(StaffMember.model_validate(_body(queues=[f"q{n}" for n in range(20)])).queues) == 20


@pytest.mark.parametrize(
    ("program", "sent", "stored"),
    [("zh-CN", None, "zh-CN"), ("en", None, "en"), ("fr", None, "en"), ("en", "zh-CN", "zh-CN")],
)
def test_the_locale_defaults_to_the_programs(program: str, sent: str | None, stored: str) -> None:
    created = staff.revise(None, "rep-1", StaffMember.model_validate(_body(locale=sent)), program, AT)
    assert created is not None and created.locale == stored


def test_versions_move_on_a_change_and_a_repeat_is_nothing() -> None:
    body = StaffMember.model_validate(_body())
    created = staff.revise(None, "rep-1", body, "zh-CN", AT)
    assert created is not None and (created.version, created.saved_at, created.queues) == (
        1,
        AT,
        ("vip", "returns"),
    )
    assert staff.revise(created, "rep-1", body, "zh-CN", LATER) is None
    explicit = StaffMember.model_validate(_body(locale="zh-CN"))  # the default, sent: no change
    assert staff.revise(created, "rep-1", explicit, "zh-CN", LATER) is None
    retired = staff.revise(created, "rep-1", StaffMember.model_validate(_body(active=False)), "zh-CN", LATER)
    assert retired is not None and (retired.version, retired.active, retired.saved_at) == (2, False, LATER)
    reordered = staff.revise(
        created, "rep-1", StaffMember.model_validate(_body(queues=["returns", "vip"])), "en", LATER
    )
    assert reordered is not None and reordered.version == 2
    assert (created.calendar, created.max_open) == ("cn-business", 20)
    defaults_sent = StaffMember.model_validate(_body(calendar="cn-business", max_open=20))
    assert staff.revise(created, "rep-1", defaults_sent, "zh-CN", LATER) is None
    for change in ({"calendar": "24x7"}, {"max_open": 5}):
        revised = staff.revise(created, "rep-1", StaffMember.model_validate(_body(**change)), "zh-CN", LATER)
        assert revised is not None and revised.version == 2, change
        assert {k: revised.fields()[k] for k in change} == change


def test_the_stored_item_round_trips_and_an_older_item_reads_with_the_defaults() -> None:
    body = StaffMember.model_validate(_body(calendar="24x7", max_open=7))
    person = staff.revise(None, "rep-1", body, "zh-CN", AT)
    assert person is not None
    item = repository.staff_item("demo", person, "key-1")
    assert (item["calendar"], item["max_open"]) == ("24x7", 7)
    assert repository.staff_from_item(item) == person
    older = {k: v for k, v in item.items() if k not in ("calendar", "max_open")}
    assert (repository.staff_from_item(older).calendar, repository.staff_from_item(older).max_open) == (
        "cn-business",
        20,
    )
    assert repository.staff_from_item({**item, "max_open": Decimal(7)}).max_open == 7  # DynamoDB's number


def _person(staff_id: str, role: str = "rep", queues: tuple[str, ...] = (), active: bool = True) -> Staff:
    return Staff(staff_id, "Name", "n@shop.example", role, queues, "Asia/Shanghai", "en", active, 1, AT)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, True),
        ({"role": "rep"}, True),
        ({"role": "lead"}, False),
        ({"queue": "vip"}, True),
        ({"queue": "returns"}, False),
        ({"active": True}, True),
        ({"active": False}, False),
        ({"role": "rep", "queue": "vip", "active": True}, True),
        ({"role": "rep", "queue": "vip", "active": False}, False),
    ],
)
def test_list_filters(filters: dict[str, Any], expected: bool) -> None:
    assert staff.matches(_person("rep-1", queues=("vip",)), **filters) is expected


REGISTRY = {
    "owner": _person("owner"),
    "retired-owner": _person("retired-owner", active=False),
    "fallback": _person("fallback", role="lead"),
    "retired-fallback": _person("retired-fallback", active=False),
}


@pytest.mark.parametrize(
    ("owner", "fallback", "expected"),
    [
        ("owner", "fallback", "owner"),
        ("retired-owner", "fallback", "fallback"),
        ("unknown", "fallback", "fallback"),
        (None, "fallback", "fallback"),
        ("", "fallback", "fallback"),
        ("owner", None, "owner"),
        ("retired-owner", "retired-fallback", None),
        ("unknown", "unknown-too", None),
        ("retired-owner", None, None),
        (None, None, None),
    ],
)
def test_resolve_assignee(
    monkeypatch: pytest.MonkeyPatch, owner: str | None, fallback: str | None, expected: str | None
) -> None:
    reads: list[tuple[str, str, str]] = []

    def get(table: str, tenant: str, staff_id: str) -> Staff | None:
        reads.append((table, tenant, staff_id))
        return REGISTRY.get(staff_id)

    monkeypatch.setattr(repository, "get", get)
    found = staff.resolve_assignee("LoyaltyTable", "demo", owner, fallback)
    assert (found.staff_id if found else None) == expected
    assert all(read[:2] == ("LoyaltyTable", "demo") for read in reads) and len(reads) <= 2
    if owner == "owner":
        assert len(reads) == 1  # an active owner needs no second read
