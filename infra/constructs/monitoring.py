"""Alarm topic and alarms: every function's errors (the authorizer's real failures only),
every DLQ's depth, the API's 5XX."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.constructs.api import Api
from infra.constructs.context import DeploymentContext
from infra.constructs.data import DataStore
from infra.constructs.functions import Functions
from infra.constructs.nag import acknowledge
from infra.definitions import AUTHORIZER, FUNCTIONS

ALARM_PERIOD = Duration.minutes(5)
ITERATOR_AGE_ALARM_MS = 3_600_000
# The scheduled functions that record and park failing items (loyalty.jobs).
PARKING_JOBS = ("CareRules", "Reports", "TicketsEscalation", "PointsSweep", "MemberRefresh")
METRIC_NAMESPACE = "Loyalty"
AUTHORIZER_FAILURES_METRIC = "AuthorizerFailures"
# The authorizer answers an unknown, revoked or malformed key by raising
# PermissionError("Unauthorized") (API Gateway's contract for a 401), which Lambda counts in
# AWS/Lambda Errors like any failure. With JSON log format, the Python runtime logs every
# unhandled exception as {"level": "ERROR", "errorType": ..., "errorMessage": ...}, so
# { $.level = "ERROR" } alone would count those rejections too. Real failures are every
# ERROR-or-worse line (runtime or Powertools Logger) except exactly that rejection.
# Timeouts leave no such line; API Gateway answers them with 500, which the Api5xx alarm counts.
REJECTION_ERROR_TYPE = "PermissionError"
REJECTION_ERROR_MESSAGE = "Unauthorized"
FAILURE_LEVELS = ("ERROR", "CRITICAL", "FATAL")


def authorizer_failure_pattern() -> logs.JsonPattern:
    return logs.FilterPattern.all(
        logs.FilterPattern.any(
            *(logs.FilterPattern.string_value("$.level", "=", lv) for lv in FAILURE_LEVELS)
        ),
        logs.FilterPattern.any(
            logs.FilterPattern.not_exists("$.errorType"),
            logs.FilterPattern.string_value("$.errorType", "!=", REJECTION_ERROR_TYPE),
            logs.FilterPattern.string_value("$.errorMessage", "!=", REJECTION_ERROR_MESSAGE),
        ),
    )


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        context: DeploymentContext,
        data: DataStore,
        functions: Functions,
        api: Api,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self, "AlarmTopic", display_name="Loyalty alarms", master_key=data.key, enforce_ssl=True
        )
        if context.alarm_email:
            # SNS mails a confirmation link; alarms reach the address once it is confirmed.
            subscription = self.topic.add_subscription(subscriptions.EmailSubscription(context.alarm_email))
            acknowledge(
                subscription,
                "Serverless-SNSRedrivePolicy",
                "An email subscription to the alarm topic: SNS retries delivery to the mail endpoint, and a "
                "notification that still fails loses nothing, since every alarm's state and history stay in "
                "CloudWatch; a dead-letter queue here would hold copies nobody reads.",
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
            if logical_id == AUTHORIZER.logical_id:
                continue
            self._alarm(
                f"{logical_id}Errors",
                function.metric_errors(period=ALARM_PERIOD, statistic=cloudwatch.Stats.SUM),
                f"{logical_id} reported errors in the last 5 minutes",
            )

        self.authorizer_failures = logs.MetricFilter(
            self,
            "AuthorizerFailuresFilter",
            log_group=functions.log_groups[AUTHORIZER.logical_id],
            filter_pattern=authorizer_failure_pattern(),
            metric_namespace=METRIC_NAMESPACE,
            metric_name=AUTHORIZER_FAILURES_METRIC,
            metric_value="1",
        )
        self._alarm(
            f"{AUTHORIZER.logical_id}Failures",
            self.authorizer_failures.metric(period=ALARM_PERIOD, statistic=cloudwatch.Stats.SUM),
            f"{AUTHORIZER.logical_id} failed (not a rejected key) in the last 5 minutes",
        )

        for fn_def in FUNCTIONS:
            if fn_def.stream is None:
                continue
            # A stream keeps records for 24 hours: a consumer an hour behind is falling back.
            self._alarm(
                f"{fn_def.logical_id}IteratorAge",
                functions.functions[fn_def.logical_id].metric(
                    "IteratorAge", period=ALARM_PERIOD, statistic=cloudwatch.Stats.MAXIMUM
                ),
                f"{fn_def.logical_id} is more than an hour behind its stream (records expire after 24 h)",
                threshold=ITERATOR_AGE_ALARM_MS,
            )

        # A scheduled job's item that failed every retry is parked: skipped, listed by
        # `python -m infra.ops failures`, and worth a look.
        for fn_def in FUNCTIONS:
            if fn_def.logical_id not in PARKING_JOBS:
                continue
            self._alarm(
                f"{fn_def.logical_id}ParkedItems",
                cloudwatch.Metric(
                    namespace=METRIC_NAMESPACE,
                    metric_name="JobItemsParked",
                    dimensions_map={"service": fn_def.package},
                    period=ALARM_PERIOD,
                    statistic=cloudwatch.Stats.SUM,
                ),
                f"{fn_def.logical_id} parked an item that kept failing (python -m infra.ops failures)",
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

    def _alarm(
        self, alarm_id: str, metric: cloudwatch.Metric, description: str, threshold: float = 0
    ) -> None:
        alarm = metric.create_alarm(
            self,
            alarm_id,
            alarm_description=description,
            threshold=threshold,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(self._action)
        self.alarms[alarm_id] = alarm
