"""Operations commands for a deployed stack (current AWS credentials) or a local one.

    python -m infra.ops failures --table <LoyaltyTable name> [--tenant T] [--job J] [--state parked]
    python -m infra.ops failures --local http://127.0.0.1:3000
    python -m infra.ops dismiss --table <LoyaltyTable name> --tenant T --job J --item K

``failures`` lists the items scheduled jobs failed on: those still being retried
(``failed``) and those given up on (``parked``), with attempts, the last error and when
it failed first and last. It reads only with Query (the tenant registry, then each
tenant's ``T#<tenant>#JOBS`` partition, ``begins_with(sk, 'FAILED#')``), never Scan.
``dismiss`` deletes one failure record once it is dealt with; a job retries that item,
with a fresh budget, only while the item is still due (an unanswered ticket, not a past
birthday or report day).

In AWS the table is the stack output ``LoyaltyTableName`` (``--table``, default
``$LOYALTY_TABLE``); credentials and region come from the usual AWS settings
(``AWS_PROFILE``, ``AWS_REGION``, or ``--region``). ``--local URL`` targets a
local stack (``make local``): its moto endpoint is the ``aws_endpoint`` of
``GET /_local/status`` and its table ``local-LoyaltyTable``. ``--endpoint-url``
(default ``$AWS_ENDPOINT_URL``) points at any other endpoint."""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loyalty.jobs import ItemFailure

ROOT = Path(__file__).resolve().parents[1]
LOCAL_TABLE = "local-LoyaltyTable"  # infra.local.resources.local_table_name(LOYALTY_TABLE)
LOCAL_REGION = "eu-central-1"  # infra.local.runtime.REGION
COLUMNS = ("tenant", "job", "item", "state", "attempts", "first failed", "last failed", "error")


def _use_layer() -> None:
    """Make the shared layer (``loyalty``) importable when run without the Makefile's PYTHONPATH."""
    layer = str(ROOT / "layers" / "common" / "python")
    if layer not in sys.path:
        sys.path.insert(0, layer)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m infra.ops", description="Loyalty operations commands")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--table",
        default=os.environ.get("LOYALTY_TABLE"),
        help="the LoyaltyTable's name (stack output LoyaltyTableName; default $LOYALTY_TABLE)",
    )
    common.add_argument(
        "--endpoint-url",
        default=os.environ.get("AWS_ENDPOINT_URL"),
        help="an endpoint other than AWS's, e.g. a local stack's moto server",
    )
    common.add_argument(
        "--local",
        metavar="URL",
        help="a local stack, e.g. http://127.0.0.1:3000 (its moto endpoint and table)",
    )
    common.add_argument("--region", default=None, help="the AWS region (default: the AWS settings')")
    commands = parser.add_subparsers(dest="command", required=True)
    failures = commands.add_parser("failures", parents=[common], help="list failing and parked job items")
    failures.add_argument("--tenant", help="one tenant only (default: every tenant in the registry)")
    failures.add_argument(
        "--job", help="one job only: birthdays, daily_report, escalate, points_sweep, refresh_members"
    )
    failures.add_argument("--state", choices=("failed", "parked"), help="one state only")
    failures.add_argument("--json", action="store_true", help="one JSON object per line")
    dismiss = commands.add_parser("dismiss", parents=[common], help="delete one failure record")
    dismiss.add_argument("--tenant", required=True)
    dismiss.add_argument("--job", required=True)
    dismiss.add_argument("--item", required=True, help="the item key, as `failures` lists it")
    return parser


def _local_endpoint(url: str) -> str:
    """The moto endpoint a local stack reports on ``GET /_local/status``."""
    with urllib.request.urlopen(f"{url.rstrip('/')}/_local/status", timeout=30) as response:  # noqa: S310 - loopback
        endpoint = json.loads(response.read()).get("aws_endpoint")
    if not endpoint:
        raise SystemExit(f"{url} does not report its AWS endpoint; pass --endpoint-url and --table instead")
    return str(endpoint)


def _configure(args: argparse.Namespace) -> None:
    from loyalty import aws

    if args.local:
        args.endpoint_url = _local_endpoint(args.local)
        args.table = args.table or LOCAL_TABLE
        args.region = args.region or LOCAL_REGION
        # moto takes any credentials
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    if args.endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = args.endpoint_url
    if args.region:
        os.environ["AWS_DEFAULT_REGION"] = args.region
        os.environ["AWS_REGION"] = args.region
    aws.reset()


def list_failures(
    table: str, tenant: str | None = None, job: str | None = None, state: str | None = None
) -> list[ItemFailure]:
    """Every failure record of one tenant or of every registered tenant: Query only."""
    from loyalty import jobs, tenants

    tenant_ids = [tenant] if tenant else [t.tenant_id for t in tenants.list_tenants(table)]
    found: list[ItemFailure] = []
    for tenant_id in tenant_ids:
        found.extend(f for f in jobs.list_failures(table, tenant_id, job) if state in (None, f.state))
    return found


def _row(failure: ItemFailure) -> tuple[str, ...]:
    error = failure.error_code or failure.error_class
    if failure.error_message:
        error = f"{error}: {failure.error_message}"
    return (
        failure.tenant_id,
        failure.job,
        failure.item,
        failure.state,
        str(failure.attempts),
        failure.first_failed_at,
        failure.last_failed_at,
        error,
    )


def _print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in [COLUMNS, *rows]) for i in range(len(COLUMNS) - 1)]
    for row in [COLUMNS, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1])


def main(argv: list[str] | None = None) -> int:
    _use_layer()
    args = _parser().parse_args(argv)
    _configure(args)
    if not args.table:
        print("python -m infra.ops: --table (or LOYALTY_TABLE) names the LoyaltyTable", file=sys.stderr)
        return 2
    if args.command == "failures":
        failures = list_failures(args.table, args.tenant, args.job, args.state)
        if args.json:
            for failure in failures:
                print(json.dumps(failure.model_dump(), sort_keys=True))
        elif failures:
            _print_table([_row(f) for f in failures])
        else:
            print("no failing or parked job items")
        return 0
    from loyalty import jobs

    if jobs.dismiss_failure(args.table, args.tenant, args.job, args.item):
        print(f"dismissed {args.tenant} {args.job} {args.item}")
        return 0
    print(f"no failure record for {args.tenant} {args.job} {args.item}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
