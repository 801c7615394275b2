"""What the rollups know about one order and one member, and the additive counters
they give. Pure: no AWS here.

Guarantees (the rollups' invariants, docs/kpis.md "Rollups"):

- **An order counts once per ``order_id``.** Of several ``order.placed`` events for one
  order, the one with the smallest key (``occurred_at``, then ``event_id``) is the one
  counted, whatever order they arrive in; a redelivery changes nothing.
- **A cancelled order counts nowhere**: a cancellation takes it out of every counter, and
  one that arrives before the order leaves a tombstone, so the order never counts.
  Refunds of a cancelled order do not count either.
- **A refund counts once per ``refund_id``**, on its own day, in the base currency.
- **A member registers once**: the earliest ``member.registered`` counts.
- So the state after a set of events does not depend on their order or on repeats, and
  the counters of a state are a function of it (:func:`order_counts`,
  :func:`registration_counts`); an event's change to the counters is the difference of
  its state's counters after and before it, so incremental rollups add up to the
  counters of the final states (``reports.rebuild`` relies on this).

Amounts not in the base currency are converted with the program's rates; an order (or a
refund) in a currency without a rate still counts as an order but adds no amount
(``unconverted``: reported, so the gap shows)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any

from reports.periods import bucket_day, bucket_month

Amounts = dict[tuple[str, str], Decimal]  # (bucket, counter) -> value; zeros dropped


@dataclass(frozen=True)
class Placed:
    key: str  # occurred_at (UTC ISO) + "#" + event_id: the smallest one counts
    day: date  # the program-local day the order occurred on
    total: Decimal | None  # in the base currency; None when its currency has no rate


@dataclass(frozen=True)
class Refund:
    key: str
    day: date
    amount: Decimal | None  # in the base currency; None without a rate


@dataclass(frozen=True)
class OrderState:
    order_id: str
    placed: Placed | None = None
    cancelled: bool = False
    refunds: dict[str, Refund] = field(default_factory=dict)  # refund_id -> refund

    @property
    def counted(self) -> bool:
        return self.placed is not None and not self.cancelled

    @property
    def day(self) -> date | None:
        return self.placed.day if self.counted and self.placed else None


def _earlier(new_key: str, old_key: str | None) -> bool:
    return old_key is None or new_key < old_key


def apply_order_event(
    state: OrderState, kind: str, key: str, day: date, data: Mapping[str, Any], amount: Decimal | None
) -> OrderState | None:
    """The order's state after an order event (``amount``: its total or refund amount in
    the base currency), or None when the event changes nothing."""
    if kind == "order.placed":
        if state.placed is not None and not _earlier(key, state.placed.key):
            return None
        return replace(state, placed=Placed(key, day, amount))
    if kind == "order.cancelled":
        return None if state.cancelled else replace(state, cancelled=True)
    if kind == "order.refunded":
        refund_id = str(data["refund_id"])
        known = state.refunds.get(refund_id)
        if known is not None and not _earlier(key, known.key):
            return None
        return replace(state, refunds={**state.refunds, refund_id: Refund(key, day, amount)})
    raise ValueError(f"not an order event: {kind}")


def _add(counts: Amounts, bucket: str, name: str, value: Decimal) -> None:
    counts[(bucket, name)] = counts.get((bucket, name), Decimal(0)) + value


def order_counts(state: OrderState) -> Amounts:
    """The order's additive counters, on its day's bucket and its month's: ``orders``,
    ``gross`` (its total), ``unconverted`` (an order without a rate), and its refunds on
    their own days (``refunds``, ``refund_amount``); nothing when it is not counted."""
    counts: Amounts = {}
    if not state.counted or state.placed is None:
        return counts
    placed = state.placed
    for bucket in (bucket_day(placed.day), bucket_month(placed.day)):
        _add(counts, bucket, "orders", Decimal(1))
        if placed.total is None:
            _add(counts, bucket, "unconverted", Decimal(1))
        else:
            _add(counts, bucket, "gross", placed.total)
    for refund in state.refunds.values():
        for bucket in (bucket_day(refund.day), bucket_month(refund.day)):
            _add(counts, bucket, "refunds", Decimal(1))
            if refund.amount is None:
                _add(counts, bucket, "unconverted", Decimal(1))
            else:
                _add(counts, bucket, "refund_amount", refund.amount)
    return counts


def registration_counts(day: date | None) -> Amounts:
    """A member's registration: ``registrations`` on its day and month, and the tenant
    total (bucket ``T``)."""
    if day is None:
        return {}
    return {
        (bucket_day(day), "registrations"): Decimal(1),
        (bucket_month(day), "registrations"): Decimal(1),
        ("T", "registrations"): Decimal(1),
    }


def survey_counts(day: date, kind: str, score: int) -> Amounts:
    """One survey answer: ``nps<score>`` or ``csat<score>`` on its day and month."""
    name = f"{kind}{score}"
    return {(bucket_day(day), name): Decimal(1), (bucket_month(day), name): Decimal(1)}


def difference(
    after: Mapping[tuple[str, str], Decimal], before: Mapping[tuple[str, str], Decimal]
) -> Amounts:
    """``after`` − ``before``, zeros dropped."""
    out: Amounts = {}
    for key in set(after) | set(before):
        value = after.get(key, Decimal(0)) - before.get(key, Decimal(0))
        if value:
            out[key] = value
    return out


def merge(*parts: Mapping[tuple[str, str], Decimal]) -> Amounts:
    out: Amounts = {}
    for part in parts:
        for (bucket, name), value in part.items():
            _add(out, bucket, name, value)
    return {k: v for k, v in out.items() if v}


def day_change(days: Mapping[date, int], before: OrderState, after: OrderState) -> dict[date, int]:
    """The member's counted order days after an order's change from ``before`` to ``after``."""
    out = dict(days)
    for state, sign in ((before, -1), (after, 1)):
        day = state.day
        if day is not None:
            out[day] = out.get(day, 0) + sign
            if out[day] <= 0:
                del out[day]
    return out


@dataclass(frozen=True)
class MemberState:
    version: int = 0
    registration: tuple[str, date] | None = None  # (key, day) of the registration counted
    days: dict[date, int] = field(default_factory=dict)  # counted order days


@dataclass(frozen=True)
class Change:
    """What one event changes: the member's new state and the counters it moves."""

    days: dict[date, int] | None = None  # the member's order days after (None: unchanged)
    order: OrderState | None = None
    registration: tuple[str, date] | None = None
    survey_event: str | None = None
    counts: Amounts = field(default_factory=dict)
    late: tuple[tuple[str, str], ...] = ()  # (report kind, day) markers
