"""Dependencies go one way: the members package may use the events package, the
events package never uses the members package (what both need lives in the
events package or the layer)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
EVENTS = Path(__file__).resolve().parents[4] / "functions" / "ingest" / "events"


def _imported(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_the_events_package_never_imports_the_members_package() -> None:
    modules = sorted(EVENTS.glob("*.py"))
    assert modules, EVENTS
    for path in modules:
        members = {name for name in _imported(path) if name.startswith("ingest.members")}
        assert not members, f"{path.name} imports {members}"
