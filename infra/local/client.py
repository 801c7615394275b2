"""The HTTP client of the local stack's API: `make demo`, the benchmarks and the
end-to-end tests all call the API through it.

A request sends its body as JSON (`content-type: application/json`), the key
as `x-api-key` (the client's own key unless the call names another, none for
`key=None`, as the `/_local` control routes take), and any further headers.
Every answer is returned, whatever its status, as the status and the decoded
JSON body (`None` for an empty body): a 4xx or a 5xx is an answer to check,
not an exception. Nothing is retried, so a caller sees every 429 and 503 the
API gives. Each request opens its own connection and waits at most `timeout`
seconds for the answer."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from enum import Enum
from typing import Any, Final, Literal


class _Own(Enum):
    KEY = "the client's own key"


OWN_KEY: Final = _Own.KEY
"""The default of ``key``: the key the client was made with."""

KeyChoice = str | None | Literal[_Own.KEY]


class Client:
    """Calls the API at ``url`` (no trailing slash), with ``key`` as the default key."""

    def __init__(self, url: str, key: str | None = None, timeout: float = 300) -> None:
        self.url = url
        self.key = key
        self.timeout = timeout

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        key: KeyChoice = OWN_KEY,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """The status and the JSON body of the answer to one request."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)  # noqa: S310 - http(s) URL of the API
        request.add_header("content-type", "application/json")
        api_key = self.key if key is OWN_KEY else key
        if api_key:
            request.add_header("x-api-key", api_key)
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - as above
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def expect(self, status: int, method: str, path: str, body: Any = None, key: KeyChoice = OWN_KEY) -> Any:
        """The JSON body of an answer with ``status``; any other status raises RuntimeError."""
        got, answer = self.request(method, path, body, key)
        if got != status:
            raise RuntimeError(f"{method} {path}: expected {status}, got {got} {answer}")
        return answer

    def pages(self, path: str, field: str, key: KeyChoice = OWN_KEY) -> Iterator[dict[str, Any]]:
        """Every item of a paged list (``field`` of each page, ``next_cursor``), page by page."""
        cursor: str | None = None
        while True:
            query = "?limit=100" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
            page = self.expect(200, "GET", path + query, key=key)
            yield from page[field]
            cursor = page.get("next_cursor")
            if not cursor:
                return
