"""Unsubscribe tokens: only what a listed key signed, byte for byte, before its expiry."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from loyalty import unsubscribe
from loyalty.secrets import _keys_of
from loyalty.unsubscribe import ExpiredToken, InvalidToken, Subscriber, sign, verify

pytestmark = pytest.mark.unit

KEY = b"k" * 64
OLD_KEY = b"o" * 64
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
EXPIRES = NOW + unsubscribe.TOKEN_LIFETIME


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_round_trip() -> None:
    token = sign(KEY, "demo", "m-1", EXPIRES)
    assert verify(KEY, token, NOW) == Subscriber("demo", "m-1", EXPIRES)
    payload, mac = token.split(".")
    assert json.loads(base64.urlsafe_b64decode(payload + "==")) == {
        "t": "demo",
        "m": "m-1",
        "e": int(EXPIRES.timestamp()),
        "v": 1,
    }
    assert len(base64.urlsafe_b64decode(mac + "==")) == 16
    assert "=" not in token and "/" not in token and "+" not in token


def test_member_ids_with_any_allowed_character_round_trip() -> None:
    member = "shop:m/1+x@y.z-9_"
    assert verify(KEY, sign(KEY, "t-1", member, EXPIRES), NOW).member == member


def test_a_tampered_payload_is_refused() -> None:
    token = sign(KEY, "demo", "m-1", EXPIRES)
    _, mac = token.split(".")
    forged = _b64(json.dumps({"t": "demo", "m": "m-2", "e": int(EXPIRES.timestamp()), "v": 1}).encode())
    with pytest.raises(InvalidToken) as refused:
        verify(KEY, f"{forged}.{mac}", NOW)
    assert not isinstance(refused.value, ExpiredToken)


@pytest.mark.parametrize("position", range(22))
def test_every_changed_mac_character_is_refused(position: int) -> None:
    token = sign(KEY, "demo", "m-1", EXPIRES)
    payload, mac = token.split(".")
    changed = "A" if mac[position] != "A" else "B"
    with pytest.raises(InvalidToken):
        verify(KEY, f"{payload}.{mac[:position]}{changed}{mac[position + 1 :]}", NOW)


def test_another_key_is_refused() -> None:
    with pytest.raises(InvalidToken):
        verify(b"x" * 64, sign(KEY, "demo", "m-1", EXPIRES), NOW)


def test_expiry_at_the_second() -> None:
    token = sign(KEY, "demo", "m-1", EXPIRES)
    assert verify(KEY, token, EXPIRES - timedelta(seconds=1)).member == "m-1"
    with pytest.raises(ExpiredToken):
        verify(KEY, token, EXPIRES)
    with pytest.raises(ExpiredToken) as expired:
        verify(KEY, token, EXPIRES + timedelta(days=1))
    assert "m-1" not in str(expired.value) and "demo" not in str(expired.value)


def test_a_forged_token_is_refused_before_its_expiry_is_read() -> None:
    past = sign(b"x" * 64, "demo", "m-1", NOW - timedelta(days=1))
    with pytest.raises(InvalidToken) as refused:
        verify(KEY, past, NOW)
    assert not isinstance(refused.value, ExpiredToken)


def test_rotation_keeps_links_of_listed_keys() -> None:
    old_link = sign(OLD_KEY, "demo", "m-1", EXPIRES)
    new_link = sign([KEY, OLD_KEY], "demo", "m-1", EXPIRES)
    assert new_link == sign(KEY, "demo", "m-1", EXPIRES)  # signed with the first key
    assert verify([KEY, OLD_KEY], old_link, NOW).member == "m-1"
    assert verify([KEY, OLD_KEY], new_link, NOW).member == "m-1"
    with pytest.raises(InvalidToken):
        verify([KEY], old_link, NOW)  # the old key dropped


def _signed(document: object) -> str:
    import hashlib
    import hmac

    payload = _b64(json.dumps(document).encode())
    return f"{payload}.{_b64(hmac.new(KEY, payload.encode(), hashlib.sha256).digest()[:16])}"


@pytest.mark.parametrize(
    "token",
    [
        "",
        "no-dot",
        ".",
        "abc.",
        ".abc",
        "a.b.c",
        "abc!.def",
        "a b.c",
        "é.abc",
        "A.AAAAAAAAAAAAAAAAAAAAAA",  # one base64 character: not decodable
        "x" * 5000 + "." + "y" * 22,  # huge
        "%2E%2E.abc",
    ],
)
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidToken) as refused:
        verify(KEY, token, NOW)
    assert token[:20] not in str(refused.value) or not token


@pytest.mark.parametrize(
    "document",
    [
        [1, 2],
        "text",
        {"t": "demo", "m": "m-1", "e": 1_900_000_000},  # no version
        {"t": "demo", "m": "m-1", "e": 1_900_000_000, "v": 2},
        {"t": "demo", "m": "m-1", "e": 1_900_000_000, "v": True},
        {"t": "demo", "m": "", "e": 1_900_000_000, "v": 1},
        {"t": 7, "m": "m-1", "e": 1_900_000_000, "v": 1},
        {"t": "demo", "m": "m-1", "e": "1900000000", "v": 1},
        {"t": "demo", "m": "m-1", "e": 1.9e9, "v": 1},
        {"t": "demo", "m": "m-1", "e": 10**30, "v": 1},
        {"t": "demo", "m": "m-1", "e": 1_900_000_000, "v": 1, "x": 1},
    ],
)
def test_signed_but_malformed_payloads_are_refused(document: object) -> None:
    with pytest.raises(InvalidToken) as refused:
        verify(KEY, _signed(document), NOW)
    assert not isinstance(refused.value, ExpiredToken)


def test_signed_non_json_payload_is_refused() -> None:
    import hashlib
    import hmac

    payload = _b64(b"\xff\xfe not json")
    mac = _b64(hmac.new(KEY, payload.encode(), hashlib.sha256).digest()[:16])
    with pytest.raises(InvalidToken):
        verify(KEY, f"{payload}.{mac}", NOW)


def test_sign_refuses_what_it_cannot_sign() -> None:
    with pytest.raises(ValueError):
        sign(KEY, "demo", "m-1", datetime(2026, 5, 1))  # naive
    with pytest.raises(ValueError):
        sign(KEY, "", "m-1", EXPIRES)
    with pytest.raises(ValueError):
        sign([], "demo", "m-1", EXPIRES)
    with pytest.raises(ValueError):
        verify([b""], sign(KEY, "demo", "m-1", EXPIRES), NOW)


def test_url_and_headers() -> None:
    link = unsubscribe.url("https://api.example.com/live/", "abc.def")
    assert link == "https://api.example.com/live/v1/unsubscribe/abc.def"
    assert (
        unsubscribe.url("http://127.0.0.1:3000", "abc.def") == "http://127.0.0.1:3000/v1/unsubscribe/abc.def"
    )
    assert unsubscribe.headers(link) == {
        "List-Unsubscribe": "<https://api.example.com/live/v1/unsubscribe/abc.def>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    made = unsubscribe.link(KEY, "http://h/", "demo", "m-1", NOW)
    token = made.rsplit("/", 1)[1]
    assert verify(KEY, token, NOW + unsubscribe.TOKEN_LIFETIME - timedelta(seconds=1)).member == "m-1"
    with pytest.raises(ExpiredToken):
        verify(KEY, token, NOW + unsubscribe.TOKEN_LIFETIME)


def test_the_secret_holds_one_key_or_a_list() -> None:
    assert _keys_of("abc") == [b"abc"]
    assert _keys_of(b"abc") == [b"abc"]
    assert _keys_of('["new", "old"]') == [b"new", b"old"]
    for bad in ("", "   ", "[]", '["ok", ""]', "[1]", "[not json"):
        with pytest.raises(RuntimeError) as refused:
            _keys_of(bad)
        assert "ok" not in str(refused.value)
