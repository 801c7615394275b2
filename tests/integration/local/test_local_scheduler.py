"""The local scheduler: async retries, then the event in the function's dead-letter queue."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from infra.definitions import CARE_RULES
from infra.local.scheduler import ASYNC_RETRIES, Clock, Scheduler
from tests.conftest import Env

pytestmark = pytest.mark.integration


def test_failing_job_is_retried_then_dead_lettered(aws: Env) -> None:
    sqs = aws.session.client("sqs")
    url = sqs.get_queue_url(QueueName="CareRules-dlq")["QueueUrl"]
    calls: list[dict] = []

    def broken(event: dict, context: object) -> None:
        calls.append(event)
        raise RuntimeError("downstream unavailable")

    clock = Clock(datetime(2026, 3, 10, 7, 0, tzinfo=UTC))
    scheduler = Scheduler(clock, sqs, after_run=lambda: None)
    scheduler.add(CARE_RULES.schedules[0], CARE_RULES, broken, url)
    runs = scheduler.advance_to(clock.now() + timedelta(days=1))
    assert [r.ok for r in runs] == [False]
    assert len(calls) == ASYNC_RETRIES + 1
    message = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"][0]
    assert json.loads(message["Body"]) == {
        "job": "care_dates",
        "schedule": "care-dates",
        "scheduled_time": "2026-03-10T16:15:00.000Z",  # 00:15 on 11 March in Asia/Shanghai
    }
    assert message["MessageAttributes"]["ErrorMessage"]["StringValue"] == "downstream unavailable"


def test_schedules_fire_in_time_order_with_their_time_zone(aws: Env) -> None:
    sqs = aws.session.client("sqs")
    seen: list[str] = []
    clock = Clock(datetime(2026, 3, 28, 12, 0, tzinfo=UTC))
    scheduler = Scheduler(clock, sqs, after_run=lambda: None)
    berlin = replace(CARE_RULES.schedules[0], time_zone="Europe/Berlin")  # a zone with summer time
    scheduler.add(berlin, CARE_RULES, lambda e, c: seen.append(e["scheduled_time"]), "unused")
    scheduler.advance_to(datetime(2026, 3, 30, 12, 0, tzinfo=UTC))
    # 00:15 in Berlin is 23:15 UTC before the change to summer time and 22:15 UTC after it.
    assert seen == ["2026-03-28T23:15:00.000Z", "2026-03-29T22:15:00.000Z"]
