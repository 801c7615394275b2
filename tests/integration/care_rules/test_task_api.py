"""Care tasks through the API: lists filtered by assignee, status, member and overdue,
paged with checked cursors; a task read and closed once (a repeat writes nothing,
another close is a 409, unknown and other tenants' tasks are 404, bad input changes
nothing); the care scopes; a close racing another close is retried and answered from
what the other close stored."""

from __future__ import annotations

from typing import Any

import pytest

from care_rules import layout, task_store, tasks
from care_rules.tasks import MemberSummary, Task
from loyalty.credentials import hash_key
from tests.conftest import API_KEY, OTHER_API_KEY, OTHER_TENANT, TENANT, Env

pytestmark = pytest.mark.integration
ADMIN = f"admin-{API_KEY}"


def _task(task_id: str, assignee: str, member: str, due: str, **changes: Any) -> Task:
    fields: dict[str, Any] = {
        "task_id": task_id,
        "tenant_id": TENANT,
        "member_id": member,
        "assignee": assignee,
        "rule_id": "win-back-90d",
        "rule_version": 1,
        "title": f"Win back {member}",
        "status": "open",
        "due_at": f"2026-03-{due}.000Z",
        "created_at": "2026-03-01T09:00:00.000Z",
        "summary": MemberSummary(
            tier="gold", last_order_at="2025-11-30T10:00:00.000Z", lifetime_spend="1280.50", open_tickets=1
        ),
        "assigned_by": "owner",
    }
    return Task(**{**fields, **changes})


# now is 2026-03-10T12:00Z
TASKS = (
    _task("t1", "rep-a", "m-1", "09T09:00:00"),
    _task("t2", "rep-a", "m-2", "11T09:00:00"),
    _task("t3", "rep-b", "m-1", "08T09:00:00", assigned_by="fallback"),
    _task("t4", "rep-b", "m-2", "12T09:00:00"),
    _task("t5", "rep-a", "m-1", "05T09:00:00", status="done", closed_at="2026-03-06T10:00:00.000Z"),
    _task("t6", "rep-a", "m-3", "01T09:00:00", status="dismissed", closed_at="2026-03-02T10:00:00.000Z"),
    _task("t7", "rep-a", "m-1", "07T09:00:00", tenant_id=OTHER_TENANT),
)


def _seed(aws: Env, found: tuple[Task, ...] = TASKS) -> None:
    for task in found:
        assert task_store.create(aws.env["LOYALTY_TABLE"], task)


def _ids(answer: Any) -> list[str]:
    assert answer.status == 200, answer.json()
    return [t["task_id"] for t in answer.json()["tasks"]]


def _item(aws: Env, task_id: str, tenant: str = TENANT) -> dict[str, Any]:
    key = {"pk": layout.task_pk(tenant, task_id), "sk": layout.TASK_SK}
    return aws.table("LOYALTY_TABLE").get_item(Key=key, ConsistentRead=True)["Item"]


def _storefront(aws: Env, storefront_id: str, scopes: list[str]) -> str:
    body = {"storefront_id": storefront_id, "name": "Desk", "channel": "service", "scopes": scopes}
    created = aws.call("POST", "/v1/admin/storefronts", body, key=ADMIN)
    assert created.status == 201, created.json()
    return str(created.json()["key"]["api_key"])


