"""One-click unsubscribe over HTTP against the local stack: a form-encoded POST without
an API key, as mail providers send it, withdraws the member's email consent."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from infra.definitions import UNSUBSCRIBE_SECRET_NAME
from infra.local.runtime import REGION
from loyalty import unsubscribe
from loyalty.secrets import _keys_of
from loyalty.timeutil import parse_rfc3339
from tests.conftest import registration
from tests.e2e.conftest import LocalClient

pytestmark = pytest.mark.e2e


def _http(method: str, url: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, str, str]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
            return response.status, response.headers["content-type"], response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers["content-type"], err.read().decode()


def test_a_form_encoded_post_without_a_key_unsubscribes(local: LocalClient) -> None:
    import boto3

    now = local.request("GET", "/_local/clock", key=None)[1]["now"]
    event = registration("e2e-unsub-r1", "e2e-una", at=now)
    assert local.request("POST", "/v1/events", event)[0] == 202
    local.request("POST", "/_local/clock", {"advance": "PT1M"}, key=None)  # the projector runs
    member = local.request("GET", "/v1/members/e2e-una")[1]
    assert member["profile"]["consent"]["email"]["granted"] is True

    # The key the stack generated at start, from its Secrets Manager (moto).
    endpoint = local.request("GET", "/_local/status", key=None)[1]["aws_endpoint"]
    secrets = boto3.client(
        "secretsmanager",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - moto accepts any credentials
    )
    keys = _keys_of(secrets.get_secret_value(SecretId=UNSUBSCRIBE_SECRET_NAME)["SecretString"])
    link = unsubscribe.link(keys, local.url, "demo", "e2e-una", parse_rfc3339(now))

    status, content_type, page = _http("GET", link, None, {})
    assert (status, content_type) == (200, "text/html; charset=utf-8")
    assert '<form method="post">' in page
    assert local.request("GET", "/v1/members/e2e-una")[1]["profile"]["consent"]["email"]["granted"] is True

    form = {"content-type": "application/x-www-form-urlencoded"}
    status, content_type, page = _http("POST", link, b"List-Unsubscribe=One-Click", form)
    assert (status, content_type) == (200, "text/html; charset=utf-8"), page
    consent = local.request("GET", "/v1/members/e2e-una")[1]["profile"]["consent"]["email"]
    assert consent["granted"] is False and consent["source"] == "email"

    status, _, _ = _http("POST", link.replace("/v1/unsubscribe/", "/v1/unsubscribe/x"), b"", form)
    assert status == 400
