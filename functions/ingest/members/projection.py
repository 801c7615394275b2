"""Member profile and stats projected from events and profile updates, and the
stats read back from their stored item. Pure: no AWS here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

from loyalty.program import ORDER_CURRENCY
from loyalty.timeutil import iso, parse_rfc3339

# Personal data of the profile: removed on erasure, never logged (what of event
# data is personal: ingest.events.privacy).
PERSONAL_FIELDS = (
    "email",
    "phone",
    "name",
    "birthday",
    "time_zone",
    "locale",
    "consent_email",
    "consent_sms",
)
PROFILE_FIELDS = (*PERSONAL_FIELDS, "owner")


@dataclass(frozen=True)
class OrderDay:
    """The orders of one UTC day, so the stats item holds one entry per day however
    many orders a member places. A counting window holds the day's orders from its
    first order time until its last one leaves the window: a later order of the day
    counts from the first order's time, an earlier one leaves up to a day late."""

    first: str
    last: str
    count: int


@dataclass(frozen=True)
class MemberStats:
    """Net figures: an order cancelled or refunded in full no longer counts, and
    refunds come off the spend. Spend is in the program's base currency."""

    orders_count: int = 0
    total_spend: Decimal = Decimal("0")
    first_order_at: str | None = None
    last_order_at: str | None = None
    # Orders within the longest window a rule reads (config), by day, oldest first.
    recent_orders: tuple[OrderDay, ...] = field(default_factory=tuple)
    version: int = 0

    @property
    def average_order_value(self) -> Decimal:
        if not self.orders_count:
            return Decimal("0")
        return (self.total_spend / self.orders_count).quantize(Decimal("0.01"))


def _day(moment: str) -> str:
    return moment[:10]  # stored times are canonical UTC ISO


def _with_order(days: tuple[OrderDay, ...], at: str) -> tuple[OrderDay, ...]:
    found = {_day(d.last): d for d in days}
    known = found.get(_day(at))
    found[_day(at)] = (
        OrderDay(min(at, known.first), max(at, known.last), known.count + 1) if known else OrderDay(at, at, 1)
    )
    return tuple(sorted(found.values(), key=lambda d: d.last))


def _without_order(days: tuple[OrderDay, ...], at: str) -> tuple[OrderDay, ...]:
    """One order of ``at``'s day taken out (the day keeps its first and last times
    while other orders remain: within a day, figures are approximate)."""
    kept = []
    for d in days:
        if _day(d.last) != _day(at):
            kept.append(d)
        elif d.count > 1:
            kept.append(OrderDay(d.first, d.last, d.count - 1))
    return tuple(kept)


@dataclass(frozen=True)
class OrderFacts:
    """What the stats know about one order (its ``OS#`` record): enough to count it
    once and to take it out again when it is cancelled or refunded in full."""

    order_id: str
    known: bool = False  # the order itself has arrived (a refund may come first)
    occurred_at: str | None = None
    currency: str | None = None
    total: Decimal = Decimal("0")  # in the order's currency
    refunds: tuple[tuple[str, Decimal], ...] = ()  # (currency, amount) totals; ORDER_CURRENCY: the order's
    cancelled: bool = False
    version: int = 0


@dataclass(frozen=True)
class Contribution:
    counted: bool  # in orders_count and the order days
    spend: Decimal  # in total_spend (base currency)


NOTHING = Contribution(False, Decimal("0"))
Convert = Callable[[Decimal, str, "str | None"], "Decimal | None"]


def contribution(order: OrderFacts, base: str, convert: Convert) -> Contribution:
    """An order's share of the member's figures: counted unless cancelled or refunded
    in full; its spend net of refunds, in the base currency (none without a rate)."""
    if not order.known or order.cancelled or order.currency is None:
        return NOTHING
    refunded = Decimal("0")
    for currency, amount in order.refunds:
        same = currency in (ORDER_CURRENCY, order.currency)
        converted = amount if same else convert(amount, currency, order.currency)
        refunded += converted or Decimal("0")
    if order.total > 0 and refunded >= order.total:
        return NOTHING
    net = convert(max(order.total - refunded, Decimal("0")), order.currency, base)
    return Contribution(True, net if net is not None else Decimal("0"))