def test_a_task_is_created_once_and_read_whole(aws: Env) -> None:
    _seed(aws)
    assert not task_store.create(aws.env["LOYALTY_TABLE"], TASKS[0])  # a repeat creates nothing
    answer = aws.call("GET", "/v1/care-tasks/t3")
    assert answer.status == 200, answer.json()
    assert answer.json() == {
        "task_id": "t3",
        "member_id": "m-1",
        "assignee": "rep-b",
        "assigned_by": "fallback",
        "rule_id": "win-back-90d",
        "rule_version": 1,
        "title": "Win back m-1",
        "status": "open",
        "due_at": "2026-03-08T09:00:00.000Z",
        "created_at": "2026-03-01T09:00:00.000Z",
        "closed_at": None,
        "closed_by": None,
        "outcome": None,
        "overdue": True,
        "summary": {
            "tier": "gold",
            "last_order_at": "2025-11-30T10:00:00.000Z",
            "lifetime_spend": "1280.50",
            "open_tickets": 1,
        },
    }
    item = _item(aws, "t3")
    assert (item["gsi1pk"], item["gsi1sk"]) == ("T#demo#TASKS#open", "rep-b#2026-03-08T09:00:00.000Z#t3")
    assert (item["gsi2pk"], item["gsi2sk"]) == ("T#demo#TASKM#m-1", "open#2026-03-08T09:00:00.000Z#t3")
    assert aws.call("GET", "/v1/care-tasks/nope").status == 404
    other = aws.call("GET", "/v1/care-tasks/t7")  # the rival tenant's task
    assert other.status == 404 and other.json()["error"]["field"] == "task_id"
    assert aws.call("GET", "/v1/care-tasks/t7", key=OTHER_API_KEY).status == 200


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["t1", "t2", "t3", "t4"]),  # open, by assignee then due time
        ("?assignee=rep-a", ["t1", "t2"]),
        ("?assignee=rep-b&status=open", ["t3", "t4"]),
        ("?status=done", ["t5"]),
        ("?status=dismissed&assignee=rep-a", ["t6"]),
        ("?status=dismissed&assignee=rep-b", []),
        ("?member_id=m-1", ["t3", "t1"]),  # by due time
        ("?member_id=m-1&status=done", ["t5"]),
        ("?member_id=m-1&assignee=rep-a", ["t1"]),
        ("?member_id=m-1&assignee=rep-a&status=done", ["t5"]),
        ("?overdue=true", ["t1", "t3"]),
        ("?overdue=true&assignee=rep-b", ["t3"]),
        ("?overdue=true&member_id=m-1", ["t3", "t1"]),
        ("?overdue=true&member_id=m-2", []),
        ("?overdue=true&member_id=m-1&assignee=rep-a", ["t1"]),
        ("?overdue=false&assignee=rep-b", ["t3", "t4"]),
    ],
)
def test_lists_filter_by_assignee_status_member_and_overdue(
    aws: Env, query: str, expected: list[str]
) -> None:
    _seed(aws)
    answer = aws.call("GET", f"/v1/care-tasks{query}")
    assert _ids(answer) == expected
    assert answer.json()["next_cursor"] is None
    overdue = {t["task_id"]: t["overdue"] for t in answer.json()["tasks"]}
    assert overdue == {task_id: task_id in ("t1", "t3") for task_id in expected}


def test_overdue_is_due_before_the_request_time(aws: Env) -> None:
    _seed(aws)
    due = aws.now.replace(year=2026, month=3, day=9, hour=9)  # t1's due time
    assert _ids(aws.call("GET", "/v1/care-tasks?overdue=true&assignee=rep-a", at=due)) == []
    later = due.replace(microsecond=1000)
    assert _ids(aws.call("GET", "/v1/care-tasks?overdue=true&assignee=rep-a", at=later)) == ["t1"]
    assert _ids(aws.call("GET", "/v1/care-tasks?overdue=true", at=later)) == ["t1", "t3"]


@pytest.mark.parametrize(
    "query", ["?overdue=true&status=done", "?overdue=true&status=dismissed", "?status=closed", "?limit=0"]
)
def test_bad_list_queries_are_400(aws: Env, query: str) -> None:
    answer = aws.call("GET", f"/v1/care-tasks{query}")
    assert answer.status == 400, answer.json()
    assert answer.json()["error"]["code"] == "validation_error"


def _many(aws: Env) -> list[Task]:
    made = [
        _task(f"p{n:02d}", "rep-a" if n % 3 else "rep-b", f"m-{n % 2}", f"{1 + n:02d}T08:00:00")
        for n in range(14)
    ]
    _seed(aws, tuple(made))
    return made


