"""``LoyaltyStack``: a thin composition of one construct per capability."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Fn, Stack, Tags
from constructs import Construct

from infra.constructs.api import Api
from infra.constructs.care_events import CareEvents
from infra.constructs.context import DeploymentContext
from infra.constructs.data import DataStore
from infra.constructs.email import SenderEmail
from infra.constructs.functions import Functions
from infra.constructs.monitoring import Monitoring
from infra.constructs.schedules import Schedules
from infra.constructs.streams import StreamSubscriptions

STACK_NAME = "LoyaltyStack"


class LoyaltyStack(Stack):
    def __init__(self, scope: Construct, construct_id: str = STACK_NAME, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, description="Serverless loyalty and care automation", **kwargs)
        # Deployment settings (CDK context) first: a missing or invalid one fails before anything is built.
        self.context = DeploymentContext.parse(self.node.try_get_context)
        Tags.of(self).add("project", "loyalty")

        self.data = DataStore(self, "Data")
        self.email = SenderEmail(self, "Email", context=self.context)
        self.care_events = CareEvents(self, "CareEvents")
        self.functions = Functions(
            self,
            "Functions",
            context=self.context,
            data=self.data,
            email=self.email,
            care_events=self.care_events,
        )
        self.api = Api(self, "Api", context=self.context, functions=self.functions)
        self.streams = StreamSubscriptions(self, "Streams", data=self.data, functions=self.functions)
        self.schedules = Schedules(self, "Schedules", functions=self.functions)
        self.monitoring = Monitoring(
            self, "Monitoring", context=self.context, data=self.data, functions=self.functions, api=self.api
        )

        CfnOutput(self, "ApiUrl", value=self.api.rest_api.url)
        CfnOutput(self, "ReportsBucketName", value=self.data.reports_bucket.bucket_name)
        CfnOutput(self, "AlarmTopicArn", value=self.monitoring.topic.topic_arn)
        for logical_id, table in self.data.tables.items():
            CfnOutput(self, f"{logical_id}Name", value=table.table_name)
        CfnOutput(self, "CareEventBusName", value=self.care_events.bus.event_bus_name)
        CfnOutput(self, "SenderIdentity", value=self.email.identity.email_identity_name)
        for number, (name, value) in enumerate(self.email.dkim_records(), start=1):
            CfnOutput(
                self,
                f"SenderDkimRecord{number}",
                description="CNAME record SES Easy DKIM needs in the sender domain's DNS",
                value=Fn.join(" ", [name, "CNAME", value]),
            )
