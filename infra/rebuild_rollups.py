"""Recompute a tenant's KPI rollups from the event log:
``make rebuild-rollups TENANT=<id> FROM=YYYY-MM-DD TO=YYYY-MM-DD``.

The events of the days FROM .. TO (the program's time zone) are read day by day through
the event log's activity index, folded with the stream consumer's own rules
(``reports.rebuild``) and written over the stored rollups (``reports.rebuild_store``).
For exact figures FROM must be on or before the tenant's first event. Pause the
ReportsRollup stream consumer while it runs.

Targets:
* ``--local URL``: the local stack (``make local``), which rebuilds in-process;
* ``--stack NAME``: AWS with the current credentials; the tables are found from the
  CloudFormation stack and the program config from its SSM parameter.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.request
from datetime import date
from typing import Any

DEFAULT_STACK = "LoyaltyStack"


def run(tenant: str, first: date, last: date) -> dict[str, Any]:
    """The rebuild against the tables named in the environment (LOYALTY_TABLE, EVENTS_TABLE)."""
    from dataclasses import asdict

    from loyalty.program import get_program
    from loyalty.settings import get_settings
    from reports import changes
    from reports.rebuild_store import rebuild_rollups

    settings = get_settings()
    ctx = changes.Context(table=settings.require("loyalty_table"), tz=settings.tz, program=get_program())
    result = rebuild_rollups(ctx, settings.require("events_table"), tenant, first, last)
    return {"tenant": tenant, "from": first.isoformat(), "to": last.isoformat(), **asdict(result)}


def _aws(tenant: str, first: date, last: date, stack: str) -> dict[str, Any]:
    import boto3

    cfn = boto3.client("cloudformation")

    def physical(logical: str) -> str:
        return str(
            cfn.describe_stack_resource(StackName=stack, LogicalResourceId=logical)["StackResourceDetail"][
                "PhysicalResourceId"
            ]
        )

    from infra.definitions import PROGRAM_CONFIG_PARAMETER, PROGRAM_TIME_ZONE

    os.environ.update(
        {
            "LOYALTY_TABLE": physical("LoyaltyTable"),
            "EVENTS_TABLE": physical("EventsTable"),
            "PROGRAM_TIME_ZONE": PROGRAM_TIME_ZONE,
            "PROGRAM_CONFIG_PARAMETER": PROGRAM_CONFIG_PARAMETER,
        }
    )
    return run(tenant, first, last)


def _local(tenant: str, first: date, last: date, url: str) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 - the local stack on loopback
        f"{url.rstrip('/')}/_local/rebuild-rollups",
        data=json.dumps({"tenant": tenant, "from": first.isoformat(), "to": last.isoformat()}).encode(),
        method="POST",
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=3600) as response:  # noqa: S310 - loopback
        return dict(json.loads(response.read()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--from", dest="first", required=True, type=date.fromisoformat, help="YYYY-MM-DD")
    parser.add_argument("--to", dest="last", required=True, type=date.fromisoformat, help="YYYY-MM-DD")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--local", metavar="URL", help="the local stack, e.g. http://127.0.0.1:3000")
    target.add_argument("--stack", metavar="NAME", nargs="?", const=DEFAULT_STACK, help="a deployed stack")
    args = parser.parse_args(argv)
    if args.first > args.last:
        parser.error("FROM is after TO")
    if args.local:
        result = _local(args.tenant, args.first, args.last, args.local)
    else:
        result = _aws(args.tenant, args.first, args.last, args.stack)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