def _pages(aws: Env, query: str, limit: int) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        suffix = f"&cursor={cursor}" if cursor else ""
        answer = aws.call("GET", f"/v1/care-tasks?{query}&limit={limit}{suffix}")
        pages.append(_ids(answer))
        cursor = answer.json()["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 20


@pytest.mark.parametrize(
    "query",
    ["status=open", "assignee=rep-a", "member_id=m-0", "member_id=m-1&assignee=rep-a", "overdue=true"],
)
def test_pages_follow_each_other_with_a_cursor(aws: Env, query: str) -> None:
    made = _many(aws)
    whole = _ids(aws.call("GET", f"/v1/care-tasks?{query}&limit=100"))
    assert whole and len(whole) > 3
    pages = _pages(aws, query, 3)
    assert [task_id for page in pages for task_id in page] == whole
    assert all(len(page) == 3 for page in pages[:-1]) and 1 <= len(pages[-1]) <= 3
    assert len(whole) == len(set(whole)) and set(whole) <= {t.task_id for t in made}


def test_a_tampered_or_foreign_cursor_is_400(aws: Env) -> None:
    _many(aws)
    first = aws.call("GET", "/v1/care-tasks?assignee=rep-a&limit=2").json()["next_cursor"]
    assert first
    for query in (
        f"assignee=rep-b&cursor={first}",  # another assignee
        f"assignee=rep-a&member_id=m-1&cursor={first}",  # another query shape
        f"assignee=rep-a&status=done&cursor={first}",  # another status
        f"assignee=rep-a&overdue=true&cursor={first}",
        f"assignee=rep-a&cursor={first[:-4]}",
        "assignee=rep-a&cursor=not-a-cursor",
    ):
        answer = aws.call("GET", f"/v1/care-tasks?{query}")
        assert (answer.status, answer.json()["error"]["code"]) == (400, "invalid_cursor"), query
    rival = aws.call("GET", f"/v1/care-tasks?assignee=rep-a&cursor={first}", key=OTHER_API_KEY)
    assert rival.status == 400
    assert aws.call("GET", f"/v1/care-tasks?assignee=rep-a&limit=2&cursor={first}").status == 200


def test_close_repeat_and_conflict(aws: Env) -> None:
    _seed(aws)
    body = {"status": "done", "outcome": "Called; visiting on Friday"}
    closed = aws.call("PATCH", "/v1/care-tasks/t1", body)
    assert closed.status == 200, closed.json()
    answer = closed.json()
    assert (answer["status"], answer["outcome"], answer["closed_at"], answer["overdue"]) == (
        "done",
        "Called; visiting on Friday",
        "2026-03-10T12:00:00.000Z",
        False,
    )
    assert answer["closed_by"] == hash_key(API_KEY)[:12]  # the storefront key's id
    stored = _item(aws, "t1")
    assert (stored["version"], stored["gsi1pk"], stored["gsi2sk"]) == (
        2,
        "T#demo#TASKS#done",
        "done#2026-03-09T09:00:00.000Z#t1",
    )
    assert _ids(aws.call("GET", "/v1/care-tasks?assignee=rep-a")) == ["t2"]
    assert _ids(aws.call("GET", "/v1/care-tasks?assignee=rep-a&status=done")) == ["t5", "t1"]

    repeat = aws.call("PATCH", "/v1/care-tasks/t1", body, at=aws.now.replace(hour=13))
    assert repeat.status == 200 and repeat.json() == answer
    assert _item(aws, "t1") == stored  # nothing written

    for other in ({"status": "dismissed", "outcome": "Called; visiting on Friday"}, {"status": "done"}):
        refused = aws.call("PATCH", "/v1/care-tasks/t1", other)
        assert refused.status == 409, refused.json()
        assert refused.json()["error"]["code"] == "task_closed"
    assert _item(aws, "t1") == stored

    dismissed = aws.call("PATCH", "/v1/care-tasks/t2", {"status": "dismissed"})
    assert (dismissed.status, dismissed.json()["status"], dismissed.json()["outcome"]) == (
        200,
        "dismissed",
        None,
    )


def test_unknown_and_other_tenants_tasks_are_404_and_unchanged(aws: Env) -> None:
    _seed(aws)
    before = _item(aws, "t7", OTHER_TENANT)
    for task_id in ("nope", "t7"):
        answer = aws.call("PATCH", f"/v1/care-tasks/{task_id}", {"status": "done"})
        assert answer.status == 404 and answer.json()["error"]["field"] == "task_id"
    assert _item(aws, "t7", OTHER_TENANT) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "open"}, "status"),
        ({"status": "finished"}, "status"),
        ({}, "status"),
        ({"status": "done", "outcome": "x" * 501}, "outcome"),
        ({"status": "done", "assignee": "rep-b"}, "assignee"),
    ],
)
def test_bad_closes_are_400_and_change_nothing(aws: Env, body: dict[str, Any], field: str) -> None:
    _seed(aws)
    before = _item(aws, "t1")
    answer = aws.call("PATCH", "/v1/care-tasks/t1", body)
    assert answer.status == 400, answer.json()
    assert answer.json()["error"]["field"] == field
    assert _item(aws, "t1") == before


