"""Admin keys: listed, rotated (two active), revoked, never the one making the request;
keys registered before the tenant's admin-keys list existed are listed and revocable."""

from __future__ import annotations

import pytest

from loyalty import credentials
from loyalty.tenants import Tenant
from tests.conftest import API_KEY, OTHER_API_KEY, Env

pytestmark = pytest.mark.integration
ADMIN = f"admin-{API_KEY}"
RIVAL_ADMIN = f"admin-{OTHER_API_KEY}"
ADMIN_KEY_ID = credentials.hash_key(ADMIN)[:12]


def _works(aws: Env, key: str) -> int:
    return aws.call("GET", "/v1/admin/keys", key=key).status


def test_rotation_two_active_admin_keys_then_the_old_one_revoked(aws: Env) -> None:
    listed = aws.call("GET", "/v1/admin/keys", key=ADMIN)
    assert listed.status == 200
    assert [k["key_id"] for k in listed.json()["keys"]] == [ADMIN_KEY_ID]  # the registered key
    issued = aws.call("POST", "/v1/admin/keys", key=ADMIN)
    assert issued.status == 201, issued.json()
    second = issued.json()
    assert second["api_key"].startswith(f"adm_{second['key_id']}_") and second["revoked_at"] is None
    assert _works(aws, ADMIN) == 200 and _works(aws, second["api_key"]) == 200  # both during the rollout
    third = aws.call("POST", "/v1/admin/keys", key=second["api_key"])
    assert third.status == 409 and third.json()["error"]["code"] == "too_many_active_keys"

    own = aws.call("DELETE", f"/v1/admin/keys/{ADMIN_KEY_ID}", key=ADMIN)
    assert own.status == 409 and own.json()["error"]["code"] == "own_key"
    assert _works(aws, ADMIN) == 200  # refused: nothing changed

    assert aws.call("DELETE", f"/v1/admin/keys/{ADMIN_KEY_ID}", key=second["api_key"]).status == 204
    assert _works(aws, ADMIN) == 401
    assert _works(aws, second["api_key"]) == 200
    again = aws.call("DELETE", f"/v1/admin/keys/{ADMIN_KEY_ID}", key=second["api_key"])
    assert again.status == 204  # idempotent
    assert aws.call("POST", "/v1/admin/keys", key=second["api_key"]).status == 201  # room again
    keys = aws.call("GET", "/v1/admin/keys", key=second["api_key"]).json()["keys"]
    revoked = {k["key_id"]: k["revoked_at"] is not None for k in keys}
    assert len(keys) == 3 and revoked[ADMIN_KEY_ID] and not revoked[second["key_id"]]
    assert sum(revoked.values()) == 1
    assert "api_key" not in str(keys) and "key_hash" not in str(keys)
    # Only hashes are stored.
    items = aws.table("LOYALTY_TABLE").query(
        KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": "TENANT#demo"}
    )["Items"]
    assert second["api_key"] not in str(items)


def test_admin_keys_need_an_admin_key_of_the_tenant(aws: Env) -> None:
    assert aws.call("GET", "/v1/admin/keys", key=API_KEY).status == 403  # a storefront key
    assert aws.call("POST", "/v1/admin/keys", key=API_KEY).status == 403
    assert aws.call("DELETE", f"/v1/admin/keys/{ADMIN_KEY_ID}", key=API_KEY).status == 403
    assert aws.call("GET", "/v1/admin/keys", key=None).status == 401
    rival = aws.call("DELETE", f"/v1/admin/keys/{ADMIN_KEY_ID}", key=RIVAL_ADMIN)
    assert rival.status == 404  # another tenant's key is unknown here
    assert _works(aws, ADMIN) == 200
    assert aws.call("DELETE", "/v1/admin/keys/abc123", key=ADMIN).status == 404
    assert aws.call("DELETE", "/v1/admin/keys/NOT-HEX", key=ADMIN).status == 400


def test_a_key_registered_before_the_admin_keys_list_is_listed_and_revocable(aws: Env) -> None:
    table = aws.env["LOYALTY_TABLE"]
    legacy = "adm_0a1b2c3d4e5f_legacy-secret"
    credential = credentials.Credential(tenant_id="old", role="admin", key_id="0a1b2c3d4e5f", active=True)
    credentials.put_credential(table, legacy, credential, aws.now)  # no admin-keys item for "old"
    assert credentials.get_admin_keys(table, "old") is None
    listed = aws.call("GET", "/v1/admin/keys", key=legacy).json()["keys"]
    assert [k["key_id"] for k in listed] == ["0a1b2c3d4e5f"]
    new = aws.call("POST", "/v1/admin/keys", key=legacy).json()
    assert aws.call("POST", "/v1/admin/keys", key=new["api_key"]).status == 409  # the legacy key counts
    assert aws.call("DELETE", "/v1/admin/keys/0a1b2c3d4e5f", key=legacy).status == 409  # its own
    assert aws.call("DELETE", "/v1/admin/keys/0a1b2c3d4e5f", key=new["api_key"]).status == 204
    assert _works(aws, legacy) == 401
    trail = aws.call("GET", "/v1/admin/audit", key=new["api_key"]).json()["entries"]
    assert {(e["action"], e["target"], e["actor_key_id"]) for e in trail} == {
        ("admin_key.issued", new["key_id"], "0a1b2c3d4e5f"),
        ("admin_key.revoked", "0a1b2c3d4e5f", new["key_id"]),  # the new key's own id
    }
    stored = credentials.get_admin_keys(table, "old")
    assert stored is not None and stored.keys["0a1b2c3d4e5f"].revoked_at is not None


def test_a_bootstrapped_tenant_lists_its_first_key_and_audits_it(aws: Env) -> None:
    tenant = Tenant(tenant_id="acme", name="Acme", manager_emails=["boss@acme.example"], escalation_emails=[])
    key_id, plaintext = credentials.bootstrap_tenant(aws.env["LOYALTY_TABLE"], tenant, aws.now)
    assert [k["key_id"] for k in aws.call("GET", "/v1/admin/keys", key=plaintext).json()["keys"]] == [key_id]
    trail = aws.call("GET", "/v1/admin/audit", key=plaintext).json()["entries"]
    assert [(e["action"], e["target"], e["actor_role"]) for e in trail] == [
        ("admin_key.issued", key_id, "operator")
    ]
    second = aws.call("POST", "/v1/admin/keys", key=plaintext).json()
    assert aws.call("DELETE", f"/v1/admin/keys/{key_id}", key=second["api_key"]).status == 204
    assert _works(aws, plaintext) == 401


def test_every_registered_admin_key_is_listed_whichever_key_asks(aws: Env) -> None:
    other = "admin-second-registered-key"
    credentials.register_admin_key(aws.env["LOYALTY_TABLE"], "demo", other, aws.now)
    for key in (ADMIN, other):
        listed = aws.call("GET", "/v1/admin/keys", key=key).json()["keys"]
        assert {k["key_id"] for k in listed} == {ADMIN_KEY_ID, credentials.hash_key(other)[:12]}
    assert aws.call("POST", "/v1/admin/keys", key=ADMIN).status == 409  # both count
    assert aws.call("DELETE", f"/v1/admin/keys/{ADMIN_KEY_ID}", key=other).status == 204
    assert _works(aws, ADMIN) == 401
