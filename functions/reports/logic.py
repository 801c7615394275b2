"""Daily KPI report: figures and rendering. Pure: no AWS here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from html import escape

from loyalty.emailer import Email


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
