"""SES rejections, injected through a botocore event hook on boto3's default session (the
one the functions' clients come from): SendRawEmail answers ``MessageRejected`` for the
messages a predicate picks, with the recipients in the message, as SES does."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse

from loyalty import aws

Picks = Callable[[list[str], str], bool]  # (destinations, raw MIME) -> reject?


class Rejections:
    def __init__(self, picks: Picks) -> None:
        self.picks = picks
        self.rejected: list[list[str]] = []

    def _before(self, model: Any, params: dict[str, Any], **kwargs: Any) -> Any:
        body = params.get("body") or {}
        destinations = [v for k, v in sorted(body.items()) if k.startswith("Destinations.member.")]
        raw = base64.b64decode(body.get("RawMessage.Data", "")).decode(errors="replace")
        if not self.picks(destinations, raw):
            return None
        self.rejected.append(destinations)
        message = (
            "Email address is not verified. The following identities failed the check in region "
            f"EU-CENTRAL-1: {', '.join(destinations)}"
        )
        parsed = {
            "Error": {"Code": "MessageRejected", "Message": message, "Type": "Sender"},
            "ResponseMetadata": {"HTTPStatusCode": 400, "HTTPHeaders": {}},
        }
        return AWSResponse("https://email.eu-central-1.amazonaws.com", 400, {}, None), parsed


@contextmanager
def rejecting(picks: Picks) -> Iterator[Rejections]:
    """SES rejects the messages ``picks`` selects while the block runs."""
    rejections = Rejections(picks)
    events = boto3._get_default_session().events
    events.register("before-call.ses.SendRawEmail", rejections._before)
    aws.reset()  # clients created from now on carry the hook
    try:
        yield rejections
    finally:
        events.unregister("before-call.ses.SendRawEmail", rejections._before)
        aws.reset()
