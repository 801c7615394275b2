"""One-click unsubscribe links (RFC 8058): signed, expiring tokens naming a member.

A token is ``<payload>.<mac>``, both base64url without padding: the payload is the
compact JSON ``{"t": tenant, "m": member, "e": <expiry, epoch seconds>, "v": 1}``, the
MAC its HMAC-SHA256 under the unsubscribe key, truncated to 16 bytes. Guarantees:

- ``verify`` accepts only a token one of the given keys signed, byte for byte (the
  MAC is compared in constant time against its one canonical encoding), and only
  before its expiry; anything else raises ``InvalidToken`` (``ExpiredToken`` when the
  token is genuine but too old), with a message that never repeats the token or
  anything in it. The payload is parsed only once its MAC is good.
- Key rotation: ``verify`` takes the keys current first, so links signed with the
  previous key stay good while it is still listed; ``sign`` always uses the first.
- The payload is signed, not encrypted: whoever holds the link can read the tenant
  and member ids (the member's own inbox does). A token grants one thing only, the
  withdrawal of the member's email consent.

Pure: no AWS here (the keys come from ``loyalty.secrets``)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

# Marketing mail sits in inboxes for weeks before it is read, and a link must still
# work then (RFC 8058 asks for links that keep working). A token can only withdraw
# consent, never grant it or read anything, so a long life risks little: 60 days.
TOKEN_LIFETIME = timedelta(days=60)
TOKEN_VERSION = 1
MAC_BYTES = 16
# Far above any real token (ids are at most 128 characters): longer input is refused
# before anything is decoded.
MAX_TOKEN_LENGTH = 1024
ROUTE = "/v1/unsubscribe"
ONE_CLICK = "List-Unsubscribe=One-Click"

_PART = re.compile(r"^[A-Za-z0-9_-]+$")
_FIELDS = frozenset({"t", "m", "e", "v"})


class InvalidToken(ValueError):
    """Not a token signed with one of the keys: malformed, altered or forged."""


class ExpiredToken(InvalidToken):
    """A genuine token past its expiry."""


@dataclass(frozen=True)
class Subscriber:
    tenant: str
    member: str
    expires_at: datetime


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as err:
        raise InvalidToken("the token is not well formed") from err


def _mac(key: bytes, payload: str) -> str:
    return _encode(hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest()[:MAC_BYTES])


def _keys(key: bytes | Sequence[bytes]) -> list[bytes]:
    keys = [key] if isinstance(key, bytes | bytearray) else list(key)
    if not keys or not all(isinstance(k, bytes | bytearray) and k for k in keys):
        raise ValueError("at least one non-empty key is needed")
    return [bytes(k) for k in keys]


def _epoch(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("a time zone aware datetime is needed")
    return int(moment.timestamp())


def sign(key: bytes | Sequence[bytes], tenant: str, member: str, expires_at: datetime) -> str:
    """A token for ``member`` of ``tenant``, good until ``expires_at`` (whole seconds),
    signed with ``key`` (or the first of several keys: the current one)."""
    if not tenant or not member:
        raise ValueError("tenant and member are needed")
    document = {"t": tenant, "m": member, "e": _epoch(expires_at), "v": TOKEN_VERSION}
    payload = _encode(json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    return f"{payload}.{_mac(_keys(key)[0], payload)}"


def _parts(token: object) -> tuple[str, str]:
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken("the token is not well formed")
    payload, dot, mac = token.partition(".")
    if not dot or not _PART.match(payload) or not _PART.match(mac):
        raise InvalidToken("the token is not well formed")
    return payload, mac


def _document(payload: str) -> dict[str, Any]:
    try:
        document = json.loads(_decode(payload).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise InvalidToken("the token is not well formed") from err
    if not isinstance(document, dict) or set(document) != _FIELDS:
        raise InvalidToken("the token is not well formed")
    return document


def verify(key: bytes | Sequence[bytes], token: str, now: datetime) -> Subscriber:
    """The subscriber a token names, if one of ``key`` (current first) signed it and
    it has not expired at ``now``; else ``InvalidToken`` or ``ExpiredToken``."""
    keys = _keys(key)
    payload, mac = _parts(token)
    # Every key is tried, whichever matches: the time taken says nothing about which.
    matched = False
    for candidate in keys:
        matched |= hmac.compare_digest(_mac(candidate, payload), mac)
    if not matched:
        raise InvalidToken("the token's signature does not match")
    document = _document(payload)
    tenant, member, expiry, version = document["t"], document["m"], document["e"], document["v"]
    if version != TOKEN_VERSION or isinstance(version, bool):
        raise InvalidToken("the token's version is not supported")
    if not isinstance(tenant, str) or not tenant or not isinstance(member, str) or not member:
        raise InvalidToken("the token is not well formed")
    if not isinstance(expiry, int) or isinstance(expiry, bool) or not 0 <= expiry < 2**40:
        raise InvalidToken("the token is not well formed")
    expires_at = datetime.fromtimestamp(expiry, UTC)
    if _epoch(now) >= expiry:
        raise ExpiredToken("the token has expired")
    return Subscriber(tenant=tenant, member=member, expires_at=expires_at)


def url(base_url: str, token: str) -> str:
    """The link: ``<base_url>/v1/unsubscribe/<token>`` (one slash whatever ``base_url`` ends with)."""
    return f"{base_url.rstrip('/')}{ROUTE}/{token}"


def headers(link: str) -> dict[str, str]:
    """The two RFC 8058 headers for a marketing email whose unsubscribe link is ``link``."""
    return {"List-Unsubscribe": f"<{link}>", "List-Unsubscribe-Post": ONE_CLICK}


def link(key: bytes | Sequence[bytes], base_url: str, tenant: str, member: str, now: datetime) -> str:
    """The unsubscribe link of a message composed at ``now``: good for ``TOKEN_LIFETIME``."""
    return url(base_url, sign(key, tenant, member, now + TOKEN_LIFETIME))
