"""The ledger store: what the points logic needs from storage, and nothing about
how it is stored (keys, items, cursors stay with the implementation).

An implementation guarantees:

* :meth:`LedgerStore.load` reads, consistently, everything one operation
  decides on: the account, the order or redemption record, the member's birthday,
  and the stored result when the operation's business key was applied before;
* :meth:`LedgerStore.commit` writes a :class:`Change` all or nothing: the account
  under a check of the version it was read at (:class:`VersionConflict`
  otherwise), a marker for the business key that must not exist
  (:class:`AlreadyApplied` otherwise), the entries, records and notices, within
  DynamoDB's transaction limit;
* :meth:`LedgerStore.entries_page` lists the member's entries newest first, one
  page at a time, with an opaque cursor checked to belong to the member.

``points.repository.DynamoLedgerStore`` implements it on DynamoDB; the tests'
in-memory store implements the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from loyalty.commit import LostRace
from points.ledger import Account, Entry, OrderRecord, Outcome, Redemption


class VersionConflict(LostRace):
    """The account changed since it was read; the operation is retried."""


class AlreadyApplied(LostRace):
    """The operation's business key was applied meanwhile; the retry finds its result."""


@dataclass
class Snapshot:
    account: Account
    order: OrderRecord | None = None
    redemption: Redemption | None = None
    birthday: str | None = None
    applied: dict[str, Any] | None = None  # the stored result when op_key was applied before


@dataclass
class Change:
    expected_version: int
    at: str
    account: Account
    outcome: Outcome
    next_due: str | None
    op_key: str | None = None
    result: dict[str, Any] = field(default_factory=dict)
    order: OrderRecord | None = None
    redemption: Redemption | None = None
    lapsed: list[str] = field(default_factory=list)
    # The lots expiring within the notice window as of this write (expiry day -> points),
    # stored with the account for the member view.
    expiring: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class EntriesPage:
    entries: list[Entry]  # newest first
    next_cursor: str | None  # None: the last page


class LedgerStore(Protocol):
    def load(
        self,
        tenant: str,
        member: str,
        *,
        op_key: str | None = None,
        order_id: str | None = None,
        redemption_id: str | None = None,
        with_profile: bool = False,
    ) -> Snapshot: ...

    def commit(self, tenant: str, member: str, change: Change) -> None:
        """Write it all or nothing; raise AlreadyApplied or VersionConflict."""

    def entries_page(self, tenant: str, member: str, limit: int, cursor: str | None) -> EntriesPage:
        """Up to ``limit`` entries, newest first, after ``cursor`` (a page's
        ``next_cursor``); a cursor that is not one is a ``ValidationFailed``."""
