"""Key builders: every item is tenant-scoped. See docs/data-model.md."""

from __future__ import annotations

import hashlib

DAY_SHARDS = 8  # activity index partitions per month, so no single index key takes every write
MEMBER_DUE_SHARDS = 8  # member due index partitions per tenant, for the same reason


def member_pk(tenant: str, member: str) -> str:
    return f"T#{tenant}#M#{member}"


# Sort keys of a member's items (partition ``member_pk``). The '#' items are the ones
# a member view reads in one Query (``MEMBER_ITEMS_FROM`` to ``MEMBER_ITEMS_TO``).
PROFILE_SK = "#PROFILE"
STATS_SK = "#STATS"
BALANCE_SK = "#BALANCE"
TICKET_MARKER_PREFIX = "#TICKET#"  # an open-ticket marker: #TICKET#<ticket_id>, while not done
MEMBER_TICKET_PREFIX = "TICKET#"  # every ticket of the member: TICKET#<ticket_id>, with its summary
MEMBER_ITEMS_FROM, MEMBER_ITEMS_TO = "#", "#~"
CARE_CLAIM_PREFIX = "CARE#"  # care delivery claims: CARE#<rule>#<year>


def ticket_marker_sk(ticket_id: str) -> str:
    return f"{TICKET_MARKER_PREFIX}{ticket_id}"


def order_stats_sk(order_id: str) -> str:
    """An order as the member figures know it (counted once per order id)."""
    return f"OS#{order_id}"


def refund_stats_sk(order_id: str, refund_id: str) -> str:
    """The marker of a refund applied to the member figures."""
    return f"{order_stats_sk(order_id)}#R#{refund_id}"


EVENT_SK = "EVENT"  # the sort key of every event item (partition ``event_pk``)
TICKET_SK = "#TICKET"  # the ticket item (partition ``ticket_pk``)
TICKET_REPLY_PREFIX = "REPLY#"  # its replies: REPLY#<at>#<id>
TICKET_MESSAGE_PREFIX = "MSG#"  # its messages: MSG#<at>#<message_id> (tickets.layout)


def event_pk(tenant: str, event_id: str) -> str:
    return f"T#{tenant}#E#{event_id}"


def ticket_pk(tenant: str, ticket_id: str) -> str:
    return f"T#{tenant}#TK#{ticket_id}"


def tenant_pk(tenant: str) -> str:
    return f"TENANT#{tenant}"


TENANTS_PK = "TENANTS"


def api_key_pk(key_hash: str) -> str:
    return f"APIKEY#{key_hash}"


API_KEY_SK = "KEY"  # a credential (partition ``api_key_pk``)
ADMIN_KEYS_SK = "ADMINKEYS"  # a tenant's admin keys (partition ``tenant_pk``)


def storefront_sk(storefront_id: str) -> str:
    """A storefront and its keys (partition ``tenant_pk``)."""
    return f"STOREFRONT#{storefront_id}"


def care_pk(tenant: str) -> str:
    """The tenant's care rules: the head item, each rule's current version and its history."""
    return f"T#{tenant}#CARE"


CARE_RULE_PREFIX = "RULE#"  # current rules: RULE#<rule_id>; one Query lists the head and them
CARE_RULES_HEAD_SK = CARE_RULE_PREFIX  # the rule set's head (the defaults' seeding), before every rule


def care_rule_sk(rule_id: str) -> str:
    return f"{CARE_RULE_PREFIX}{rule_id}"


def care_rule_versions_prefix(rule_id: str) -> str:
    return f"RULEV#{rule_id}#"


def care_rule_version_sk(rule_id: str, version: int) -> str:
    """A rule's version, immutable; zero-padded so the sort key orders versions."""
    return f"{care_rule_versions_prefix(rule_id)}{version:06d}"


def staff_pk(tenant: str) -> str:
    """The tenant's staff registry: one item per person (configuration, not volume)."""
    return f"T#{tenant}#STAFF"


STAFF_PREFIX = "STAFF#"  # a person: STAFF#<staff_id>; one Query lists the registry


def staff_sk(staff_id: str) -> str:
    return f"{STAFF_PREFIX}{staff_id}"


def birthday_pk(tenant: str, month_day: str) -> str:
    return f"T#{tenant}#BD#{month_day}"


def registration_pk(tenant: str, month_day: str) -> str:
    """The registration anniversary index (gsi2 of ``#STATS``): members by the program-local
    month-day they registered on."""
    return f"T#{tenant}#RD#{month_day}"


def due_pk(tenant: str, kind: str) -> str:
    return f"T#{tenant}#DUE#{kind}"


def job_pk(tenant: str) -> str:
    return f"T#{tenant}#JOBS"


def throttle_pk(tenant: str, storefront: str) -> str:
    return f"T#{tenant}#THROTTLE#{storefront}"


def stream_failure_key(function: str, event_id: str) -> dict[str, str]:
    """The failed attempts of one stream record by one consumer (TTL two days)."""
    return {"pk": f"STREAMFAIL#{function}#{event_id}", "sk": "ATTEMPTS"}


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


def member_due_index(tenant: str, member: str, due_at: str) -> dict[str, str]:
    """Attributes that list a member's stats item in the member due index (gsi1):
    when the member's derived state next changes without a new event. Spread
    over ``MEMBER_DUE_SHARDS`` partitions per tenant by member."""
    return {
        "gsi1pk": due_pk(tenant, f"member#{shard_of(member, MEMBER_DUE_SHARDS)}"),
        "gsi1sk": f"{due_at}#{member}",
    }


def member_due_pks(tenant: str) -> list[str]:
    """Every partition of a tenant's member due index."""
    return [due_pk(tenant, f"member#{s}") for s in range(MEMBER_DUE_SHARDS)]


def month_pks(tenant: str, month: str) -> list[str]:
    """The activity index partitions of one month (YYYY-MM)."""
    return [f"T#{tenant}#ACT#{month}#{s}" for s in range(DAY_SHARDS)]
