"""Opaque pagination cursors: a DynamoDB LastEvaluatedKey, base64url-encoded,
checked on the way back in so a tampered or foreign cursor is a 400, never a
query outside the caller's partition."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from loyalty.errors import ValidationFailed


def encode(last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    raw = json.dumps(last_key, sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str | None, fields: tuple[str, ...], expected: dict[str, str]) -> dict[str, Any] | None:
    """The start key: exactly ``fields``, all strings, with the ``expected`` partition values."""
    if not cursor:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as err:
        raise ValidationFailed("cursor is not valid", field="cursor", code="invalid_cursor") from err
    if (
        not isinstance(key, dict)
        or set(key) != set(fields)
        or not all(isinstance(v, str) for v in key.values())
        or any(key.get(name) != value for name, value in expected.items())
    ):
        raise ValidationFailed("cursor is not valid", field="cursor", code="invalid_cursor")
    return key
