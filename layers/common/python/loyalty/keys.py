"""Key builders: every item is tenant-scoped. See docs/data-model.md."""

from __future__ import annotations

import hashlib

DAY_SHARDS = 4  # daily activity index partitions are split to avoid one hot key per day


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
    """Attributes that list an item in the daily activity index (gsi2): one
    partition per tenant, day and shard; the sort key starts with the kind."""
    return {
        "gsi2pk": f"T#{tenant}#DAY#{day}#{shard_of(shard_key)}",
        "gsi2sk": f"{kind}#{at}#{item_id}",
    }


def day_pks(tenant: str, day: str) -> list[str]:
    return [f"T#{tenant}#DAY#{day}#{s}" for s in range(DAY_SHARDS)]
