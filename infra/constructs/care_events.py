"""The care event bus: where care rules' ``event`` actions publish, so other systems
(SMS, WeChat, a CRM) can act on them with their own EventBridge rules. Events carry
ids, the rule and the member's consent flags, never personal data (docs/care-rules.md)."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_events as events
from constructs import Construct


class CareEvents(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(
            self,
            "Bus",
            event_bus_name=f"{Stack.of(self).stack_name}-care",
            description="Care rules' event actions (source loyalty.care)",
        )
