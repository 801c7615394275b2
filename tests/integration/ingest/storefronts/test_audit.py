"""The audit trail: every admin action (and every erasure) once, newest first, paged
with a checked cursor, admin keys only, no personal data."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from loyalty import credentials, cursor
from tests.conftest import API_KEY, OTHER_API_KEY, Env, registration

pytestmark = pytest.mark.integration
ADMIN = f"admin-{API_KEY}"
RIVAL_ADMIN = f"admin-{OTHER_API_KEY}"
ADMIN_KEY_ID = credentials.hash_key(ADMIN)[:12]
STOREFRONT_KEY_ID = credentials.hash_key(API_KEY)[:12]


def _trail(aws: Env, key: str = ADMIN, limit: int = 100) -> list[dict[str, Any]]:
    """Every entry, page by page."""
    found: list[dict[str, Any]] = []
    start: str | None = None
    while True:
        query = f"?limit={limit}" + (f"&cursor={start}" if start else "")
        page = aws.call("GET", f"/v1/admin/audit{query}", key=key)
        assert page.status == 200, page.json()
        found += page.json()["entries"]
        start = page.json()["next_cursor"]
        if start is None:
            return found


def test_every_admin_action_is_recorded_newest_first_and_paged(aws: Env) -> None:
    step = iter(range(1, 100))

    def call(method: str, path: str, body: Any = None, key: str = ADMIN) -> Any:
        response = aws.call(method, path, body, key=key, at=aws.now + timedelta(minutes=next(step)))
        assert response.status < 300, (method, path, response.json())
        return response.json() if response.body else None

    body = {"storefront_id": "pos-1", "name": "Store", "channel": "store", "scopes": ["events:write"]}
    first = call("POST", "/v1/admin/storefronts", body)["key"]["key_id"]
    second = call("POST", "/v1/admin/storefronts/pos-1/keys")["key_id"]
    call("DELETE", f"/v1/admin/storefronts/pos-1/keys/{first}")
    call("PATCH", "/v1/admin/storefronts/pos-1", {"rate_limit_per_second": 7})
    call("PATCH", "/v1/admin/storefronts/pos-1", {"scopes": ["members:read", "events:write"]})
    admin_key = call("POST", "/v1/admin/keys")
    call("DELETE", f"/v1/admin/keys/{ADMIN_KEY_ID}", key=admin_key["api_key"])
    adjustment = {"adjustment_id": "adj-1", "points": 40, "reason": "goodwill for a late parcel"}
    call("POST", "/v1/members/m-1/adjustments", adjustment, key=admin_key["api_key"])
    call("POST", "/v1/events", registration("reg-1", "m-2"), key=API_KEY)
    call("DELETE", "/v1/members/m-2", key=API_KEY)
    call("POST", "/v1/admin/keys", key=admin_key["api_key"])
    # Refused and idempotent requests change nothing and record nothing.
    recorded = len(_trail(aws, admin_key["api_key"]))
    assert aws.call("POST", "/v1/admin/keys", key=admin_key["api_key"]).status == 409
    assert aws.call("DELETE", f"/v1/admin/storefronts/pos-1/keys/{first}", key=ADMIN).status == 401
    again = aws.call("DELETE", f"/v1/admin/storefronts/pos-1/keys/{first}", key=admin_key["api_key"])
    assert again.status == 204
    missing = aws.call("PATCH", "/v1/admin/storefronts/nope", {"scopes": []}, key=admin_key["api_key"])
    assert missing.status == 404
    assert len(_trail(aws, admin_key["api_key"])) == recorded

    trail = _trail(aws, admin_key["api_key"], limit=3)
    assert [e["at"] for e in trail] == sorted((e["at"] for e in trail), reverse=True)
    assert [(e["action"], e["target"]) for e in trail[1:]] == [
        ("member.erased", "m-2"),
        ("points.adjusted", "adj-1"),
        ("admin_key.revoked", ADMIN_KEY_ID),
        ("admin_key.issued", admin_key["key_id"]),
        ("storefront.scopes_set", "pos-1"),
        ("storefront.rate_limit_set", "pos-1"),
        ("key.revoked", first),
        ("key.issued", second),
        ("storefront.created", "pos-1"),
    ]
    assert trail[0]["action"] == "admin_key.issued"
    by_action = {e["action"]: e for e in trail[1:]}
    assert by_action["storefront.created"]["details"] == {
        "channel": "store",
        "key_id": first,
        "scopes": ["events:write"],
    }
    assert by_action["key.issued"]["details"] == {"storefront_id": "pos-1"}
    assert by_action["storefront.rate_limit_set"]["details"] == {"rate_limit_per_second": 7}
    assert by_action["storefront.scopes_set"]["details"] == {"scopes": ["events:write", "members:read"]}
    assert by_action["points.adjusted"]["details"] == {
        "member_id": "m-1",
        "points": 40,
        "applied_points": 40,
        "reason": "goodwill for a late parcel",
    }
    assert by_action["points.adjusted"]["actor_key_id"] == admin_key["key_id"]
    for action, actor in (
        ("storefront.created", ADMIN_KEY_ID),
        ("key.revoked", ADMIN_KEY_ID),
        ("admin_key.issued", ADMIN_KEY_ID),
        ("admin_key.revoked", admin_key["key_id"]),  # revoked with the new key
    ):
        entry = by_action[action]
        assert (entry["actor_role"], entry["actor_key_id"], entry["actor_storefront"]) == (
            "admin",
            actor,
            None,
        ), action
    erased = by_action["member.erased"]
    assert (erased["actor_role"], erased["actor_key_id"], erased["actor_storefront"]) == (
        "storefront",
        STOREFRONT_KEY_ID,
        "demo-web",
    )
    # Each tenant sees its own trail only.
    assert _trail(aws, RIVAL_ADMIN) == []


def test_the_trail_is_for_admin_keys_and_its_cursor_is_checked(aws: Env) -> None:
    for n in range(3):
        patch = {"rate_limit_per_second": n + 1}
        assert aws.call("PATCH", "/v1/admin/storefronts/demo-web", patch, key=ADMIN).status == 200
    page = aws.call("GET", "/v1/admin/audit?limit=2", key=ADMIN).json()
    assert len(page["entries"]) == 2 and page["next_cursor"]
    denied = aws.call("GET", "/v1/admin/audit", key=API_KEY)
    assert denied.status == 403 and denied.json()["error"]["code"] == "forbidden"
    foreign = aws.call("GET", f"/v1/admin/audit?cursor={page['next_cursor']}", key=RIVAL_ADMIN)
    assert foreign.status == 400 and foreign.json()["error"]["code"] == "invalid_cursor"
    forged = cursor.encode({"pk": "T#demo#M#m-1", "sk": "L#000000000001"})
    assert aws.call("GET", f"/v1/admin/audit?cursor={forged}", key=ADMIN).status == 400
    assert aws.call("GET", "/v1/admin/audit?cursor=garbage", key=ADMIN).status == 400
    assert aws.call("GET", "/v1/admin/audit?limit=0", key=ADMIN).status == 400
    assert aws.call("GET", "/v1/admin/audit?limit=101", key=ADMIN).status == 400


def test_a_replayed_adjustment_is_recorded_once(aws: Env) -> None:
    body = {"adjustment_id": "adj-1", "points": 25, "reason": "goodwill"}
    for minutes in (0, 1, 2):
        at = aws.now + timedelta(minutes=minutes)
        assert aws.call("POST", "/v1/members/m-1/adjustments", body, key=ADMIN, at=at).status == 201
    assert aws.call("POST", "/v1/members/m-2/adjustments", body, key=ADMIN).status == 201  # another member
    trail = _trail(aws)
    assert sorted((e["action"], e["details"]["member_id"]) for e in trail) == [
        ("points.adjusted", "m-1"),
        ("points.adjusted", "m-2"),
    ]


def test_an_adjustment_whose_entry_failed_is_recorded_by_its_replay(
    aws: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    from loyalty import audit

    def broken(items: Any) -> None:
        raise RuntimeError("the audit write never arrived")

    body = {"adjustment_id": "adj-1", "points": 25, "reason": "goodwill"}
    with monkeypatch.context() as patched:
        patched.setattr(audit, "transact_write", broken)
        assert aws.call("POST", "/v1/members/m-1/adjustments", body, key=ADMIN).status == 500
    assert _trail(aws) == []  # applied, not yet recorded
    replay = aws.call("POST", "/v1/members/m-1/adjustments", body, key=ADMIN)
    assert replay.status == 201 and replay.json()["balance"]["available"] == 25  # applied once
    assert aws.call("POST", "/v1/members/m-1/adjustments", body, key=ADMIN).status == 201
    assert [e["action"] for e in _trail(aws)] == ["points.adjusted"]


def test_an_erasure_is_recorded_once_a_day_without_personal_data(aws: Env) -> None:
    email = "ann.audit@example.com"
    assert aws.call("POST", "/v1/events", registration("reg-1", "m-1", email=email)).status == 202
    aws.pump().drain()
    assert aws.call("DELETE", "/v1/members/m-1").status == 204
    assert aws.call("DELETE", "/v1/members/m-1", at=aws.now + timedelta(minutes=5)).status == 204
    trail = _trail(aws)
    assert [(e["action"], e["target"]) for e in trail] == [("member.erased", "m-1")]
    assert trail[0]["details"] == {"events_scrubbed": 1, "tickets_scrubbed": 0}
    assert aws.call("DELETE", "/v1/members/m-1", at=aws.now + timedelta(days=1)).status == 204
    assert [e["action"] for e in _trail(aws)] == ["member.erased", "member.erased"]
    stored = aws.table("LOYALTY_TABLE").query(
        KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": "T#demo#AUDIT"}
    )["Items"]
    assert len(stored) == 2
    for text in (str(stored), str(_trail(aws))):
        assert email not in text and "M-1" not in text  # neither the address nor the name
