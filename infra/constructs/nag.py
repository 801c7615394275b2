"""cdk-nag acknowledgements: one helper, so every acknowledgement carries a reason."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge ``rule_id`` (e.g. ``AwsSolutions-IAM5[Resource::*]``) on ``scope``
    and everything below it. The reason is mandatory and lands in the validation report."""
    if not reason or not reason.strip():
        raise ValueError(f"acknowledgement of {rule_id} on {scope.node.path} needs a reason")
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason.strip()))