def test_care_scopes_guard_every_route(aws: Env) -> None:
    _seed(aws)
    blind = _storefront(aws, "kiosk", ["members:read"])
    reader = _storefront(aws, "desk", ["care:read"])
    for method, path, body, key, scope in (
        ("GET", "/v1/care-tasks", None, blind, "care:read"),
        ("GET", "/v1/care-tasks/t1", None, blind, "care:read"),
        ("GET", "/v1/members/m-1/care", None, blind, "care:read"),
        ("PATCH", "/v1/care-tasks/t1", {"status": "done"}, blind, "care:write"),
        ("PATCH", "/v1/care-tasks/t1", {"status": "done"}, reader, "care:write"),
    ):
        answer = aws.call(method, path, body, key=key)
        assert (answer.status, answer.json()["error"]["message"]) == (
            403,
            f"this storefront's keys lack the scope {scope}",
        ), (method, path)
    assert _ids(aws.call("GET", "/v1/care-tasks", key=reader)) == ["t1", "t2", "t3", "t4"]
    assert aws.call("GET", "/v1/care-tasks", key=ADMIN).status == 403  # admin keys: admin routes only
    assert _item(aws, "t1")["status"] == "open"


@pytest.mark.parametrize(("racer", "expected"), [("dismissed", 409), ("done", 200)])
def test_a_close_that_loses_a_race_reads_again(
    aws: Env, monkeypatch: pytest.MonkeyPatch, racer: str, expected: int
) -> None:
    """The other close lands between this close's read and its write: the write's
    version condition fails, the close reads again and answers from what it finds."""
    _seed(aws)
    table = aws.env["LOYALTY_TABLE"]
    reads: list[str] = []
    original = task_store.get

    def get_then_race(table_name: str, tenant: str, task_id: str) -> Task | None:
        found = original(table_name, tenant, task_id)
        reads.append(task_id)
        if len(reads) == 1 and found is not None:
            other = tasks.close(found, racer, "done by a colleague", aws.now, "colleague-key")
            task_store.update(table, other, found.version)
        return found

    monkeypatch.setattr(task_store, "get", get_then_race)
    outcome = "done by a colleague" if racer == "done" else "mine"
    answer = aws.call("PATCH", "/v1/care-tasks/t1", {"status": "done", "outcome": outcome})
    assert answer.status == expected, answer.json()
    assert reads == ["t1", "t1"]  # read again after the lost race
    stored = _item(aws, "t1")
    assert (stored["status"], stored["closed_by"], stored["version"]) == (racer, "colleague-key", 2)
