"""The local stack: moto in server mode on loopback, provisioned from
infra/definitions.py, with the API, stream pump, scheduler, clock and outbox
around the same handlers Lambda runs. Never deployed."""

from __future__ import annotations

import json
import logging
import os
import threading
import warnings
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from infra.definitions import (
    FUNCTIONS,
    PROGRAM_TIME_ZONE,
    SENDER_EMAIL,
    dead_letter_queue_name,
    has_dead_letter_queue,
    table,
)
from infra.local import moto_patch
from infra.local.durations import parse_duration, parse_rfc3339
from infra.local.gateway import Gateway, GatewayResponse
from infra.local.outbox import Outbox
from infra.local.pump import StreamPump
from infra.local.resources import local_table_name, provision
from infra.local.runtime import ACCOUNT, REGION, Handler, load_handler
from infra.local.scheduler import Clock, Scheduler
from loyalty.timeutil import iso

DEMO_TENANT = "demo"
DEMO_API_KEY = "local-dev-key"
DEMO_ADMIN_KEY = "local-admin-key"
REPORTS_BUCKET = "local-reports"


class _ReadWriteLock:
    """Many API requests at once, or one clock advance alone."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False

    def acquire_read(self) -> None:
        with self._cond:
            while self._writer:
                self._cond.wait()
            self._readers += 1

    def release_read(self) -> None:
        with self._cond:
            self._readers -= 1
            self._cond.notify_all()

    def acquire_write(self) -> None:
        with self._cond:
            while self._writer or self._readers:
                self._cond.wait()
            self._writer = True

    def release_write(self) -> None:
        with self._cond:
            self._writer = False
            self._cond.notify_all()


class _HTTPServer(ThreadingHTTPServer):
    """A thread per connection, with a listen queue deep enough for bursts of clients:
    socketserver's default of 5 drops (or resets) connections once a few dozen arrive
    at once. Handler threads never keep the process alive."""

    request_queue_size = 128
    daemon_threads = True


def _local_environment(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",  # noqa: S105 - moto accepts any credentials
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
        "PROGRAM_TIME_ZONE": PROGRAM_TIME_ZONE,
        "SENDER_EMAIL": SENDER_EMAIL,
    }


class LocalStack:
    def __init__(
        self,
        port: int = 3000,
        outbox_dir: Path = Path("outbox"),
        start: datetime | None = None,
        max_runs_per_advance: int = 24,
    ) -> None:
        self.port = port
        self.outbox_dir = outbox_dir
        self.clock = Clock(start or datetime.now(UTC))
        self._max_runs = max_runs_per_advance
        self._rw = _ReadWriteLock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- lifecycle -----------------------------------------------------------------
    def start(self) -> str:
        import boto3
        from moto.server import ThreadedMotoServer

        moto_patch.install()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        # Metrics are disabled locally, so Powertools' "nothing to publish" is noise.
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._moto.start()
        host, moto_port = self._moto.get_host_and_port()
        os.environ.update(_local_environment(f"http://{host}:{moto_port}"))
        session = boto3.session.Session(region_name=REGION)
        # Bound (not yet serving) first: unsubscribe links in emails point at its port.
        self._http = _HTTPServer(("127.0.0.1", self.port), _make_request_handler(self))
        self.port = self._http.server_address[1]
        env = provision(session, SENDER_EMAIL, REPORTS_BUCKET, public_api_url=f"http://127.0.0.1:{self.port}")
        os.environ.update(env)

        from loyalty import aws, credentials, tenants
        from loyalty.settings import get_settings

        aws.reset()
        get_settings.cache_clear()
        loyalty_table = env["LOYALTY_TABLE"]
        tenants.put_tenant(
            loyalty_table,
            tenants.Tenant(
                tenant_id=DEMO_TENANT,
                name="Demo Store",
                manager_emails=["manager@demo.example"],
                escalation_emails=["service-lead@demo.example"],
            ),
        )
        credentials.register_storefront(
            loyalty_table, DEMO_TENANT, "demo-web", "Demo web shop", "web", DEMO_API_KEY, self.clock.now()
        )
        credentials.register_admin_key(loyalty_table, DEMO_TENANT, DEMO_ADMIN_KEY, self.clock.now())

        sqs = session.client("sqs")
        self.dlq_urls = {
            fn.logical_id: sqs.get_queue_url(QueueName=dead_letter_queue_name(fn))["QueueUrl"]
            for fn in FUNCTIONS
            if has_dead_letter_queue(fn)
        }
        handlers: dict[str, Handler] = {fn.logical_id: load_handler(fn) for fn in FUNCTIONS}
        self.handlers = handlers
        self.outbox = Outbox(self.outbox_dir, ACCOUNT, REGION)
        self.pump = StreamPump(session, self.clock.now)
        dynamodb = session.client("dynamodb")
        for fn in FUNCTIONS:
            if fn.stream:
                name = local_table_name(table(fn.stream.table))
                arn = dynamodb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
                self.pump.subscribe(fn, handlers[fn.logical_id], arn, self.dlq_urls[fn.logical_id])
        self.scheduler = Scheduler(self.clock, sqs, self._settle, self._max_runs)
        for fn in FUNCTIONS:
            for schedule in fn.schedules:
                self.scheduler.add(schedule, fn, handlers[fn.logical_id], self.dlq_urls[fn.logical_id])
        self.gateway = Gateway(handlers)
        self._sqs = sqs

        self._spawn(self._http.serve_forever)
        self._spawn(self._pump_loop)
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self, target: Any) -> None:
        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        self._http.shutdown()
        self._moto.stop()

    # -- background delivery ---------------------------------------------------------
    def _pump_loop(self) -> None:
        while not self._stop.wait(0.2):
            self._settle()

    def _settle(self) -> None:
        """Deliver stream records until idle and write new emails to the outbox."""
        self.pump.drain()
        self.outbox.flush()

    # -- requests ------------------------------------------------------------------------
    def api(
        self, method: str, path: str, headers: dict[str, str], body: bytes, source_ip: str
    ) -> GatewayResponse:
        self._rw.acquire_read()
        try:
            return self.gateway.handle(method, path, headers, body, self.clock.now(), source_ip)
        finally:
            self._rw.release_read()

    def advance(self, request: dict[str, Any]) -> dict[str, Any]:
        if set(request) == {"advance"} and isinstance(request["advance"], str):
            target = parse_duration(request["advance"]).add_to(self.clock.now())
        elif set(request) == {"to"} and isinstance(request["to"], str):
            target = parse_rfc3339(request["to"])
        else:
            raise ValueError('send {"advance": "<ISO-8601 duration>"} or {"to": "<RFC 3339 timestamp>"}')
        self._rw.acquire_write()
        try:
            self._settle()
            runs = self.scheduler.advance_to(target)
            self._settle()
        finally:
            self._rw.release_write()
        return {"now": iso(self.clock.now()), "ran": [r.to_json() for r in runs], "emails": self.outbox.count}

    def redrive(self, request: dict[str, Any]) -> dict[str, Any]:
        """Replay a stream consumer's dead-lettered records in-process (infra.redrive)."""
        from dataclasses import asdict

        from infra.local.runtime import invoke
        from infra.redrive import redrive_queue

        function = next((fn for fn in FUNCTIONS if fn.logical_id == request.get("function")), None)
        if function is None or function.stream is None:
            raise ValueError('send {"function": "<logical id of a stream consumer>"}')
        handler = self.handlers[function.logical_id]
        self._rw.acquire_write()
        try:
            result = redrive_queue(
                self._sqs, self.dlq_urls[function.logical_id], lambda event: invoke(function, handler, event)
            )
            self._settle()
        finally:
            self._rw.release_write()
        return asdict(result)

    def rebuild_rollups(self, request: dict[str, Any]) -> dict[str, Any]:
        """Recompute a tenant's KPI rollups in-process (infra.rebuild_rollups), with the
        streams held still."""
        from datetime import date

        from infra.rebuild_rollups import run

        first, last = date.fromisoformat(str(request["from"])), date.fromisoformat(str(request["to"]))
        self._rw.acquire_write()
        try:
            self._settle()
            return run(str(request["tenant"]), first, last)
        finally:
            self._rw.release_write()

    def create_tenant(self, request: dict[str, Any]) -> dict[str, Any]:
        """A tenant and its first admin key (infra.tenant)."""
        from loyalty import credentials, tenants

        tenant = tenants.Tenant.model_validate(request)
        key_id, plaintext = credentials.bootstrap_tenant(
            os.environ["LOYALTY_TABLE"], tenant, self.clock.now()
        )
        return {"tenant_id": tenant.tenant_id, "key_id": key_id, "admin_key": plaintext}

    def dead_letters(self) -> dict[str, int]:
        counts = {}
        for fn_id, url in self.dlq_urls.items():
            attrs = self._sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
            )
            counts[fn_id] = int(attrs["Attributes"]["ApproximateNumberOfMessages"])
        return counts

    def care_events(self) -> list[dict[str, Any]]:
        """What the care event bus received (its outbox queue), newest last; read without
        being removed, at most 10 at a time as SQS answers."""
        from infra.local.resources import CARE_EVENTS_OUTBOX

        url = self._sqs.get_queue_url(QueueName=CARE_EVENTS_OUTBOX)["QueueUrl"]
        found = self._sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        return [json.loads(m["Body"]) for m in found.get("Messages", [])]

    def status(self) -> dict[str, Any]:
        return {
            "now": iso(self.clock.now()),
            "aws_endpoint": os.environ.get("AWS_ENDPOINT_URL"),
            "emails": self.outbox.count,
            "streams": self.pump.stats(),
            "dead_letters": self.dead_letters(),
        }


