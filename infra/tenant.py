"""Bootstrap a tenant and its first admin key: ``make tenant TENANT=… NAME=… MANAGER_EMAIL=…``.

Prints the admin key once (only its hash is stored). With the admin key, the
tenant's storefronts and their keys are managed through ``/v1/admin/*``.

Targets:
* ``--local URL``: the local stack (``make local``);
* ``--stack NAME``: AWS with the current credentials; the loyalty table is found
  in the CloudFormation stack.
An existing tenant is refused: a second admin key is never handed out unnoticed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

from loyalty.tenants import TENANT_ID_PATTERN, Tenant

DEFAULT_STACK = "LoyaltyStack"  # infra.stack.STACK_NAME (importing it would load the CDK)
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def tenant_from(args: argparse.Namespace) -> Tenant:
    if not re.fullmatch(TENANT_ID_PATTERN, args.tenant):
        raise SystemExit(f"TENANT must match {TENANT_ID_PATTERN} (lowercase letters, digits, dashes)")
    emails = [args.manager_email, *args.escalation_email]
    if not all(EMAIL.fullmatch(e) for e in emails):
        raise SystemExit("MANAGER_EMAIL (and each escalation address) must be an email address")
    return Tenant(
        tenant_id=args.tenant,
        name=args.name,
        manager_emails=[args.manager_email],
        escalation_emails=args.escalation_email or [args.manager_email],
    )


def _aws(tenant: Tenant, stack: str) -> dict[str, Any]:
    import boto3

    from loyalty.credentials import TenantExists, bootstrap_tenant

    table = boto3.client("cloudformation").describe_stack_resource(
        StackName=stack, LogicalResourceId="LoyaltyTable"
    )["StackResourceDetail"]["PhysicalResourceId"]
    try:
        key_id, plaintext = bootstrap_tenant(table, tenant, datetime.now(UTC))
    except TenantExists:
        raise SystemExit(f"tenant {tenant.tenant_id} exists already") from None
    return {"tenant_id": tenant.tenant_id, "key_id": key_id, "admin_key": plaintext}


def _local(tenant: Tenant, url: str) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 - the local stack on loopback
        f"{url.rstrip('/')}/_local/tenants",
        data=tenant.model_dump_json().encode(),
        method="POST",
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
            answer: dict[str, Any] = json.loads(response.read())
            return answer
    except urllib.error.HTTPError as err:
        raise SystemExit(json.loads(err.read())["error"]["message"]) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--manager-email", required=True, help="receives the KPI reports")
    parser.add_argument("--escalation-email", action="append", default=[], help="ticket escalations")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--local", metavar="URL", help="the local stack, e.g. http://127.0.0.1:3000")
    target.add_argument("--stack", metavar="NAME", nargs="?", const=DEFAULT_STACK, help="a deployed stack")
    args = parser.parse_args(argv)
    tenant = tenant_from(args)
    created = _local(tenant, args.local) if args.local else _aws(tenant, args.stack)
    print(json.dumps(created, indent=2))
    print("The admin key is shown this once; store it now.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
