"""The one description of the product's resources.

Both the CDK app (``infra/constructs``) and the local stack (``infra/local``) build
from these definitions, so a table key, an index, a stream subscription or a
schedule can never differ between AWS and the local stack. ``tests/infra`` proves
that the synthesized template and the local resources agree.

Plain dataclasses only: no CDK or boto3 import here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# Shared runtime constants for every function.
PYTHON_RUNTIME = "python3.13"
ARCHITECTURE = "arm64"
LOG_RETENTION_DAYS = 30
PROGRAM_TIME_ZONE = "Asia/Shanghai"  # schedules, report days, birthdays, points calendar days
# The local stack's sender. A deployment takes its sender from CDK context ``sender_email``.
LOCAL_SENDER_EMAIL = "loyalty@example.com"
SENDER_EMAIL = LOCAL_SENDER_EMAIL  # the name infra/local imports
# Stage-wide API Gateway throttle, shared by every storefront and admin key: defaults of the
# CDK context values ``api_rate_limit`` (requests per second, steady state) and ``api_burst_limit``.
API_THROTTLE_RATE = 1000
API_THROTTLE_BURST = 2000
# Default per-storefront limit (requests per second), context ``storefront_rate_limit``; it may
# not exceed the stage rate, which applies on top of it.
STOREFRONT_RATE_LIMIT = 100
# Powertools for AWS Lambda: the version requirements.txt pins, and the AWS-managed layer
# the functions run with in AWS (tests/infra checks that both agree).
POWERTOOLS_VERSION = "3.37.0"


@dataclass(frozen=True)
class IndexDef:
    name: str
    partition_key: str
    sort_key: str


@dataclass(frozen=True)
class TableDef:
    """A DynamoDB table: string keys, on-demand billing."""

    logical_id: str
    env_var: str
    partition_key: str
    sort_key: str | None
    indexes: tuple[IndexDef, ...] = ()
    stream_view_type: str | None = None  # NEW_IMAGE, NEW_AND_OLD_IMAGES, ...
    ttl_attribute: str | None = None


@dataclass(frozen=True)
class RouteDef:
    method: str
    path: str  # API Gateway style: /v1/members/{member_id}
    authorized: bool = True


@dataclass(frozen=True)
class StreamSourceDef:
    """A DynamoDB stream subscription with Lambda's event source mapping settings."""

    table: str  # TableDef.logical_id
    batch_size: int
    max_retries: int
    # Lambda event filter: only records whose new image attribute ``type``
    # is one of these values are delivered. Empty means every record.
    event_types: tuple[str, ...] = ()
    # Lambda event filter on the new image attribute ``kind``.
    kinds: tuple[str, ...] = ()
    # Lambda event filter on the record's eventName. New events only by default:
    # an erasure rewrites stored events (MODIFY), which must not be replayed.
    event_names: tuple[str, ...] = ("INSERT",)


@dataclass(frozen=True)
class ScheduleDef:
    """An EventBridge Scheduler schedule invoking a function with a JSON payload."""

    name: str
    expression: str  # cron(...) or rate(...), EventBridge Scheduler syntax
    time_zone: str
    job: str  # passed to the function as {"job": ...}


@dataclass(frozen=True)
class FunctionDef:
    """A Lambda function. ``handler`` is ``<package>.<module>.<callable>``; the
    code asset is ``functions/<package>`` plus the common layer."""

    logical_id: str
    handler: str
    description: str
    tables: dict[str, str] = field(default_factory=dict)  # logical_id -> "read" | "write"
    routes: tuple[RouteDef, ...] = ()
    stream: StreamSourceDef | None = None
    schedules: tuple[ScheduleDef, ...] = ()
    sends_email: bool = False
    writes_reports: bool = False  # stores reports in the reports bucket (REPORTS_BUCKET)
    reads_reports: bool = False  # reads them back
    reads_care_rules: bool = False  # may seed a tenant's default care rules (CARE_RULES_PARAMETER)
    reads_service_config: bool = False  # the service desk's calendars and policies (SERVICE_CONFIG_PARAMETER)
    uses_unsubscribe_key: bool = False  # signs or verifies unsubscribe links (UNSUBSCRIBE_SECRET)
    publishes_care_events: bool = False  # puts care rules' event actions on the care bus (CARE_EVENT_BUS)
    memory_mb: int = 512
    timeout_seconds: int = 30

    @property
    def package(self) -> str:
        return self.handler.split(".", 1)[0]


