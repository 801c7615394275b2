"""The OpenAPI document, merged from the API functions' own resolvers."""

from __future__ import annotations

import json
from typing import Any

from infra.definitions import FUNCTIONS


def openapi_document() -> dict[str, Any]:
    import importlib

    from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge

    from loyalty.api import API_TITLE, API_VERSION, SECURITY_SCHEMES

    merge = OpenAPIMerge(
        title=API_TITLE,
        version=API_VERSION,
        description="Storefront API: events, members and points, service tickets.",
        security_schemes=SECURITY_SCHEMES,  # type: ignore[arg-type]
        on_conflict="error",
    )
    for fn in FUNCTIONS:
        if fn.routes:
            module = importlib.import_module(fn.handler.rsplit(".", 1)[0])
            merge.add_schema(
                module.app.get_openapi_schema(
                    title=API_TITLE,
                    version=API_VERSION,
                    security_schemes=SECURITY_SCHEMES,  # type: ignore[arg-type]
                )
            )
    document: dict[str, Any] = json.loads(merge.get_openapi_json_schema())
    return _without_unused_422(document)


def _without_unused_422(document: dict[str, Any]) -> dict[str, Any]:
    """Powertools documents a 422 for request validation; these handlers answer
    400 with the error contract instead, so the 422 entries are dropped."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    schemas = document.get("components", {}).get("schemas", {})
    text = json.dumps(document["paths"])
    for name in ("HTTPValidationError", "ValidationError"):
        if f"#/components/schemas/{name}" not in text:
            schemas.pop(name, None)
    return document


if __name__ == "__main__":
    print(json.dumps(openapi_document(), indent=2, sort_keys=False))
