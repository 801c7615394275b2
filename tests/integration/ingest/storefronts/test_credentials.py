"""Storefront credentials: admin-only management, two active keys, rotation, revocation."""

from __future__ import annotations

import pytest

from tests.conftest import API_KEY, OTHER_API_KEY, Env, order_event

pytestmark = pytest.mark.integration
ADMIN = f"admin-{API_KEY}"
RIVAL_ADMIN = f"admin-{OTHER_API_KEY}"


def _create(aws: Env, storefront_id: str = "pos-berlin", key: str = ADMIN) -> dict:
    response = aws.call(
        "POST",
        "/v1/admin/storefronts",
        {"storefront_id": storefront_id, "name": "Berlin store", "channel": "store"},
        key=key,
    )
    assert response.status == 201, response.json()
    return response.json()


def test_a_new_storefront_key_works_for_its_tenant_and_channel(aws: Env) -> None:
    created = _create(aws)
    secret = created["key"]["api_key"]
    assert secret.startswith("sf_") and len(secret) > 40
    assert aws.call("POST", "/v1/events", order_event("e-1", "m-1", "10.00"), key=secret).status == 202
    stored = aws.table("EVENTS_TABLE").get_item(Key={"pk": "T#demo#E#e-1", "sk": "EVENT"})["Item"]
    assert stored["tenant_id"] == "demo"
    # Only the hash is stored; the secret appears nowhere in the table.
    items = aws.table("LOYALTY_TABLE").query(
        KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": "TENANT#demo"}
    )["Items"]
    assert secret not in str(items)
    listed = aws.call("GET", "/v1/admin/storefronts/pos-berlin", key=ADMIN).json()
    assert [k["key_id"] for k in listed["keys"]] == [created["key"]["key_id"]]
    assert "api_key" not in str(listed) and "key_hash" not in str(listed)


def test_rotation_allows_two_active_keys_then_revocation(aws: Env) -> None:
    first = _create(aws)["key"]
    second = aws.call("POST", "/v1/admin/storefronts/pos-berlin/keys", key=ADMIN)
    assert second.status == 201
    third = aws.call("POST", "/v1/admin/storefronts/pos-berlin/keys", key=ADMIN)
    assert third.status == 409 and third.json()["error"]["code"] == "too_many_active_keys"
    new_secret = second.json()["api_key"]
    for secret in (first["api_key"], new_secret):  # both work during the rollout
        assert aws.call("GET", "/v1/members/nobody", key=secret).status == 404
    revoke = aws.call("DELETE", f"/v1/admin/storefronts/pos-berlin/keys/{first['key_id']}", key=ADMIN)
    assert revoke.status == 204
    assert aws.call("GET", "/v1/members/nobody", key=first["api_key"]).status == 401
    assert aws.call("GET", "/v1/members/nobody", key=new_secret).status == 404
    assert (
        aws.call("DELETE", f"/v1/admin/storefronts/pos-berlin/keys/{first['key_id']}", key=ADMIN).status
        == 204
    )
    assert aws.call("POST", "/v1/admin/storefronts/pos-berlin/keys", key=ADMIN).status == 201  # room again


def test_admin_and_storefront_keys_are_separate(aws: Env) -> None:
    body = {"storefront_id": "app", "name": "App", "channel": "app"}
    denied = aws.call("POST", "/v1/admin/storefronts", body, key=API_KEY)
    assert denied.status == 403 and denied.json()["error"]["code"] == "forbidden"
    assert aws.call("POST", "/v1/events", order_event("e-1", "m-1", "1.00"), key=ADMIN).status == 403
    assert aws.call("GET", "/v1/members/m-1", key=ADMIN).status == 403


def test_tenants_cannot_touch_each_others_storefronts(aws: Env) -> None:
    created = _create(aws)
    assert aws.call("GET", "/v1/admin/storefronts/pos-berlin", key=RIVAL_ADMIN).status == 404
    key_id = created["key"]["key_id"]
    assert (
        aws.call("DELETE", f"/v1/admin/storefronts/pos-berlin/keys/{key_id}", key=RIVAL_ADMIN).status == 404
    )
    assert aws.call("GET", "/v1/members/nobody", key=created["key"]["api_key"]).status == 404  # still active
    _create(aws, key=RIVAL_ADMIN)  # the same storefront id is free in another tenant


def test_admin_input_errors(aws: Env) -> None:
    _create(aws)
    duplicate = aws.call(
        "POST",
        "/v1/admin/storefronts",
        {"storefront_id": "pos-berlin", "name": "x", "channel": "store"},
        key=ADMIN,
    )
    assert duplicate.status == 409
    assert (
        aws.call(
            "POST", "/v1/admin/storefronts", {"storefront_id": "x", "name": "x", "channel": "fax"}, key=ADMIN
        ).status
        == 400
    )
    assert aws.call("DELETE", "/v1/admin/storefronts/pos-berlin/keys/abc123", key=ADMIN).status == 404
    assert aws.call("GET", "/v1/admin/storefronts/nope", key=ADMIN).status == 404


