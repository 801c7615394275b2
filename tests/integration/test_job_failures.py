"""Delivery claims with a lease, the metrics of failing items, and the ops command that
lists them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import SENDER, Env, registration

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
NINE_BERLIN = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)  # 09:00 in Europe/Berlin (CET)


class Crash(BaseException):
    """The invocation ends abruptly between claiming and sending (a timeout, a killed process)."""


def _greetings(aws: Env) -> list[str]:
    rule = "X-Loyalty-Rule: birthday-greeting"
    return [m.destinations[0] for m in aws.sent_emails() if rule in m.raw_data]


def _claim(aws: Env, member: str) -> dict[str, Any]:
    key = {"pk": f"T#demo#M#{member}", "sk": "CARE#birthday-greeting#date:birthday:2026-03-10#0"}
    return aws.table("LOYALTY_TABLE").get_item(Key=key).get("Item") or {}


def _birthday_due(aws: Env) -> None:
    """ann's greeting expanded for 10 March, due at 09:00 in Berlin."""
    assert aws.call("POST", "/v1/events", registration("r-1", "ann", birthday="1990-03-10")).status == 202
    aws.pump().drain()
    aws.run_job("CareRules", "care_dates", NINE_BERLIN - timedelta(hours=8))


def test_a_crash_between_claim_and_send_is_sent_by_a_later_run_after_the_lease(
    aws: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    from loyalty import emailer, once

    _birthday_due(aws)
    real_send = emailer.send

    def crash(sender: str, email: emailer.Email) -> str:
        raise Crash

    monkeypatch.setattr(emailer, "send", crash)
    with pytest.raises(Crash):
        aws.run_job("CareRules", "care_deliver", NINE_BERLIN)
    assert _claim(aws, "ann") and "sent_at" not in _claim(aws, "ann")  # the claim stayed behind
    monkeypatch.setattr(emailer, "send", real_send)
    # Lambda's retry of the invocation, within the lease: the claim may still be live, so it
    # does not send, and the firing stays due.
    assert aws.run_job("CareRules", "care_deliver", NINE_BERLIN)["waiting"] == 1
    assert _greetings(aws) == []
    # A later run, after the lease, takes the claim over and sends, once.
    after_lease = datetime.now(UTC) + timedelta(minutes=11)
    monkeypatch.setattr(once, "lease_clock", lambda: after_lease, raising=False)
    aws.run_job("CareRules", "care_deliver", NINE_BERLIN + timedelta(minutes=15))
    assert _greetings(aws) == ["ann@example.com"]
    aws.run_job("CareRules", "care_deliver", NINE_BERLIN + timedelta(hours=1))
    assert _greetings(aws) == ["ann@example.com"]
    claim = _claim(aws, "ann")
    assert (claim["state"], claim["takeovers"]) == ("sent", 1) and claim["message_id"]


def test_a_claim_whose_reply_was_lost_is_still_this_runs_to_send(aws: Env) -> None:
    from tests.faults import Faults

    _birthday_due(aws)

    def claim_put(operation: str, params: dict[str, Any]) -> bool:
        return operation == "PutItem" and "CARE#birthday-greeting" in json.dumps(params)

    faults = Faults(1.0, seed=7, functions={"CareRules"}, kinds=("lost_reply",), when=claim_put).install()
    try:
        result = aws.run_job("CareRules", "care_deliver", NINE_BERLIN)
    finally:
        faults.uninstall()
    assert faults.injected["lost_reply"] >= 1
    assert (result["delivered"], result["waiting"]) == (1, 0)  # the retried put found its own claim
    assert _greetings(aws) == ["ann@example.com"]


def _email() -> Any:
    from loyalty.emailer import Email

    return Email(to=["lead@demo.example"], subject="Escalation", text="Overdue")


def test_two_runs_never_both_send(aws: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    from loyalty import emailer, once
    from loyalty.once import Delivery

    table = aws.env["LOYALTY_TABLE"]
    real_send = emailer.send
    concurrent: list[Delivery] = []

    def send_while_another_run_delivers(sender: str, email: emailer.Email) -> str:
        concurrent.append(once.deliver(table, "T#demo#TK#t-1", "DELIVERY#escalation", SENDER, email, aws.now))
        return real_send(sender, email)

    monkeypatch.setattr(emailer, "send", send_while_another_run_delivers)
    assert once.deliver(table, "T#demo#TK#t-1", "DELIVERY#escalation", SENDER, _email(), aws.now) == "sent"
    assert concurrent == [Delivery.IN_FLIGHT]  # the live claim kept the other run from sending
    assert once.deliver(table, "T#demo#TK#t-1", "DELIVERY#escalation", SENDER, _email(), aws.now) == (
        Delivery.ALREADY_SENT
    )
    assert len(aws.sent_emails()) == 1


def test_two_runs_taking_over_one_expired_claim_send_once(aws: Env) -> None:
    from loyalty import aws as loyalty_aws
    from loyalty import once
    from loyalty.once import Delivery

    table = aws.env["LOYALTY_TABLE"]
    key = {"pk": "T#demo#TK#t-2", "sk": "DELIVERY#escalation"}
    aws.table("LOYALTY_TABLE").put_item(
        Item={**key, "kind": "delivery", "claimed_at": "2020-03-10T11:00:00.000Z"}  # left by a crashed run
    )
    other: list[Delivery] = []

    def the_other_run_takes_over_first(params: dict[str, Any], **kwargs: Any) -> None:
        if "takeovers" in params.get("UpdateExpression", "") and not other:
            other.append(Delivery.IN_FLIGHT)  # re-entrance guard
            other[0] = once.deliver(table, key["pk"], key["sk"], SENDER, _email(), aws.now)

    events = boto3._get_default_session().events
    events.register("provide-client-params.dynamodb.UpdateItem", the_other_run_takes_over_first)
    loyalty_aws.reset()
    try:
        mine = once.deliver(table, key["pk"], key["sk"], SENDER, _email(), aws.now)
    finally:
        events.unregister("provide-client-params.dynamodb.UpdateItem", the_other_run_takes_over_first)
        loyalty_aws.reset()
    # The other run took the claim over and sent; this run's takeover lost its condition,
    # re-read the claim and found it sent.
    assert (other, mine) == ([Delivery.SENT], Delivery.ALREADY_SENT)
    assert len(aws.sent_emails()) == 1


def test_a_failed_send_releases_the_claim(aws: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    from loyalty import emailer, once

    table = aws.env["LOYALTY_TABLE"]

    def broken(sender: str, email: emailer.Email) -> str:
        raise ConnectionError("SES unavailable")

    monkeypatch.setattr(emailer, "send", broken)
    with pytest.raises(ConnectionError):
        once.deliver(table, "T#demo#TK#t-3", "DELIVERY#escalation", SENDER, _email(), aws.now)
    key = {"pk": "T#demo#TK#t-3", "sk": "DELIVERY#escalation"}
    assert "Item" not in aws.table("LOYALTY_TABLE").get_item(Key=key)


def _park_a_ticket(aws: Env) -> tuple[str, list[Any]]:
    """Open a ticket whose escalation SES keeps rejecting, and run the job until it is parked.
    Nobody is on the staff registry, so the first notice with recipients is the managers
    level (the tenant's escalation address): due 10:00 Shanghai the next morning, managers at
    12:00 (04:00 UTC, 16 hours after the fixture's 20:00)."""
    from loyalty import jobs
    from tests.integration.ses_faults import rejecting

    ticket = aws.call("POST", "/v1/tickets", {"subject": "Lost order", "priority": "urgent"}).json()
    first = aws.now + timedelta(hours=16)
    outcomes: list[Any] = []
    with rejecting(lambda to, raw: ticket["ticket_id"] in raw):
        for n in range(5):
            try:
                outcomes.append(
                    aws.run_job("TicketsEscalation", "escalate", first + timedelta(minutes=15 * n))
                )
            except jobs.JobFailed as err:
                outcomes.append(err)
    return ticket["ticket_id"], outcomes


def _emf(out: str) -> list[dict[str, Any]]:
    documents = [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]
    return [d for d in documents if d.get("service") == "tickets" and "TicketNotices" in d]


def test_failed_and_parked_items_are_counted_as_metrics(
    aws: Env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    capsys.readouterr()
    _park_a_ticket(aws)
    emitted = _emf(capsys.readouterr().out)
    assert len(emitted) == 5  # one EMF document per run, failed runs included
    assert [(m["JobItemsFailed"], m["JobItemsParked"]) for m in emitted] == [([1.0], [0.0])] * 4 + [
        ([1.0], [1.0])
    ]
    metrics = {d["Name"] for d in emitted[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {"JobItemsFailed", "JobItemsParked"} <= metrics


def test_the_ops_command_lists_parked_items_with_queries_only(
    aws: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    from infra import ops
    from loyalty import aws as loyalty_aws

    ticket_id, _ = _park_a_ticket(aws)
    table = aws.env["LOYALTY_TABLE"]
    operations: list[str] = []

    def record(model: Any, **kwargs: Any) -> None:
        operations.append(model.name)

    events = boto3._get_default_session().events
    events.register("before-call.dynamodb", record)
    loyalty_aws.reset()
    capsys.readouterr()
    try:
        assert ops.main(["failures", "--table", table]) == 0
        listing = capsys.readouterr().out
        assert (
            ops.main(["failures", "--table", table, "--job", "escalate", "--state", "parked", "--json"]) == 0
        )
        [line] = capsys.readouterr().out.splitlines()
        assert ops.main(["failures", "--table", table, "--tenant", "rival"]) == 0
        nothing = capsys.readouterr().out
    finally:
        events.unregister("before-call.dynamodb", record)
        loyalty_aws.reset()
    assert set(operations) == {"Query"}  # the tenant registry, then each tenant's JOBS partition
    [header, row] = listing.splitlines()
    assert header.split()[:5] == ["tenant", "job", "item", "state", "attempts"]
    assert row.split()[:5] == ["demo", "escalate", ticket_id, "parked", "5"]
    assert "MessageRejected" in row and "@" not in row
    listed = json.loads(line)
    assert (listed["tenant_id"], listed["item"], listed["state"], listed["attempts"]) == (
        "demo",
        ticket_id,
        "parked",
        5,
    )
    assert listed["first_failed_at"] == "2026-03-11T04:00:00.000Z"
    assert listed["last_failed_at"] == "2026-03-11T05:00:00.000Z"
    assert nothing.strip() == "no failing or parked job items"


def test_a_dismissed_item_is_retried_while_still_due(aws: Env, capsys: pytest.CaptureFixture[str]) -> None:
    from infra import ops

    ticket_id, _ = _park_a_ticket(aws)
    table = aws.env["LOYALTY_TABLE"]
    run = aws.now + timedelta(hours=18)
    assert aws.run_job("TicketsEscalation", "escalate", run)["notices"] == 0  # parked: left alone
    assert (
        ops.main(["dismiss", "--table", table, "--tenant", "demo", "--job", "escalate", "--item", ticket_id])
        == 0
    )
    assert (
        ops.main(["dismiss", "--table", table, "--tenant", "demo", "--job", "escalate", "--item", ticket_id])
        == 1
    )
    # the warning and the breach (nobody to email) were recorded by the failing runs: the
    # managers notice is what is left
    assert aws.run_job("TicketsEscalation", "escalate", run + timedelta(minutes=15))["notices"] == 1
    assert ops.main(["failures", "--table", table]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "no failing or parked job items"


def _ops(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m infra.ops`` as an operator runs it: from the repository, without the
    Makefile's PYTHONPATH or the test's endpoint."""
    hidden = ("AWS_ENDPOINT_URL", "PYTHONPATH", "LOYALTY_TABLE")
    return subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-m", "infra.ops", *args],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k not in hidden},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@contextmanager
def _local_status(endpoint: str) -> Iterator[str]:
    """A stand-in for the local stack's ``GET /_local/status``, reporting its moto endpoint."""

    class Status(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            body = json.dumps({"aws_endpoint": endpoint}).encode()
            self.send_response(200 if self.path == "/_local/status" else 404)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Status)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_the_ops_command_reaches_a_local_stack_and_any_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.server import ThreadedMotoServer

    from infra.local.resources import provision
    from loyalty import aws as loyalty_aws
    from loyalty import jobs, tenants

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        loyalty_aws.reset()
        session = boto3.session.Session(region_name="eu-central-1")
        table = provision(session, SENDER, "ops-test")["LOYALTY_TABLE"]  # local-LoyaltyTable
        shop = tenants.Tenant(tenant_id="shop", name="Shop", manager_emails=[], escalation_emails=[])
        tenants.put_tenant(table, shop)
        for n in range(jobs.MAX_ATTEMPTS):
            at = NINE_BERLIN + timedelta(days=n)
            jobs.record_failure(table, "shop", "daily_report", "2026-03-10", RuntimeError("boom"), at)
        loyalty_aws.reset()
        with _local_status(endpoint) as local:
            by_local = _ops("failures", "--local", local, "--json")
        by_endpoint = _ops("failures", "--table", table, "--endpoint-url", endpoint, "--json")
    finally:
        server.stop()
        loyalty_aws.reset()
    for done in (by_local, by_endpoint):
        assert done.returncode == 0, done.stderr
        [listed] = [json.loads(line) for line in done.stdout.splitlines()]
        assert (listed["tenant_id"], listed["job"], listed["item"], listed["state"]) == (
            "shop",
            "daily_report",
            "2026-03-10",
            "parked",
        )
        assert (listed["error_class"], listed["error_message"], listed["attempts"]) == (
            "RuntimeError",
            "boom",
            5,
        )