# Tables -------------------------------------------------------------------

EVENTS_TABLE = TableDef(
    logical_id="EventsTable",
    env_var="EVENTS_TABLE",
    partition_key="pk",
    sort_key="sk",
    indexes=(
        # Member timeline: gsi1pk = T#<tenant>#M#<member>, gsi1sk = <occurred_at>#<event_id>
        IndexDef("gsi1", "gsi1pk", "gsi1sk"),
        # Activity by day: gsi2pk = T#<tenant>#ACT#<yyyy-mm>#<shard>, gsi2sk = <yyyy-mm-dd>#<kind>#<at>#<id>
        IndexDef("gsi2", "gsi2pk", "gsi2sk"),
    ),
    stream_view_type="NEW_IMAGE",
    ttl_attribute="expires_at",
)

LOYALTY_TABLE = TableDef(
    logical_id="LoyaltyTable",
    env_var="LOYALTY_TABLE",
    partition_key="pk",
    sort_key="sk",
    indexes=(
        # Birthdays: gsi1pk = T#<tenant>#BD#<mm-dd>, gsi1sk = <member>
        # Ticket timers: gsi1pk = T#<tenant>#DUE#ticket, gsi1sk = <timer_at>#<ticket>
        # Ticket lists (tickets/layout.py): T#<t>#TKS#<status>, T#<t>#TKA#<assignee>, T#<t>#TKALL (gsi1);
        #   T#<t>#TKQ#<queue>, T#<t>#TKB (breaching) (gsi2)
        # Member state due: gsi1pk = T#<tenant>#DUE#member#<shard>, gsi1sk = <next_change_at>#<member>
        # Points due: gsi1pk = T#<tenant>#DUE#points#<shard>, gsi1sk = <next_due>#<member>
        # Care tasks by status: gsi1pk = T#<tenant>#TASKS#<status>, gsi1sk = <assignee>#<due_at>#<task>
        IndexDef("gsi1", "gsi1pk", "gsi1sk"),
        # Activity by day: gsi2pk = T#<tenant>#ACT#<yyyy-mm>#<shard>, gsi2sk = <yyyy-mm-dd>#<kind>#<at>#<id>
        # Care tasks by member: gsi2pk = T#<tenant>#TASKM#<member>, gsi2sk = <status>#<due_at>#<task>
        IndexDef("gsi2", "gsi2pk", "gsi2sk"),
    ),
    # Both images: the report counters (ReportsRecords) count what a change moved.
    stream_view_type="NEW_AND_OLD_IMAGES",
    ttl_attribute="expires_at",
)

IDEMPOTENCY_TABLE = TableDef(
    logical_id="IdempotencyTable",
    env_var="IDEMPOTENCY_TABLE",
    partition_key="id",
    sort_key=None,
    ttl_attribute="expiration",
)

TABLES: tuple[TableDef, ...] = (EVENTS_TABLE, LOYALTY_TABLE, IDEMPOTENCY_TABLE)

# Functions ----------------------------------------------------------------

AUTHORIZER = FunctionDef(
    logical_id="Authorizer",
    handler="ingest.storefronts.authorizer.lambda_handler",
    description="Resolves a storefront API key to its tenant and channel",
    tables={"LoyaltyTable": "read"},
    memory_mb=256,
    timeout_seconds=5,
)

