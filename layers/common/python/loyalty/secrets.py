"""Secrets the functions read at run time from Secrets Manager, through Powertools
Parameters (cached five minutes, so a warm function makes at most one call per
secret in that time).

The unsubscribe key (``UNSUBSCRIBE_SECRET``: the secret's ARN or name) holds either
one key or a JSON list of keys, current first, for rotation: links signed with an
earlier key stay good while it is listed. Each key is used as its UTF-8 bytes. A
secret with no usable key fails loudly (``RuntimeError``) and the value is never
logged or put in an error message."""

from __future__ import annotations

import json

from loyalty.settings import get_settings

SECRET_MAX_AGE_SECONDS = 300


def _keys_of(value: str | bytes) -> list[bytes]:
    text = value.decode("utf-8") if isinstance(value, bytes) else value
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            listed = json.loads(stripped)
        except ValueError as err:
            raise RuntimeError("the unsubscribe secret is not a JSON list of keys") from err
        if not isinstance(listed, list) or not all(isinstance(k, str) and k for k in listed):
            raise RuntimeError("the unsubscribe secret must list non-empty strings")
        keys = [k.encode("utf-8") for k in listed]
    else:
        keys = [stripped.encode("utf-8")] if stripped else []
    if not keys:
        raise RuntimeError("the unsubscribe secret holds no key")
    return keys


def unsubscribe_keys() -> list[bytes]:
    """The unsubscribe signing keys, current first (``loyalty.unsubscribe``)."""
    from aws_lambda_powertools.utilities import parameters

    name = get_settings().require("unsubscribe_secret")
    value = parameters.get_secret(name, max_age=SECRET_MAX_AGE_SECONDS)
    if not isinstance(value, str | bytes):
        raise RuntimeError("the unsubscribe secret is not a string")
    return _keys_of(value)
