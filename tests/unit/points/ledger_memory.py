"""An in-memory LedgerStore (``points.store``) with the same commit rules as the
DynamoDB one: a business-key marker, a version check and the transaction item
limit, all or nothing; and the same listing, newest first, page by page."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from loyalty.errors import ValidationFailed
from points.ledger import Account, Entry, Notice, OrderRecord, Redemption
from points.store import AlreadyApplied, Change, EntriesPage, Snapshot, VersionConflict


@dataclass
class MemberBook:
    account: Account = field(default_factory=Account)
    orders: dict[str, OrderRecord] = field(default_factory=dict)
    redemptions: dict[str, Redemption] = field(default_factory=dict)
    markers: dict[str, dict[str, Any]] = field(default_factory=dict)
    entries: list[Entry] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    next_due: str | None = None
    expiring: dict[str, int] | None = None  # as the last commit stored it


class MemoryStore:
    def __init__(self) -> None:
        self.members: dict[tuple[str, str], MemberBook] = {}
        self.birthdays: dict[tuple[str, str], str] = {}
        self.commits = 0
        self.largest_commit = 0

    def book(self, tenant: str, member: str) -> MemberBook:
        return self.members.setdefault((tenant, member), MemberBook())

    def load(
        self,
        tenant: str,
        member: str,
        *,
        op_key: str | None = None,
        order_id: str | None = None,
        redemption_id: str | None = None,
        with_profile: bool = False,
    ) -> Snapshot:
        book = self.book(tenant, member)
        return copy.deepcopy(
            Snapshot(
                account=book.account,
                order=book.orders.get(order_id) if order_id else None,
                redemption=book.redemptions.get(redemption_id) if redemption_id else None,
                birthday=self.birthdays.get((tenant, member)) if with_profile else None,
                applied=book.markers.get(op_key) if op_key else None,
            )
        )

    def commit(self, tenant: str, member: str, change: Change) -> None:
        book = self.book(tenant, member)
        if change.op_key is not None and change.op_key in book.markers:
            raise AlreadyApplied(change.op_key)
        if book.account.version != change.expected_version:
            raise VersionConflict()
        change = copy.deepcopy(change)
        items = (
            1
            + (change.op_key is not None)
            + len(change.outcome.entries)
            + len(change.outcome.notices)
            + (change.order is not None)
            + (change.redemption is not None)
            + (change.outcome.spent_on_order is not None)
            + len([r for r in change.lapsed if not change.redemption or r != change.redemption.redemption_id])
        )
        if items > 100:
            raise ValueError(f"a commit of {items} items exceeds DynamoDB's transaction limit")
        self.largest_commit = max(self.largest_commit, items)
        book.account = change.account
        book.entries.extend(change.outcome.entries)
        book.notices.extend(change.outcome.notices)
        book.next_due = change.next_due
        book.expiring = change.expiring
        if change.op_key is not None:
            book.markers[change.op_key] = change.result
        if change.order is not None:
            book.orders[change.order.order_id] = change.order
        if change.redemption is not None:
            book.redemptions[change.redemption.redemption_id] = change.redemption
        if change.outcome.spent_on_order is not None:
            order_id, points = change.outcome.spent_on_order
            book.orders.setdefault(order_id, OrderRecord(order_id=order_id)).spent += points
        for redemption_id in change.lapsed:
            book.redemptions[redemption_id].status = "lapsed"
        self.commits += 1

    def entries_page(self, tenant: str, member: str, limit: int, cursor: str | None) -> EntriesPage:
        """The cursor is the sequence number of the last entry listed."""
        newest_first = sorted(self.book(tenant, member).entries, key=lambda e: -e.seq)
        if cursor is not None:
            if not cursor.isdigit():
                raise ValidationFailed("cursor is not valid", field="cursor", code="invalid_cursor")
            newest_first = [e for e in newest_first if e.seq < int(cursor)]
        page = newest_first[:limit]
        more = len(newest_first) > limit
        return EntriesPage(copy.deepcopy(page), str(page[-1].seq) if more else None)