INGEST_API = FunctionDef(
    logical_id="IngestApi",
    handler="ingest.events.api.lambda_handler",
    description="Accepts storefront events",
    tables={"EventsTable": "write", "LoyaltyTable": "read"},  # read: the member's erasure stamp
    routes=(RouteDef("POST", "/v1/events"), RouteDef("GET", "/v1/members/{member_id}/events")),
)

MEMBERS_API = FunctionDef(
    logical_id="MembersApi",
    handler="ingest.members.api.lambda_handler",
    description="Member 360 view, profile updates and erasure",
    tables={"LoyaltyTable": "write", "EventsTable": "write"},
    routes=(
        RouteDef("GET", "/v1/members/{member_id}"),
        RouteDef("PUT", "/v1/members/{member_id}"),
        RouteDef("DELETE", "/v1/members/{member_id}"),
        # One-click unsubscribe (RFC 8058): no API key, the signed token is the credential.
        RouteDef("GET", "/v1/unsubscribe/{token}", authorized=False),
        RouteDef("POST", "/v1/unsubscribe/{token}", authorized=False),
    ),
    uses_unsubscribe_key=True,
)

ADMIN_API = FunctionDef(
    logical_id="AdminApi",
    handler="ingest.storefronts.api.lambda_handler",
    description="Tenant administration: storefronts and their keys, admin keys, the audit trail",
    tables={"LoyaltyTable": "write"},
    routes=(
        RouteDef("POST", "/v1/admin/storefronts"),
        RouteDef("GET", "/v1/admin/storefronts/{storefront_id}"),
        RouteDef("PATCH", "/v1/admin/storefronts/{storefront_id}"),
        RouteDef("POST", "/v1/admin/storefronts/{storefront_id}/keys"),
        RouteDef("DELETE", "/v1/admin/storefronts/{storefront_id}/keys/{key_id}"),
        RouteDef("GET", "/v1/admin/keys"),
        RouteDef("POST", "/v1/admin/keys"),
        RouteDef("DELETE", "/v1/admin/keys/{key_id}"),
        RouteDef("GET", "/v1/admin/audit"),
    ),
)

INGEST_PROJECTOR = FunctionDef(
    logical_id="IngestProjector",
    handler="ingest.members.stream.lambda_handler",
    description="Projects events onto the member profile",
    tables={"LoyaltyTable": "write"},
    stream=StreamSourceDef(
        table="EventsTable",
        batch_size=25,
        max_retries=3,
        event_types=(
            "member.registered",
            "member.updated",
            "order.placed",
            "order.refunded",
            "order.cancelled",
        ),
    ),
)

POINTS_EARN = FunctionDef(
    logical_id="PointsEarn",
    handler="points.stream.lambda_handler",
    description="Points ledger from the event stream: earning, clawbacks, bonuses",
    tables={"LoyaltyTable": "write", "EventsTable": "write"},
    stream=StreamSourceDef(
        table="EventsTable",
        batch_size=25,
        max_retries=3,
        event_types=(
            "order.placed",
            "order.refunded",
            "order.cancelled",
            "member.registered",
            "review.submitted",
            "referral.completed",
            "care.points_granted",
        ),
    ),
)

POINTS_API = FunctionDef(
    logical_id="PointsApi",
    handler="points.api.lambda_handler",
    description="Points ledger, redemptions with holds, adjustments and estimates",
    tables={"LoyaltyTable": "write", "EventsTable": "write"},
    routes=(
        RouteDef("GET", "/v1/members/{member_id}/ledger"),
        RouteDef("POST", "/v1/members/{member_id}/redemptions"),
        RouteDef("POST", "/v1/members/{member_id}/redemptions/{redemption_id}/confirm"),
        RouteDef("POST", "/v1/members/{member_id}/redemptions/{redemption_id}/cancel"),
        RouteDef("POST", "/v1/members/{member_id}/adjustments"),
        RouteDef("POST", "/v1/points/estimate"),
    ),
)

