"""The staff registry: the people of a tenant who own members (a member's ``owner``
is a staff id), get care tasks and work ticket queues. Shared by care rules and
tickets, so it lives in the layer.

Split along what a caller needs: ``model`` (what a person is, their validation,
versions and list filters; pure) and ``repository`` (the stored items, the list,
the save with its audit entry, ``resolve_assignee``). Every public name is also
importable from here: the pure ``model`` at once, the repository's (which reach
DynamoDB) on first use, so pure code may import this package without loading
boto3."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from loyalty.staff.model import (
    IDENTIFIER_PATTERN,
    LOCALES,
    MAX_QUEUES,
    ROLES,
    Locale,
    Role,
    Staff,
    StaffMember,
    matches,
    revise,
    settled_locale,
)

if TYPE_CHECKING:
    from loyalty.staff.repository import Saved, get, list_staff, resolve_assignee, save

_LAZY = ("Saved", "get", "list_staff", "resolve_assignee", "save")


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.repository"), name)
    globals()[name] = value
    return value


__all__ = [
    "IDENTIFIER_PATTERN",
    "LOCALES",
    "MAX_QUEUES",
    "ROLES",
    "Locale",
    "Role",
    "Saved",
    "Staff",
    "StaffMember",
    "get",
    "list_staff",
    "matches",
    "resolve_assignee",
    "revise",
    "save",
    "settled_locale",
]
