"""Shared fixtures. AWS is moto, in-process; handlers get real Lambda event shapes."""

from __future__ import annotations

import json
import logging
import os
import re
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

# Before anything imports boto3 clients: fake credentials, a region, no real endpoint.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-central-1",
        "AWS_REGION": "eu-central-1",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)

SENDER = "loyalty@example.com"

# Personal data in the test data: names and birthdays the helpers below hand out,
# and every email address and phone number by their shape. No log record of any
# test may contain one (see no_personal_data_in_logs).
PERSONAL_VALUES: set[str] = set()
PERSONAL_PATTERNS = (
    re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)*\.(com|example|test)\b"),  # email addresses
    re.compile(r"\+[1-9]\d{7,14}\b"),  # E.164 phone numbers
)


def personal(value: str) -> str:
    """Mark a value a test sends as personal data: logs must never contain it."""
    PERSONAL_VALUES.add(value)
    return value


def _record_text(record: logging.LogRecord) -> str:
    text = [record.getMessage(), repr({k: v for k, v in record.__dict__.items() if k not in ("msg", "args")})]
    if record.exc_info:
        text.append("".join(traceback.format_exception(*record.exc_info)))
    return "\n".join(text)


def personal_data_in(records: list[logging.LogRecord]) -> list[str]:
    """The records holding personal test data, each with what it holds."""
    leaks = []
    for record in records:
        text = _record_text(record)
        found = [m.group(0) for pattern in PERSONAL_PATTERNS for m in pattern.finditer(text)]
        found += [v for v in PERSONAL_VALUES if re.search(rf"(?<![\w-]){re.escape(v)}(?![\w-])", text)]
        if found:
            leaks.append(f"{record.name} {record.levelname} {record.getMessage()!r}: {sorted(set(found))}")
    return leaks


@pytest.fixture(autouse=True)
def no_personal_data_in_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[logging.LogRecord]]:
    """Captures every log record of the test (Powertools' loggers included, at INFO)
    and fails the test when one holds a test-data email, phone number, birthday or
    name."""
    records: list[logging.LogRecord] = []
    handle = logging.Logger.handle

    def capture(self: logging.Logger, record: logging.LogRecord) -> None:
        records.append(record)
        handle(self, record)

    monkeypatch.setattr(logging.Logger, "handle", capture)
    yield records
    leaks = personal_data_in(records)
    if leaks:
        pytest.fail("personal data in logs:\n" + "\n".join(leaks[:10]), pytrace=False)


BUCKET = "test-reports"
TENANT = "demo"
API_KEY = "test-key-demo"
OTHER_TENANT = "rival"
OTHER_API_KEY = "test-key-rival"


