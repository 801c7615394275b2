"""The book: one member's account and the operations on it.

:class:`Book` takes a copy of an account and applies operations to it: the
order operations (:mod:`points.ledger.orders`), redemptions and adjustments
(:mod:`points.ledger.redemptions`) and the sweep (:mod:`points.ledger.sweep`),
all posting through the core (:mod:`points.ledger.core`), so every change of
the account's points is an entry applied by :func:`points.ledger.state.apply`.
The book collects the entries and notices for one commit (:meth:`Book.outcome`);
the caller writes them with the account, atomically."""

from __future__ import annotations

from points.ledger.orders import OrderOperations
from points.ledger.redemptions import Redemptions
from points.ledger.sweep import Sweep


class Book(OrderOperations, Redemptions, Sweep):
    """Applies operations to a copy of an account, collecting entries and notices."""
