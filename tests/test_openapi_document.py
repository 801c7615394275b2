"""docs/openapi.json is generated from the handlers' code: fail on drift."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.local.openapi import openapi_document

pytestmark = pytest.mark.unit
DOC = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"


def test_committed_document_matches_the_code() -> None:
    committed = json.loads(DOC.read_text())
    assert committed == openapi_document(), "docs/openapi.json is stale: run `make openapi`"


def test_every_route_in_the_definitions_is_documented() -> None:
    from infra.definitions import FUNCTIONS

    paths = openapi_document()["paths"]
    for fn in FUNCTIONS:
        for route in fn.routes:
            assert route.method.lower() in paths[route.path], f"{route.method} {route.path} undocumented"