POINTS_SWEEP = FunctionDef(
    logical_id="PointsSweep",
    handler="points.schedule.lambda_handler",
    description="Releases pending points, expires lots, lapses holds, reviews tiers",
    tables={"LoyaltyTable": "write", "EventsTable": "write"},
    schedules=(ScheduleDef("points-sweep", "cron(0/15 * * * ? *)", PROGRAM_TIME_ZONE, "points_sweep"),),
    timeout_seconds=300,
)

CARE_TRIGGERS = FunctionDef(
    logical_id="CareTriggers",
    handler="care_rules.stream.lambda_handler",
    description="Care rules: turns new events into firings (event, delay and inactivity triggers)",
    tables={"LoyaltyTable": "write"},
    # Every new event: rules are data, so which types they wait for is known only at run time.
    stream=StreamSourceDef(table="EventsTable", batch_size=50, max_retries=3),
    reads_care_rules=True,
)

CARE_RULES = FunctionDef(
    logical_id="CareRules",
    handler="care_rules.schedule.lambda_handler",
    description="Care rules: date triggers, and the delivery of due firings through the guards",
    # EventsTable write: the care.points_granted events of points actions (and the triggering event's read).
    tables={"LoyaltyTable": "write", "EventsTable": "write"},
    schedules=(
        ScheduleDef("care-dates", "cron(15 0 * * ? *)", PROGRAM_TIME_ZONE, "care_dates"),
        ScheduleDef("care-deliver", "cron(0/5 * * * ? *)", PROGRAM_TIME_ZONE, "care_deliver"),
    ),
    sends_email=True,
    uses_unsubscribe_key=True,
    reads_care_rules=True,
    publishes_care_events=True,
    timeout_seconds=300,
)

CARE_RULES_API = FunctionDef(
    logical_id="CareRulesApi",
    handler="care_rules.api.lambda_handler",
    description="Care rules admin API: versioned rules seeded with the defaults; the staff registry",
    tables={"EventsTable": "read", "LoyaltyTable": "write"},
    routes=(
        RouteDef("GET", "/v1/admin/care-rules"),
        RouteDef("GET", "/v1/admin/care-rules/{rule_id}"),
        RouteDef("PUT", "/v1/admin/care-rules/{rule_id}"),
        RouteDef("DELETE", "/v1/admin/care-rules/{rule_id}"),
        RouteDef("GET", "/v1/admin/staff"),
        RouteDef("GET", "/v1/admin/staff/{staff_id}"),
        RouteDef("PUT", "/v1/admin/staff/{staff_id}"),
        RouteDef("GET", "/v1/admin/care-rules/{rule_id}/activity"),
        RouteDef("GET", "/v1/care-tasks"),
        RouteDef("GET", "/v1/care-tasks/{task_id}"),
        RouteDef("PATCH", "/v1/care-tasks/{task_id}"),
        RouteDef("GET", "/v1/members/{member_id}/care"),
        RouteDef("GET", "/v1/admin/templates/{template_id}/{locale}"),
        RouteDef("PUT", "/v1/admin/templates/{template_id}/{locale}"),
        RouteDef("DELETE", "/v1/admin/templates/{template_id}/{locale}"),
        RouteDef("POST", "/v1/admin/care-rules/{rule_id}/backtest"),
        RouteDef("POST", "/v1/admin/care-rules/backtest"),
    ),
    reads_care_rules=True,
)

TICKETS_API = FunctionDef(
    logical_id="TicketsApi",
    handler="tickets.api.lambda_handler",
    description="Service tickets",
    # EventsTable write: the ticket.resolved events, in the ticket's own transaction.
    tables={"LoyaltyTable": "write", "EventsTable": "write", "IdempotencyTable": "write"},
    routes=(
        RouteDef("POST", "/v1/tickets"),
        RouteDef("GET", "/v1/tickets"),
        RouteDef("GET", "/v1/tickets/{ticket_id}"),
        RouteDef("PATCH", "/v1/tickets/{ticket_id}"),
        RouteDef("POST", "/v1/tickets/{ticket_id}/messages"),
        RouteDef("POST", "/v1/tickets/{ticket_id}/replies"),
    ),
    reads_service_config=True,
)

