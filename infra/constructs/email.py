"""The SES sender identity (``SENDER_EMAIL``)."""

from __future__ import annotations

from aws_cdk import aws_ses as ses
from constructs import Construct

from infra.definitions import SENDER_EMAIL


class SenderEmail(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.address = SENDER_EMAIL
        self.identity = ses.EmailIdentity(self, "Identity", identity=ses.Identity.email(SENDER_EMAIL))
