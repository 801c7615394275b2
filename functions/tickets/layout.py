"""Where the service desk keeps its tickets: the keys of their items (LoyaltyTable).
Pure: no AWS here. ``docs/data-model.md`` lists each item and its access patterns.

In the ticket's partition (``T#<t>#TK#<ticket_id>``):

* the **ticket** ``#TICKET``: its fields, its ``version`` (one more per change) and,
  while something is due, its place in the ticket timer index (gsi1
  ``T#<t>#DUE#ticket`` / ``<timer_at>#<ticket_id>``): the next escalation notice,
  assignment attempt or automatic close;
* **messages** ``MSG#<at>#<message_id>`` (replies written before messages had kinds:
  ``REPLY#<at>#<id>``, read as public replies);
* **changes** ``H#<at>#<n>``: who changed which field from what to what;
* three **list entries** that carry the ticket's summary (no text) into the list
  indexes: ``LIST#a`` (gsi1 by status ``T#<t>#TKS#<status>`` / ``<created_at>#<id>``;
  gsi2 by queue ``T#<t>#TKQ#<queue>`` / ``<status>#<created_at>#<id>``), ``LIST#b``
  (gsi1 by assignee ``T#<t>#TKA#<assignee>`` / ``<status>#<created_at>#<id>``; gsi2,
  while a target runs, the breaching index ``T#<t>#TKB`` / ``<warn_at>#<id>``) and
  ``LIST#c`` (gsi1 every ticket ``T#<t>#TKALL`` / ``<created_at>#<id>``);
* **notice claims** ``ESC#<target>#<level>#<due_at>#<locale>`` (``loyalty.once``): each
  escalation notice's emails are sent once per ticket, target, level, due time and locale;
* **breach records** ``NOTICE#<target>#breach#<due_at>``, listed in the activity index
  (the daily report counts ``ticket.escalated``).

In the member's partition: a **ticket entry** ``TICKET#<ticket_id>`` per ticket of the
member, with the same summary (erasure finds the member's tickets through them;
``GET /v1/tickets?member_id=`` lists them), and, while the ticket is not done, an
**open marker** ``#TICKET#<ticket_id>`` among the member's '#' items (the member view
counts them).

In the tenant's staff partition (``T#<t>#STAFF``): an agent's **load** ``LOAD#<staff_id>``
(``open``: the tickets assigned to them and not done) and each queue's **round-robin
pointer** ``RR#<queue>`` (``last``: the agent assigned last)."""

from __future__ import annotations

TICKET_SK = "#TICKET"
MESSAGE_PREFIX = "MSG#"
LEGACY_REPLY_PREFIX = "REPLY#"
CHANGE_PREFIX = "H#"
CLAIM_PREFIX = "ESC#"
BREACH_PREFIX = "NOTICE#"
LIST_SKS = ("LIST#a", "LIST#b", "LIST#c")
LOAD_PREFIX = "LOAD#"
ROUND_ROBIN_PREFIX = "RR#"
UNASSIGNED = "-"  # the assignee index key of a ticket nobody has

TIMER_KIND = "ticket"  # keys.due_pk(tenant, TIMER_KIND)


def message_sk(at: str, message_id: str) -> str:
    return f"{MESSAGE_PREFIX}{at}#{message_id}"


def change_sk(at: str, n: int) -> str:
    return f"{CHANGE_PREFIX}{at}#{n:04d}"


def claim_sk(claim: str) -> str:
    return f"{CLAIM_PREFIX}{claim}"


def breach_sk(claim: str) -> str:
    return f"{BREACH_PREFIX}{claim}"


def status_pk(tenant: str, status: str) -> str:
    return f"T#{tenant}#TKS#{status}"


def queue_pk(tenant: str, queue: str) -> str:
    return f"T#{tenant}#TKQ#{queue}"


def assignee_pk(tenant: str, assignee: str | None) -> str:
    return f"T#{tenant}#TKA#{assignee or UNASSIGNED}"


def breaching_pk(tenant: str) -> str:
    return f"T#{tenant}#TKB"


def all_pk(tenant: str) -> str:
    return f"T#{tenant}#TKALL"


def load_sk(staff_id: str) -> str:
    return f"{LOAD_PREFIX}{staff_id}"


def round_robin_sk(queue: str) -> str:
    return f"{ROUND_ROBIN_PREFIX}{queue}"
