"""The points ledger: pure rules, no AWS.

A member's points live in one :class:`Account` (the balance snapshot stored on
the member's ``#BALANCE`` item) and change only through the operations of
:class:`Book`. Every operation returns the new account plus the ledger entries
that explain the change; the data-access layer writes them together, atomically,
under a version check and a business-key marker, so nothing is applied twice.
An entry is not a report of a change made elsewhere: the book posts it and
:func:`apply` moves the account by it, so the account's points are, by
construction, what its entries add up to (:mod:`points.ledger.state` lists
exactly what ``apply`` covers).

Buckets:

* ``available`` = the sum of the available lots minus ``debt`` (a negative
  balance, only ever non-zero when the negative balance policy allows it;
  while there is debt there are no lots, and new points pay the debt first);
* ``pending`` = points of orders still inside the return window, one pending
  lot per order day (so the account's size follows the configured window, not
  the number of orders);
* ``held`` = points taken by unconfirmed redemption holds.

Lots are keyed by their expiry day (``expires_on``, a day in the program's
time zone): points earned on the same day share a lot. Debits take the
soonest-expiring lots first and each entry records the lots it moved, so the
ledger rebuilds every lot exactly.

Modules: :mod:`~points.ledger.state` (the account, records, entries, ``apply``),
:mod:`~points.ledger.calendar`, :mod:`~points.ledger.earning` (what an order
earns), and the book: :mod:`~points.ledger.core`, :mod:`~points.ledger.orders`,
:mod:`~points.ledger.redemptions`, :mod:`~points.ledger.sweep`,
:mod:`~points.ledger.book`.
"""

from points.ledger.book import Book
from points.ledger.calendar import add_months, day_of, is_day, month_of, start_of
from points.ledger.earning import OrderLine, Quote, quote, quote_for
from points.ledger.orders import Converter
from points.ledger.redemptions import request_hash
from points.ledger.state import (
    Account,
    Entry,
    Hold,
    InsufficientPoints,
    InvalidEntry,
    InvalidTransition,
    Notice,
    OrderRecord,
    Outcome,
    PendingLot,
    Redemption,
    TooManyHolds,
    apply,
)
from points.ledger.sweep import SWEEP_WRITES, expiring, next_due

__all__ = [
    "SWEEP_WRITES",
    "Account",
    "Book",
    "Converter",
    "Entry",
    "Hold",
    "InsufficientPoints",
    "InvalidEntry",
    "InvalidTransition",
    "Notice",
    "OrderLine",
    "OrderRecord",
    "Outcome",
    "PendingLot",
    "Quote",
    "Redemption",
    "TooManyHolds",
    "add_months",
    "apply",
    "day_of",
    "expiring",
    "is_day",
    "month_of",
    "next_due",
    "quote",
    "quote_for",
    "request_hash",
    "start_of",
]
