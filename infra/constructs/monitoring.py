"""Alarm topic and alarms: every function's errors, every DLQ's depth, the API's 5XX."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.constructs.api import Api
from infra.constructs.data import DataStore
from infra.constructs.functions import Functions

ALARM_PERIOD = Duration.minutes(5)


class Monitoring(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, data: DataStore, functions: Functions, api: Api
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self, "AlarmTopic", display_name="Loyalty alarms", master_key=data.key, enforce_ssl=True
        )
        # CloudWatch alarms publish to the encrypted topic, so the service needs the key.
        data.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublishToEncryptedTopic",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            )
        )
        self._action = actions.SnsAction(self.topic)
        self.alarms: dict[str, cloudwatch.Alarm] = {}

        for logical_id, function in functions.functions.items():
            self._alarm(
                f"{logical_id}Errors",
                function.metric_errors(period=ALARM_PERIOD, statistic=cloudwatch.Stats.SUM),
                f"{logical_id} reported errors in the last 5 minutes",
            )
        for logical_id, queue in functions.dead_letter_queues.items():
            self._alarm(
                f"{logical_id}DeadLetters",
                queue.metric_approximate_number_of_messages_visible(
                    period=ALARM_PERIOD, statistic=cloudwatch.Stats.MAXIMUM
                ),
                f"Failed {logical_id} events are waiting in its dead-letter queue",
            )
        self._alarm(
            "Api5xx",
            api.rest_api.deployment_stage.metric_server_error(
                period=ALARM_PERIOD, statistic=cloudwatch.Stats.SUM
            ),
            "The storefront API returned 5XX responses in the last 5 minutes",
        )

    def _alarm(self, alarm_id: str, metric: cloudwatch.Metric, description: str) -> None:
        alarm = metric.create_alarm(
            self,
            alarm_id,
            alarm_description=description,
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(self._action)
        self.alarms[alarm_id] = alarm