TICKETS_ESCALATION = FunctionDef(
    logical_id="TicketsEscalation",
    handler="tickets.schedule.lambda_handler",
    description="Ticket timers: escalation levels, assignment when a shift starts, closing resolved tickets",
    # EventsTable write: the ticket.escalated events, in the ticket's own transaction.
    tables={"LoyaltyTable": "write", "EventsTable": "write"},
    # Every minute: escalation notices are due to the minute (the timer index holds only what is due).
    schedules=(ScheduleDef("ticket-escalation", "cron(* * * * ? *)", PROGRAM_TIME_ZONE, "escalate"),),
    sends_email=True,
    reads_service_config=True,
    timeout_seconds=300,
)

TICKETS_EVENTS = FunctionDef(
    logical_id="TicketsEvents",
    handler="tickets.stream.lambda_handler",
    description="Service tickets from the event stream: CSAT answers",
    tables={"LoyaltyTable": "write"},
    stream=StreamSourceDef(
        table="EventsTable", batch_size=25, max_retries=3, event_types=("survey.answered",)
    ),
    reads_service_config=True,
)

REPORTS_ROLLUP = FunctionDef(
    logical_id="ReportsRollup",
    handler="reports.stream.lambda_handler",
    description="KPI rollups from the event stream: orders, refunds, registrations, survey answers",
    tables={"LoyaltyTable": "write"},
    stream=StreamSourceDef(
        table="EventsTable",
        batch_size=25,
        max_retries=3,
        event_types=(
            "order.placed",
            "order.refunded",
            "order.cancelled",
            "member.registered",
            "survey.answered",
        ),
    ),
)

REPORTS_RECORDS = FunctionDef(
    logical_id="ReportsRecords",
    handler="reports.records.lambda_handler",
    description="KPI counters from the loyalty table's stream: points, stages, tiers, tickets, care",
    tables={"LoyaltyTable": "write"},
    stream=StreamSourceDef(
        table="LoyaltyTable",
        batch_size=50,
        max_retries=3,
        kinds=("ledger", "stats", "balance", "care_ledger", "care_task", "ticket"),
        event_names=("INSERT", "MODIFY"),
    ),
)

REPORTS = FunctionDef(
    logical_id="Reports",
    handler="reports.schedule.lambda_handler",
    description="Daily, weekly and monthly KPI reports, stored and emailed to managers",
    tables={"LoyaltyTable": "write"},
    schedules=(
        ScheduleDef("daily-report", "cron(30 6 * * ? *)", PROGRAM_TIME_ZONE, "daily_report"),
        ScheduleDef("weekly-report", "cron(0 7 ? * MON *)", PROGRAM_TIME_ZONE, "weekly_report"),
        ScheduleDef("monthly-report", "cron(0 7 1 * ? *)", PROGRAM_TIME_ZONE, "monthly_report"),
    ),
    sends_email=True,
    writes_reports=True,
    reads_reports=True,
    timeout_seconds=300,
)

REPORTS_API = FunctionDef(
    logical_id="ReportsApi",
    handler="reports.api.lambda_handler",
    description="Stored KPI reports: list, read, CSV (admin key)",
    tables={"LoyaltyTable": "read"},
    routes=(
        RouteDef("GET", "/v1/reports"),
        RouteDef("GET", "/v1/reports/{report_id}"),
        RouteDef("GET", "/v1/reports/{report_id}/csv"),
    ),
    reads_reports=True,
)

MEMBER_REFRESH = FunctionDef(
    logical_id="MemberRefresh",
    handler="ingest.members.schedule.lambda_handler",
    description="Refreshes members' stored lifecycle stage, RFM and tags when they come due",
    tables={"LoyaltyTable": "write", "EventsTable": "write"},
    schedules=(ScheduleDef("member-refresh", "cron(5 * * * ? *)", PROGRAM_TIME_ZONE, "refresh_members"),),
    timeout_seconds=300,
)