@dataclass
class HttpResult:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Env:
    """The provisioned moto account plus helpers to drive handlers."""

    session: Any
    env: dict[str, str]
    handlers: dict[str, Any]
    now: datetime

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        key: str | None = API_KEY,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        at: datetime | None = None,
    ) -> HttpResult:
        from infra.local.gateway import Gateway

        sent = {"content-type": "application/json", **(headers or {})}
        if key is not None:
            sent["x-api-key"] = key
        payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        response = Gateway(self.handlers).handle(method, path, sent, payload, at or self.now, "203.0.113.9")
        return HttpResult(response.status, response.headers, response.body)

    def pump(self) -> Any:
        from infra.definitions import FUNCTIONS, table
        from infra.local.pump import StreamPump
        from infra.local.resources import local_table_name

        pump = StreamPump(self.session, lambda: self.now)
        dynamodb = self.session.client("dynamodb")
        sqs = self.session.client("sqs")
        from infra.definitions import dead_letter_queue_name

        for fn in FUNCTIONS:
            if fn.stream:
                arn = dynamodb.describe_table(TableName=local_table_name(table(fn.stream.table)))["Table"][
                    "LatestStreamArn"
                ]
                url = sqs.get_queue_url(QueueName=dead_letter_queue_name(fn))["QueueUrl"]
                pump.subscribe(fn, self.handlers[fn.logical_id], arn, url)
        return pump

    def run_job(self, function_id: str, job: str, at: datetime) -> Any:
        from infra.definitions import FUNCTIONS
        from infra.local.runtime import invoke
        from loyalty.timeutil import iso

        fn = next(f for f in FUNCTIONS if f.logical_id == function_id)
        return invoke(
            fn, self.handlers[function_id], {"job": job, "schedule": "test", "scheduled_time": iso(at)}
        )

    def sent_emails(self) -> list[Any]:
        from moto.ses.models import ses_backends

        from infra.local.runtime import ACCOUNT

        return list(ses_backends[ACCOUNT]["eu-central-1"].sent_messages)

    def table(self, env_var: str) -> Any:
        return self.session.resource("dynamodb").Table(self.env[env_var])


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    import boto3
    from moto import mock_aws

    from infra.definitions import FUNCTIONS
    from infra.local import moto_patch
    from infra.local.resources import provision
    from infra.local.runtime import load_handler

    moto_patch.install()
    with mock_aws():
        session = boto3.session.Session(region_name="eu-central-1")
        env = provision(session, SENDER, BUCKET)

        settings = {
            **env,
            "SENDER_EMAIL": SENDER,
            "PROGRAM_TIME_ZONE": "Europe/Berlin",
        }
        for name, value in settings.items():
            monkeypatch.setenv(name, value)
        from loyalty import aws as loyalty_aws
        from loyalty import credentials, tenants
        from loyalty.program import clear_program_cache
        from loyalty.settings import get_settings

        loyalty_aws.reset()
        get_settings.cache_clear()
        clear_program_cache()
        now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
        for tenant_id, key, manager in (
            (TENANT, API_KEY, "manager@demo.example"),
            (OTHER_TENANT, OTHER_API_KEY, "boss@rival.example"),
        ):
            tenants.put_tenant(
                env["LOYALTY_TABLE"],
                tenants.Tenant(
                    tenant_id=tenant_id,
                    name=tenant_id.title(),
                    manager_emails=[manager],
                    escalation_emails=[f"lead@{tenant_id}.example"],
                ),
            )
            credentials.register_storefront(
                env["LOYALTY_TABLE"], tenant_id, f"{tenant_id}-web", "Web shop", "web", key, now
            )
            credentials.register_admin_key(env["LOYALTY_TABLE"], tenant_id, f"admin-{key}", now)
        handlers = {fn.logical_id: load_handler(fn) for fn in FUNCTIONS}
        yield Env(session=session, env=env, handlers=handlers, now=now)
        loyalty_aws.reset()
        get_settings.cache_clear()
        import tickets.api

        tickets.api._persistence.cache_clear()
        import care_rules.stream

        care_rules.stream.clear_rules_cache()


def order_event(
    event_id: str, member: str, total: str, at: str = "2026-03-10T09:00:00Z", **data: Any
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": "order.placed",
        "occurred_at": at,
        "member_id": member,
        "channel": "web",
        "data": {
            "order_id": f"o-{event_id}",
            "currency": "CNY",
            "total": total,
            "items": [{"sku": "sku-1", "category": "shoes", "quantity": 1, "unit_price": total}],
            **data,
        },
    }


def registration(
    event_id: str,
    member: str,
    *,
    birthday: str | None = None,
    consent: bool = True,
    email: str | None = None,
    at: str = "2026-03-01T09:00:00Z",
) -> dict[str, Any]:
    data: dict[str, Any] = {"email": email or f"{member}@example.com", "name": personal(member.title())}
    if birthday:
        data["birthday"] = personal(birthday)
    data["consent"] = {"email": {"granted": consent, "at": at, "source": "web"}}
    return {
        "event_id": event_id,
        "type": "member.registered",
        "occurred_at": at,
        "member_id": member,
        "channel": "web",
        "data": data,
    }
