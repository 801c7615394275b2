"""One-click unsubscribe through the MembersApi handler, with API Gateway's event shapes:
what mail providers send withdraws email consent, nothing else changes anything."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from loyalty import secrets, unsubscribe
from loyalty.timeutil import iso
from tests.conftest import Env, HttpResult, personal, registration

pytestmark = pytest.mark.integration

ONE_CLICK = b"List-Unsubscribe=One-Click"
FORM = {"content-type": "application/x-www-form-urlencoded"}
MULTIPART = (
    b'--b0undary\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
    b"One-Click\r\n--b0undary--\r\n"
)


def _token(aws: Env, member: str = "m-1", *, tenant: str = "demo", expires: datetime | None = None) -> str:
    return unsubscribe.sign(
        secrets.unsubscribe_keys(), tenant, member, expires or aws.now + unsubscribe.TOKEN_LIFETIME
    )


def _register(aws: Env, member: str = "m-1") -> None:
    event = registration(f"reg-{member}", member, email=personal(f"{member}@example.com"))
    assert aws.call("POST", "/v1/events", event).status == 202
    aws.pump().drain()


def _profile(aws: Env, member: str = "m-1") -> dict[str, Any]:
    item: dict[str, Any] = aws.table("LOYALTY_TABLE").get_item(
        Key={"pk": f"T#demo#M#{member}", "sk": "#PROFILE"}
    )["Item"]
    return item


def _everything(aws: Env) -> list[dict[str, Any]]:
    """Both tables, whole (a test may scan; the product never does), throttle counters aside."""
    items = []
    for env_var in ("LOYALTY_TABLE", "EVENTS_TABLE"):
        items += [i for i in aws.table(env_var).scan()["Items"] if "#THROTTLE#" not in i["pk"]]
    return sorted(items, key=lambda i: (i["pk"], i["sk"]))


def _post(
    aws: Env,
    token: str,
    body: bytes = ONE_CLICK,
    *,
    headers: dict[str, str] | None = None,
    at: datetime | None = None,
) -> HttpResult:
    return aws.call("POST", f"/v1/unsubscribe/{token}", key=None, headers=headers or FORM, raw=body, at=at)


def test_the_mail_providers_one_click_post_withdraws_email_consent(aws: Env) -> None:
    _register(aws)
    assert _profile(aws)["consent_email"]["granted"] is True
    at = aws.now + timedelta(minutes=3)
    answer = _post(aws, _token(aws), at=at)
    assert answer.status == 200, answer.body
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert "已退订" in answer.body.decode() and "unsubscribed" in answer.body.decode()
    assert answer.headers["referrer-policy"] == "no-referrer"
    consent = _profile(aws)["consent_email"]
    assert consent == {"granted": False, "at": iso(at), "source": "email"}
    assert _profile(aws)["field_at"]["consent_email"] == iso(at)
    # The 360 view shows it, and the other channel is untouched.
    view = aws.call("GET", "/v1/members/m-1").json()
    assert view["profile"]["consent"]["email"]["granted"] is False


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b"", {}),
        (MULTIPART, {"content-type": "multipart/form-data; boundary=b0undary"}),
        (ONE_CLICK, {"content-type": "application/x-www-form-urlencoded; charset=utf-8"}),
    ],
    ids=["empty", "multipart", "form-with-charset"],
)
def test_other_bodies_mail_providers_send_are_taken(aws: Env, body: bytes, headers: dict[str, str]) -> None:
    _register(aws)
    answer = aws.call("POST", f"/v1/unsubscribe/{_token(aws)}", key=None, headers=headers, raw=body)
    assert answer.status == 200, answer.body
    assert _profile(aws)["consent_email"]["granted"] is False


def test_repeating_it_is_harmless(aws: Env) -> None:
    _register(aws)
    token = _token(aws)
    assert _post(aws, token).status == 200
    again = _post(aws, token, at=aws.now + timedelta(seconds=5))
    assert again.status == 200
    assert _profile(aws)["consent_email"]["granted"] is False


def test_get_shows_the_page_and_changes_nothing(aws: Env) -> None:
    _register(aws)
    before = _everything(aws)
    page = aws.call("GET", f"/v1/unsubscribe/{_token(aws)}", key=None)
    assert page.status == 200
    html = page.body.decode()
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert '<form method="post">' in html
    assert 'name="List-Unsubscribe" value="One-Click"' in html
    assert "退订" in html and "Unsubscribe" in html
    assert "m-1" not in html and "example.com" not in html
    assert _everything(aws) == before


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("kind", ["forged", "expired", "garbage", "huge", "other-key"])
def test_a_bad_token_is_a_400_page_and_changes_nothing(aws: Env, method: str, kind: str) -> None:
    _register(aws)
    good = _token(aws)
    payload, mac = good.split(".")
    tokens = {
        "forged": f"{_token(aws, 'm-2').split('.')[0]}.{mac}",
        "expired": _token(aws, expires=aws.now - timedelta(seconds=1)),
        "garbage": "not-a-token",
        "huge": "A" * 4000 + "." + mac,
        "other-key": unsubscribe.sign(b"another key", "demo", "m-1", aws.now + timedelta(days=1)),
    }
    before = _everything(aws)
    answer = aws.call(method, f"/v1/unsubscribe/{tokens[kind]}", key=None, headers=FORM, raw=ONE_CLICK)
    assert answer.status == 400
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert "无效" in answer.body.decode() and "not valid" in answer.body.decode()
    assert _everything(aws) == before
    assert _profile(aws)["consent_email"]["granted"] is True


def test_a_client_asking_for_json_gets_the_error_contract(aws: Env) -> None:
    answer = aws.call(
        "POST",
        f"/v1/unsubscribe/{_token(aws, expires=aws.now)}",
        key=None,
        headers={**FORM, "accept": "application/json"},
        raw=ONE_CLICK,
    )
    assert answer.status == 400
    assert answer.json() == {
        "error": {"code": "expired_token", "message": "the token has expired", "field": "token"}
    }


def test_an_erased_member_gets_200_and_nothing_is_stored(aws: Env) -> None:
    _register(aws)
    assert aws.call("DELETE", "/v1/members/m-1").status == 204
    before = _everything(aws)
    assert _post(aws, _token(aws)).status == 200
    assert _everything(aws) == before
    assert "consent_email" not in _profile(aws)


def test_no_api_key_and_no_storefront_throttle(aws: Env) -> None:
    """The routes have no authorizer: no key is asked for, and a key sent along is not
    resolved (no storefront's request counter moves)."""
    _register(aws)

    def counters() -> list[dict[str, Any]]:
        return [i for i in aws.table("LOYALTY_TABLE").scan()["Items"] if "#THROTTLE#" in i["pk"]]

    before = counters()
    assert before  # the registration was counted
    assert _post(aws, _token(aws), headers={**FORM, "x-api-key": "test-key-demo"}).status == 200
    assert aws.call("GET", f"/v1/unsubscribe/{_token(aws)}", key="test-key-demo").status == 200
    assert counters() == before


def _update(aws: Env, event_id: str, granted: bool, at: datetime) -> None:
    event = {
        "event_id": event_id,
        "type": "member.updated",
        "occurred_at": iso(at),
        "member_id": "m-1",
        "channel": "web",
        "data": {"consent": {"email": {"granted": granted, "at": iso(at), "source": "web"}}},
    }
    assert aws.call("POST", "/v1/events", event, at=at).status == 202
    aws.pump().drain()


def test_consent_follows_event_time_field_by_field(aws: Env) -> None:
    _register(aws)
    withdrawn_at = aws.now + timedelta(hours=1)
    assert _post(aws, _token(aws), at=withdrawn_at).status == 200
    # Delivered after the withdrawal, but given before it: the withdrawal stands.
    _update(aws, "upd-early", True, withdrawn_at - timedelta(minutes=10))
    assert _profile(aws)["consent_email"]["granted"] is False
    assert _profile(aws)["consent_email"]["at"] == iso(withdrawn_at)
    # Given again after it: the new consent wins.
    _update(aws, "upd-late", True, withdrawn_at + timedelta(minutes=10))
    assert _profile(aws)["consent_email"]["granted"] is True


def test_an_unknown_route_under_unsubscribe_is_not_found(aws: Env) -> None:
    assert aws.call("PUT", f"/v1/unsubscribe/{_token(aws)}", key=None).status == 405


def test_a_rotated_secret_keeps_links_signed_with_the_previous_key(aws: Env) -> None:
    from aws_lambda_powertools.utilities import parameters

    from infra.definitions import UNSUBSCRIBE_SECRET_NAME

    _register(aws)
    old_link = _token(aws)
    (old_key,) = secrets.unsubscribe_keys()
    aws.session.client("secretsmanager").put_secret_value(
        SecretId=UNSUBSCRIBE_SECRET_NAME, SecretString=json.dumps(["n" * 64, old_key.decode()])
    )
    parameters.clear_caches()  # a function reads the secret again within five minutes
    assert secrets.unsubscribe_keys() == [b"n" * 64, old_key]
    assert _post(aws, old_link).status == 200
    assert _profile(aws)["consent_email"]["granted"] is False
    # New links are signed with the new key; once the old key is dropped, its links stop.
    assert unsubscribe.verify([b"n" * 64], _token(aws), aws.now).member == "m-1"
    aws.session.client("secretsmanager").put_secret_value(
        SecretId=UNSUBSCRIBE_SECRET_NAME, SecretString="n" * 64
    )
    parameters.clear_caches()
    assert _post(aws, old_link).status == 400
