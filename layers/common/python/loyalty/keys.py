"""Key builders: every item is tenant-scoped. See docs/data-model.md."""

from __future__ import annotations

import hashlib

DAY_SHARDS = 8  # activity index partitions per month, so no single index key takes every write


def member_pk(tenant: str, member: str) -> str:
    return f"T#{tenant}#M#{member}"


def event_pk(tenant: str, event_id: str) -> str:
    return f"T#{tenant}#E#{event_id}"


def ticket_pk(tenant: str, ticket_id: str) -> str:
    return f"T#{tenant}#TK#{ticket_id}"


def tenant_pk(tenant: str) -> str:
    return f"TENANT#{tenant}"


TENANTS_PK = "TENANTS"


def api_key_pk(key_hash: str) -> str:
    return f"APIKEY#{key_hash}"


def birthday_pk(tenant: str, month_day: str) -> str:
    return f"T#{tenant}#BD#{month_day}"


def due_pk(tenant: str, kind: str) -> str:
    return f"T#{tenant}#DUE#{kind}"


def job_pk(tenant: str) -> str:
    return f"T#{tenant}#JOBS"


def shard_of(value: str, shards: int = DAY_SHARDS) -> int:
    return int.from_bytes(hashlib.sha256(value.encode()).digest()[:4], "big") % shards


def day_index(tenant: str, day: str, shard_key: str, kind: str, at: str, item_id: str) -> dict[str, str]:
    """Attributes that list an item in the activity index (gsi2): one partition
    per tenant, month and shard; the sort key starts with the program-local day,
    so one Query reads a day or a run of days."""
    return {
        "gsi2pk": f"T#{tenant}#ACT#{day[:7]}#{shard_of(shard_key)}",
        "gsi2sk": f"{day}#{kind}#{at}#{item_id}",
    }


def month_pks(tenant: str, month: str) -> list[str]:
    """The activity index partitions of one month (YYYY-MM)."""
    return [f"T#{tenant}#ACT#{month}#{s}" for s in range(DAY_SHARDS)]