def _json(status: int, payload: Any) -> GatewayResponse:
    return GatewayResponse(status, {"content-type": "application/json"}, json.dumps(payload).encode())


def _local_error(status: int, code: str, message: str) -> GatewayResponse:
    return _json(status, {"error": {"code": code, "message": message, "field": None}})


def _make_request_handler(stack: LocalStack) -> type[BaseHTTPRequestHandler]:
    class RequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "loyalty-local"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet by default
            if os.environ.get("LOCAL_ACCESS_LOG"):
                super().log_message(format, *args)

        def _body(self) -> bytes:
            length = int(self.headers.get("content-length") or 0)
            return self.rfile.read(length) if length else b""

        def _send(self, response: GatewayResponse) -> None:
            self.send_response(response.status)
            for name, value in response.headers.items():
                if name not in ("content-length", "connection"):
                    self.send_header(name, value)
            self.send_header("content-length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)

        def _local(self, method: str, body: bytes) -> GatewayResponse | None:
            path = self.path.split("?", 1)[0]
            if path == "/_local/clock":
                if method == "GET":
                    return _json(200, {"now": iso(stack.clock.now())})
                if method == "POST":
                    try:
                        request = json.loads(body or b"{}")
                        if not isinstance(request, dict):
                            raise ValueError("expected a JSON object")
                        return _json(200, stack.advance(request))
                    except ValueError as err:
                        return _local_error(400, "invalid_clock_request", str(err))
                return _local_error(405, "method_not_allowed", "GET or POST")
            if path == "/_local/status" and method == "GET":
                return _json(200, stack.status())
            if path == "/_local/care-events" and method == "GET":
                return _json(200, {"events": stack.care_events()})
            if path == "/_local/tenants" and method == "POST":
                from loyalty.credentials import TenantExists

                try:
                    return _json(201, stack.create_tenant(json.loads(body or b"{}")))
                except TenantExists:
                    return _local_error(409, "tenant_exists", "the tenant exists already")
                except ValueError as err:
                    return _local_error(400, "invalid_tenant", str(err))
            if path == "/_local/redrive" and method == "POST":
                try:
                    return _json(200, stack.redrive(json.loads(body or b"{}")))
                except ValueError as err:
                    return _local_error(400, "invalid_redrive_request", str(err))
            if path == "/_local/rebuild-rollups" and method == "POST":
                try:
                    return _json(200, stack.rebuild_rollups(json.loads(body or b"{}")))
                except (ValueError, KeyError) as err:
                    return _local_error(400, "invalid_rebuild_request", str(err))
            if path == "/v1/openapi.json" and method == "GET":
                from infra.local.openapi import openapi_document

                return _json(200, openapi_document())
            return None

        def _handle(self, method: str) -> None:
            body = self._body()
            try:
                response = self._local(method, body)
                if response is None:
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    response = stack.api(method, self.path, headers, body, self.client_address[0])
            except Exception as err:  # noqa: BLE001 - the local server must answer, not hang up
                response = _local_error(500, "local_stack_error", f"{type(err).__name__}: {err}")
            self._send(response)

        def __getattr__(self, name: str) -> Any:
            # http.server dispatches to do_<METHOD>; every method goes to the gateway,
            # which answers 405 for the ones a route does not take.
            if name.startswith("do_"):
                return lambda: self._handle(name[3:])
            raise AttributeError(name)

    return RequestHandler