def test_a_storefront_without_scopes_may_do_everything_but_erase(aws: Env) -> None:
    created = _create(aws, "pos-1")
    assert created["storefront"]["scopes"] == [
        "events:write",
        "members:read",
        "members:write",
        "points:redeem",
        "tickets:read",
        "tickets:write",
        "care:read",
        "care:write",
    ]
    secret = created["key"]["api_key"]
    assert aws.call("POST", "/v1/events", order_event("e-1", "m-1", "10.00"), key=secret).status == 202
    aws.pump().drain()
    assert aws.call("GET", "/v1/members/m-1", key=secret).status == 200
    refused = aws.call("DELETE", "/v1/members/m-1", key=secret)
    assert refused.status == 403
    assert refused.json()["error"] == {
        "code": "forbidden",
        "message": "this storefront's keys lack the scope members:erase",
        "field": "scope",
    }
    assert aws.call("GET", "/v1/members/m-1", key=secret).json()["erased"] is False  # nothing changed


def test_scopes_limit_every_route_and_a_patch_changes_them(aws: Env) -> None:
    response = aws.call(
        "POST",
        "/v1/admin/storefronts",
        {"storefront_id": "kiosk", "name": "Kiosk", "channel": "store", "scopes": ["events:write"]},
        key=ADMIN,
    )
    assert response.status == 201 and response.json()["storefront"]["scopes"] == ["events:write"]
    secret = response.json()["key"]["api_key"]
    assert aws.call("POST", "/v1/events", order_event("e-1", "m-1", "10.00"), key=secret).status == 202
    aws.pump().drain()
    denied = [
        ("GET", "/v1/members/m-1", None, "members:read"),
        ("GET", "/v1/members/m-1/events", None, "members:read"),
        ("GET", "/v1/members/m-1/ledger", None, "members:read"),
        ("PUT", "/v1/members/m-1", {"name": "Ann"}, "members:write"),
        ("DELETE", "/v1/members/m-1", None, "members:erase"),
        ("POST", "/v1/members/m-1/redemptions", {"redemption_id": "r", "points": 1}, "points:redeem"),
        ("POST", "/v1/members/m-1/redemptions/r/confirm", None, "points:redeem"),
        ("POST", "/v1/members/m-1/redemptions/r/cancel", None, "points:redeem"),
        ("POST", "/v1/tickets", {"subject": "Help"}, "tickets:write"),
        ("GET", "/v1/tickets/tk_00ff", None, "tickets:read"),
    ]
    for method, path, body, scope in denied:
        answer = aws.call(method, path, body, key=secret)
        assert (answer.status, answer.json()["error"]["message"]) == (
            403,
            f"this storefront's keys lack the scope {scope}",
        ), (method, path)
    patched = aws.call("PATCH", "/v1/admin/storefronts/kiosk", {"scopes": ["members:read"]}, key=ADMIN)
    assert patched.status == 200 and patched.json()["scopes"] == ["members:read"]
    assert aws.call("GET", "/v1/members/m-1", key=secret).status == 200
    assert aws.call("POST", "/v1/events", order_event("e-2", "m-1", "10.00"), key=secret).status == 403
    bad = aws.call("PATCH", "/v1/admin/storefronts/kiosk", {"scopes": ["everything"]}, key=ADMIN)
    assert bad.status == 400
    empty = aws.call("PATCH", "/v1/admin/storefronts/kiosk", {}, key=ADMIN)
    assert empty.status == 400


def test_a_key_change_and_its_audit_entry_commit_together(aws: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    from loyalty import audit

    _create(aws)
    monkeypatch.setattr(audit.secrets, "token_hex", lambda n: "0" * (2 * n))
    # An entry already stored under the sort key the next change would write: its put
    # fails, so the whole transaction does.
    blocker = audit.entry_item("demo", aws.now, audit.OPERATOR, "key.issued", "blocker")
    aws.table("LOYALTY_TABLE").put_item(Item=blocker)
    assert aws.call("POST", "/v1/admin/storefronts/pos-berlin/keys", key=ADMIN).status == 500
    keys = aws.call("GET", "/v1/admin/storefronts/pos-berlin", key=ADMIN).json()["keys"]
    assert len(keys) == 1  # no key without its audit entry
    monkeypatch.undo()
    issued = aws.call("POST", "/v1/admin/storefronts/pos-berlin/keys", key=ADMIN)
    assert issued.status == 201
    trail = aws.call("GET", "/v1/admin/audit", key=ADMIN).json()["entries"]
    assert {(e["action"], e["target"]) for e in trail} == {
        ("key.issued", "blocker"),
        ("key.issued", issued.json()["key_id"]),
        ("storefront.created", "pos-berlin"),
    }


def test_a_key_change_that_meets_a_transaction_conflict_is_retried_not_refused(aws: Env) -> None:
    from tests.faults import Faults

    _create(aws, "pos-1")
    first_two: list[int] = []

    def first_two_transactions(operation: str, params: dict) -> bool:
        if operation != "TransactWriteItems" or len(first_two) >= 2:
            return False
        first_two.append(1)
        return True

    faults = Faults(
        rate=1.0, seed=3, functions={"AdminApi"}, kinds=("conflict",), when=first_two_transactions
    )
    faults.install()
    try:
        issued = aws.call("POST", "/v1/admin/storefronts/pos-1/keys", key=ADMIN)
    finally:
        faults.uninstall()
    assert issued.status == 201, issued.json()
    assert faults.injected["conflict"] == 2
    assert len(aws.call("GET", "/v1/admin/storefronts/pos-1", key=ADMIN).json()["keys"]) == 2
