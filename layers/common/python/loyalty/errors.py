"""Domain errors carry a machine-readable code and an HTTP status; handlers
turn them into ``{"error": {"code", "message", "field"}}``."""

from __future__ import annotations

from typing import Any

# pydantic error types raised when an event's "type" is missing or unknown
TAG_ERRORS = frozenset({"union_tag_not_found", "union_tag_invalid"})


def field_path(loc: tuple[Any, ...], union_tags: frozenset[str] = frozenset()) -> str | None:
    """A dotted field path from a pydantic error location, without union branch tags."""
    parts = [str(p) for p in loc if str(p) not in union_tags]
    return ".".join(parts) or None


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code


class ValidationFailed(DomainError):
    status = 400
    code = "validation_error"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"
