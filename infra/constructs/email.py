"""The SES sender identity: the address of context ``sender_email``, or the whole domain of
context ``sender_domain`` with Easy DKIM."""

from __future__ import annotations

from aws_cdk import Arn, ArnComponents, ArnFormat, Stack
from aws_cdk import aws_ses as ses
from constructs import Construct

from infra.constructs.context import DeploymentContext


class SenderEmail(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, context: DeploymentContext) -> None:
        super().__init__(scope, construct_id)
        self.address = context.sender_email
        self.domain = context.sender_domain
        if self.domain is None:
            # SES mails a verification link to the address; until it is clicked nothing is sent.
            self.identity = ses.EmailIdentity(self, "Identity", identity=ses.Identity.email(self.address))
        else:
            # Verified once the three DKIM CNAME records (stack outputs) are in the domain's DNS.
            self.identity = ses.EmailIdentity(
                self,
                "Identity",
                identity=ses.Identity.domain(self.domain),
                dkim_identity=ses.DkimIdentity.easy_dkim(ses.EasyDkimSigningKeyLength.RSA_2048_BIT),
                dkim_signing=True,
            )

    def send_resources(self) -> list[str]:
        """What ses:SendEmail/SendRawEmail is granted on: the identity and, for a domain identity,
        the sender address itself (SES authorizes against the identity it sends as)."""
        resources = [self.identity.email_identity_arn]
        if self.domain is not None:
            resources.append(
                Arn.format(
                    ArnComponents(
                        service="ses",
                        resource="identity",
                        resource_name=self.address,
                        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
                    ),
                    Stack.of(self),
                )
            )
        return resources

    def dkim_records(self) -> list[tuple[str, str]]:
        """(name, value) of the CNAME records Easy DKIM needs; empty for an address identity."""
        if self.domain is None:
            return []
        identity = self.identity
        return [
            (identity.dkim_dns_token_name1, identity.dkim_dns_token_value1),
            (identity.dkim_dns_token_name2, identity.dkim_dns_token_value2),
            (identity.dkim_dns_token_name3, identity.dkim_dns_token_value3),
        ]