FUNCTIONS: tuple[FunctionDef, ...] = (
    AUTHORIZER,
    INGEST_API,
    MEMBERS_API,
    ADMIN_API,
    INGEST_PROJECTOR,
    POINTS_EARN,
    POINTS_API,
    POINTS_SWEEP,
    CARE_TRIGGERS,
    CARE_RULES,
    CARE_RULES_API,
    TICKETS_API,
    TICKETS_EVENTS,
    TICKETS_ESCALATION,
    REPORTS_ROLLUP,
    REPORTS_RECORDS,
    REPORTS,
    REPORTS_API,
    MEMBER_REFRESH,
)

FUNCTION_PACKAGES: tuple[str, ...] = ("ingest", "points", "care_rules", "tickets", "reports")


def table(logical_id: str) -> TableDef:
    for t in TABLES:
        if t.logical_id == logical_id:
            return t
    raise KeyError(logical_id)


CONFIG_FILE = Path(__file__).resolve().parent.parent / "config" / "program.yaml"


def program_config_json() -> str:
    """config/program.yaml, validated, as compact JSON for the PROGRAM_CONFIG variable."""
    import yaml

    from loyalty.program import ProgramConfig

    config = ProgramConfig.model_validate(yaml.safe_load(CONFIG_FILE.read_text()) or {})
    return config.model_dump_json(exclude_defaults=False)


SERVICE_CONFIG_FILE = CONFIG_FILE.parent / "service.yaml"


def service_config_json() -> str:
    """config/service.yaml (calendars and SLA policies), validated, as compact JSON."""
    import yaml

    from tickets.service_config import ServiceConfig

    config = ServiceConfig.model_validate(yaml.safe_load(SERVICE_CONFIG_FILE.read_text()) or {})
    return config.model_dump_json(exclude_defaults=False)


CARE_RULES_FILE = CONFIG_FILE.parent / "care_rules.yaml"


def care_rules_defaults_json() -> str:
    """config/care_rules.yaml, every rule validated like a PUT, as compact JSON for the
    CARE_RULES_PARAMETER parameter (a standard-tier parameter: at most 4 KB)."""
    import json

    import yaml

    from care_rules.rules import validate_rule_set

    rules = validate_rule_set(yaml.safe_load(CARE_RULES_FILE.read_text()) or {})
    document = {"rules": {rule_id: rule.document() for rule_id, rule in rules.items()}}
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


# Powertools Tracer records neither handler responses nor exception messages in X-Ray:
# responses carry one-time API keys and member data.
TRACER_ENVIRONMENT: dict[str, str] = {
    "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
    "POWERTOOLS_TRACER_CAPTURE_ERROR": "false",
}


def uses_storefront_rate_limit(fn: FunctionDef) -> bool:
    """The authorizer hands the default storefront limit to the handlers; every API
    function falls back to it (loyalty.api.resolve)."""
    return fn.logical_id == AUTHORIZER.logical_id or bool(fn.routes)


# The program configuration (config/program.yaml) lives in SSM Parameter Store under
# this name (a deployment prefixes its stack name); functions read it at run time.
PROGRAM_CONFIG_PARAMETER = "/loyalty/program-config"
# The default care rules (config/care_rules.yaml), read by the functions that seed them.
CARE_RULES_PARAMETER = "/loyalty/care-rules-defaults"
# The service desk's calendars and SLA policies (config/service.yaml), read by the ticket functions.
SERVICE_CONFIG_PARAMETER = "/loyalty/service-config"
# The unsubscribe signing keys (Secrets Manager; a deployment names its own secret).
UNSUBSCRIBE_SECRET_NAME = "/loyalty/unsubscribe-key"  # noqa: S105 - a name, not a value
# The EventBridge bus of care rules' event actions (a deployment names its own: <stack>-care).
CARE_EVENT_BUS_NAME = "loyalty-care"
# The local stack's public API URL (its port when none is chosen); a deployment's is its stage URL.
LOCAL_PUBLIC_API_URL = "http://127.0.0.1:3000"