def apply_order_change(
    stats: MemberStats, before: Contribution, after: Contribution, at: str, window_days: int
) -> MemberStats:
    """Move the figures from an order's old contribution to its new one. Event time
    decides first and last order: a late order never moves last_order_at back."""
    spend = stats.total_spend + after.spend - before.spend
    first: str | None
    last: str | None
    if before.counted == after.counted:
        return replace(stats, total_spend=spend, version=stats.version + 1)
    if after.counted:
        days = _with_order(stats.recent_orders, at)
        last = max(filter(None, [stats.last_order_at, at]))
        first = min(filter(None, [stats.first_order_at, at]))
        count = stats.orders_count + 1
    else:
        days = _without_order(stats.recent_orders, at)
        count = stats.orders_count - 1
        beyond = count - sum(d.count for d in days)  # counted orders older than the window
        last = days[-1].last if days else (stats.last_order_at if beyond > 0 else None)
        first = stats.first_order_at
        if count == 0:
            first = None
        elif first == at and beyond <= 0 and days:
            first = days[0].first
    horizon = iso(parse_rfc3339(last) - timedelta(days=window_days)) if last else ""
    return replace(
        stats,
        orders_count=count,
        total_spend=spend,
        first_order_at=first,
        last_order_at=last,
        recent_orders=tuple(d for d in days if d.last >= horizon),
        version=stats.version + 1,
    )


def order_event(
    facts: OrderFacts, kind: str, data: dict[str, Any], occurred_at: str, base: str
) -> OrderFacts | None:
    """The order's facts after an order, refund or cancellation event; None when the
    event adds nothing (the order id was counted before, or cancelled already).
    Each refund id is applied once by the caller's marker."""
    if kind == "order.placed":
        if facts.known:
            return None
        return replace(
            facts,
            known=True,
            occurred_at=occurred_at,
            currency=str(data.get("currency") or base),
            total=Decimal(str(data["total"])),
        )
    if kind == "order.refunded":
        currency = str(data.get("currency") or ORDER_CURRENCY)
        if currency == facts.currency:
            currency = ORDER_CURRENCY
        refunds = dict(facts.refunds)
        refunds[currency] = refunds.get(currency, Decimal("0")) + Decimal(str(data["amount"]))
        return replace(facts, refunds=tuple(sorted(refunds.items())))
    if kind == "order.cancelled":
        return None if facts.cancelled else replace(facts, cancelled=True)
    raise ValueError(f"not an order event: {kind}")


def apply_order(stats: MemberStats, occurred_at: str, total: Decimal, window_days: int) -> MemberStats:
    """A new order of ``total`` (base currency) counted into the figures."""
    return apply_order_change(stats, NOTHING, Contribution(True, total), occurred_at, window_days)


def profile_changes(data: dict[str, Any]) -> dict[str, Any]:
    """The profile fields an event or request sets; absent fields are left as they were.
    Consent is kept per channel, so updating one channel leaves the other."""
    changes = {name: data[name] for name in PROFILE_FIELDS if data.get(name) is not None}
    for channel, consent in (data.get("consent") or {}).items():
        changes[f"consent_{channel}"] = consent
    return changes


def merge_profile(current: dict[str, Any], changes: dict[str, Any], at: str) -> dict[str, Any] | None:
    """Apply ``changes`` made at ``at`` field by field: a field keeps the newest value by
    event time, so a late event never overwrites a newer one, yet still fills the fields
    it is the newest for. None when nothing changes, or when the member was erased."""
    if current.get("erased_at"):
        return None
    field_at = dict(current.get("field_at") or {})
    merged = dict(current)
    for name, value in changes.items():
        if field_at.get(name, "") > at:
            continue
        merged[name] = value
        field_at[name] = at
    if merged == current and field_at == (current.get("field_at") or {}):
        return None
    merged["field_at"] = field_at
    return merged


def stats_from_item(item: dict[str, Any] | None) -> MemberStats:
    if not item:
        return MemberStats()
    return MemberStats(
        orders_count=int(item["orders_count"]),
        total_spend=Decimal(str(item["total_spend"])),
        first_order_at=item.get("first_order_at"),
        last_order_at=item.get("last_order_at"),
        recent_orders=order_days_from_item(item),
        version=int(item.get("version", 0)),
    )


def order_days_from_item(item: dict[str, Any]) -> tuple[OrderDay, ...]:
    """The stored order days; a stats item written before orders were kept by day
    lists each order time, which is grouped the same way here."""
    if "order_days" in item:
        return tuple(OrderDay(str(d["first"]), str(d["last"]), int(d["n"])) for d in item["order_days"])
    days: dict[str, OrderDay] = {}
    for at in sorted(str(t) for t in item.get("recent_orders") or ()):
        known = days.get(at[:10])
        days[at[:10]] = OrderDay(known.first, at, known.count + 1) if known else OrderDay(at, at, 1)
    return tuple(days.values())


def birthday_month_day(birthday: str) -> str:
    """'1990-04-17' or '--04-17' -> '04-17'."""
    return birthday[-5:]
