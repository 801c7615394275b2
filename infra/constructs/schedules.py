"""EventBridge Scheduler schedules (``FunctionDef.schedules``) invoking their function."""

from __future__ import annotations

from aws_cdk import Duration, Stack, TimeZone
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from constructs import Construct

from infra.constructs.functions import Functions
from infra.constructs.nag import acknowledge
from infra.definitions import FUNCTIONS, ScheduleDef

# Scheduler's retry policy towards Lambda before an event goes to the function's DLQ.
SCHEDULE_RETRY_ATTEMPTS = 3
SCHEDULE_MAX_EVENT_AGE = Duration.hours(1)


def schedule_input(schedule: ScheduleDef) -> scheduler.ScheduleTargetInput:
    return scheduler.ScheduleTargetInput.from_object(
        {
            "job": schedule.job,
            "schedule": schedule.name,
            "scheduled_time": scheduler.ContextAttribute.scheduled_time,
        }
    )


class Schedules(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, functions: Functions) -> None:
        super().__init__(scope, construct_id)
        stack_name = Stack.of(self).stack_name
        self.schedules: dict[str, scheduler.Schedule] = {}
        self.roles: dict[str, iam.Role] = {}
        for fn_def in FUNCTIONS:
            if not fn_def.schedules:
                continue
            function = functions.functions[fn_def.logical_id]
            # One scheduler role per target function (instead of CDK's stack-level singleton),
            # so its permissions and acknowledgement stay next to the function they concern.
            role = iam.Role(
                self,
                f"{fn_def.logical_id}SchedulerRole",
                assumed_by=iam.ServicePrincipal(
                    "scheduler.amazonaws.com",
                    conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
                ),
                description=f"EventBridge Scheduler invoking {fn_def.logical_id}",
            )
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::<{fn_def.logical_id}.Arn>:*]",
                "LambdaInvoke grants lambda:InvokeFunction on this one function and its qualified "
                "(version/alias) ARNs; nothing else is reachable.",
            )
            self.roles[fn_def.logical_id] = role
            for schedule_def in fn_def.schedules:
                target = targets.LambdaInvoke(
                    function,
                    role=role,
                    input=schedule_input(schedule_def),
                    dead_letter_queue=functions.dead_letter_queues[fn_def.logical_id],
                    retry_attempts=SCHEDULE_RETRY_ATTEMPTS,
                    max_event_age=SCHEDULE_MAX_EVENT_AGE,
                )
                self.schedules[schedule_def.name] = scheduler.Schedule(
                    self,
                    schedule_def.name,
                    schedule_name=f"{stack_name}-{schedule_def.name}",
                    description=f"{fn_def.logical_id}: {schedule_def.job}",
                    schedule=scheduler.ScheduleExpression.expression(
                        schedule_def.expression, TimeZone.of(schedule_def.time_zone)
                    ),
                    target=target,
                    time_window=scheduler.TimeWindow.off(),
                    enabled=True,
                )
