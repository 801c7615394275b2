"""Tenants (one retailer's loyalty program each) and storefront API keys.

Data access for the items every function shares. Keys are stored as SHA-256
hashes: a storefront key is a high-entropy random secret, so a fast hash is
enough and the plain key is never stored."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from loyalty import aws, keys
from loyalty.dynamo import query_all


class Tenant(BaseModel):
    tenant_id: str
    name: str
    manager_emails: list[str]
    escalation_emails: list[str]


TENANT_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,39}$"


def tenant_item(tenant: Tenant) -> dict[str, Any]:
    return {
        "pk": keys.TENANTS_PK,
        "sk": keys.tenant_pk(tenant.tenant_id),
        "kind": "tenant",
        **tenant.model_dump(),
    }


def put_tenant(table_name: str, tenant: Tenant) -> None:
    aws.table(table_name).put_item(Item=tenant_item(tenant))


def list_tenants(table_name: str) -> list[Tenant]:
    """Query of the tenant registry partition (one item per tenant)."""
    items = query_all(
        aws.table(table_name),
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": keys.TENANTS_PK},
    )
    return [Tenant.model_validate(item) for item in items]


def get_tenant(table_name: str, tenant_id: str) -> Tenant | None:
    item = (
        aws.table(table_name)
        .get_item(Key={"pk": keys.TENANTS_PK, "sk": keys.tenant_pk(tenant_id)})
        .get("Item")
    )
    return Tenant.model_validate(item) if item else None