def needs_public_api_url(fn: FunctionDef) -> bool:
    """A function that emails unsubscribe links needs the API's public URL to build them."""
    return fn.uses_unsubscribe_key and fn.sends_email


def required_settings(fn: FunctionDef) -> tuple[str, ...]:
    """The variables ``fn`` cannot run without, sorted: its tables' names, the sender
    when it sends email, the bucket when it writes reports. ``loyalty.settings`` checks
    them at the function's cold start (``REQUIRED_SETTINGS``)."""
    names = {table(logical_id).env_var for logical_id in fn.tables}
    if fn.sends_email:
        names.add("SENDER_EMAIL")
    if fn.writes_reports or fn.reads_reports:
        names.add("REPORTS_BUCKET")
    if fn.uses_unsubscribe_key:
        names.add("UNSUBSCRIBE_SECRET")
    if needs_public_api_url(fn):
        names.add("PUBLIC_API_URL")
    if fn.publishes_care_events:
        names.add("CARE_EVENT_BUS")
    return tuple(sorted(names))


def function_environment(
    fn: FunctionDef,
    *,
    sender_email: str,
    program_config_parameter: str = PROGRAM_CONFIG_PARAMETER,
    care_rules_parameter: str = CARE_RULES_PARAMETER,
    service_config_parameter: str = SERVICE_CONFIG_PARAMETER,
    storefront_rate_limit: int = STOREFRONT_RATE_LIMIT,
    api_rate_limit: int = API_THROTTLE_RATE,
    unsubscribe_secret: str = UNSUBSCRIBE_SECRET_NAME,
    public_api_url: str = LOCAL_PUBLIC_API_URL,
    care_event_bus: str = CARE_EVENT_BUS_NAME,
) -> dict[str, str]:
    """Environment variables a function gets besides resource names filled in
    by the deployer (table names, bucket name), which ``REQUIRED_SETTINGS`` lists."""
    env = {
        "POWERTOOLS_SERVICE_NAME": fn.package,
        "POWERTOOLS_METRICS_NAMESPACE": "Loyalty",
        **TRACER_ENVIRONMENT,
        "PROGRAM_TIME_ZONE": PROGRAM_TIME_ZONE,
        "PROGRAM_CONFIG_PARAMETER": program_config_parameter,
        "REQUIRED_SETTINGS": ",".join(required_settings(fn)),
    }
    if fn.sends_email:
        env["SENDER_EMAIL"] = sender_email
    if fn.reads_care_rules:
        env["CARE_RULES_PARAMETER"] = care_rules_parameter
    if fn.reads_service_config:
        env["SERVICE_CONFIG_PARAMETER"] = service_config_parameter
    if fn.uses_unsubscribe_key:
        env["UNSUBSCRIBE_SECRET"] = unsubscribe_secret
    if needs_public_api_url(fn):
        env["PUBLIC_API_URL"] = public_api_url
    if fn.publishes_care_events:
        env["CARE_EVENT_BUS"] = care_event_bus
    if uses_storefront_rate_limit(fn):
        env["STOREFRONT_RATE_LIMIT"] = str(storefront_rate_limit)
    if fn.logical_id == ADMIN_API.logical_id:
        # The stage rate, the ceiling for any storefront's own limit.
        env["API_RATE_LIMIT"] = str(api_rate_limit)
    return env


def dead_letter_queue_name(fn: FunctionDef) -> str:
    """Every function with a stream or async (scheduled) trigger has one DLQ."""
    return f"{fn.logical_id}-dlq"


def has_dead_letter_queue(fn: FunctionDef) -> bool:
    return fn.stream is not None or bool(fn.schedules)
