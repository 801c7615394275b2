"""Daily KPI report: which days are due, every figure's definition and its computation from
the records the repository reads, and the rendering. Pure: no AWS here.

Each figure of today's email is computed here, from the activity index of the day (the
program-local day an item is listed under): :func:`revenue`, :func:`refunded` and
:func:`points_issued` state their definitions; counts are the number of items of one
kind listed that day (:func:`day_figures`). The KPI figures of docs/kpis.md are defined
in ``reports.kpis``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from html import escape
from typing import Any

from loyalty.messages import Email

Records = Sequence[Mapping[str, Any]]  # stored items, as the activity index lists them
Listed = Mapping[tuple[str, str], Records]  # (day, kind) -> the items listed under them


@dataclass(frozen=True)
class DayFigures:
    day: date
    orders: int = 0
    revenue: dict[str, Decimal] = field(default_factory=dict)  # by currency
    refunds: int = 0
    refunded: dict[str, Decimal] = field(default_factory=dict)
    new_members: int = 0
    points_issued: int = 0
    tickets_opened: int = 0
    tickets_escalated: int = 0


def days_to_report(last_done: date | None, today: date) -> list[date]:
    """Catch-up: every completed day after the last reported one. A first run
    reports yesterday only."""
    yesterday = today - timedelta(days=1)
    start = yesterday if last_done is None else last_done + timedelta(days=1)
    return [start + timedelta(days=i) for i in range((yesterday - start).days + 1)]


def months(days: list[date]) -> list[list[date]]:
    """Consecutive days grouped by calendar month, in order."""
    groups: list[list[date]] = []
    for day in days:
        if groups and (groups[-1][-1].year, groups[-1][-1].month) == (day.year, day.month):
            groups[-1].append(day)
        else:
            groups.append([day])
    return groups


def sum_by_currency(pairs: list[tuple[str, Decimal]]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for currency, amount in pairs:
        totals[currency] = totals.get(currency, Decimal("0")) + amount
    return dict(sorted(totals.items()))


def revenue(orders: Records) -> dict[str, Decimal]:
    """Report revenue of a day: the sum of ``data.total`` of the day's ``order.placed``
    events, by ``data.currency``. The day is the one the order occurred on in the program's
    time zone. Gross: refunds are not subtracted (they are reported apart, :func:`refunded`)
    and an order cancelled later still counts on the day it was placed."""
    return sum_by_currency([(o["data"]["currency"], Decimal(o["data"]["total"])) for o in orders])


def refunded(refunds: Records) -> dict[str, Decimal]:
    """Refunded amount of a day: the sum of ``data.amount`` of the day's ``order.refunded``
    events, by ``data.currency``; a refund without a currency is reported under XXX,
    ISO 4217's "no currency" code."""
    return sum_by_currency(
        [(r["data"].get("currency", "XXX"), Decimal(r["data"]["amount"])) for r in refunds]
    )


def points_issued(earned: Records) -> int:
    """Points issued on a day: the sum of ``points`` of the ledger's ``points.earned``
    entries listed that day, i.e. credited that day in the program's time zone (when the
    stream delivered the order, not when it occurred). Clawbacks are not subtracted."""
    return sum(int(e["points"]) for e in earned)


def day_figures(day: date, events: Listed, records: Listed) -> DayFigures:
    """One day's figures from the activity index: ``events`` from the event log, ``records``
    from the loyalty table. Raises on a malformed stored item, which fails that day alone."""
    d = day.isoformat()

    def listed(source: Listed, kind: str) -> Records:
        return source.get((d, kind), ())

    orders, refunds = listed(events, "order.placed"), listed(events, "order.refunded")
    return DayFigures(
        day=day,
        orders=len(orders),
        revenue=revenue(orders),
        refunds=len(refunds),
        refunded=refunded(refunds),
        new_members=len(listed(events, "member.registered")),
        points_issued=points_issued(listed(records, "points.earned")),
        tickets_opened=len(listed(records, "ticket.opened")),
        tickets_escalated=len(listed(records, "ticket.escalated")),
    )


def _money(values: dict[str, Decimal]) -> str:
    return ", ".join(f"{amount:.2f} {currency}" for currency, amount in values.items()) or "0.00"


def rows(figures: DayFigures) -> list[tuple[str, str]]:
    return [
        ("Orders", str(figures.orders)),
        ("Revenue", _money(figures.revenue)),
        ("Refunds", str(figures.refunds)),
        ("Refunded amount", _money(figures.refunded)),
        ("New members", str(figures.new_members)),
        ("Points issued", str(figures.points_issued)),
        ("Tickets opened", str(figures.tickets_opened)),
        ("Tickets escalated", str(figures.tickets_escalated)),
    ]


def render_html(tenant_name: str, figures: DayFigures) -> str:
    body = "".join(
        f"<tr><th align='left'>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows(figures)
    )
    return (
        f"<html><body><h1>{escape(tenant_name)}: daily report for {figures.day.isoformat()}</h1>"
        f"<table>{body}</table></body></html>"
    )


def render_email(tenant_id: str, tenant_name: str, figures: DayFigures, recipients: list[str]) -> Email:
    width = max(len(k) for k, _ in rows(figures))
    text = f"{tenant_name}: daily report for {figures.day.isoformat()}\n\n" + "\n".join(
        f"{k.ljust(width)}  {v}" for k, v in rows(figures)
    )
    return Email(
        to=recipients,
        subject=f"Daily report {figures.day.isoformat()}: {figures.orders} orders, {_money(figures.revenue)}",
        text=text + "\n",
        html=render_html(tenant_name, figures),
        tags={"Report": "daily", "Tenant": tenant_id},
    )
