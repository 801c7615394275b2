"""A report's figures from the rollups' buckets. Pure: no AWS here.

Each figure is computed by its definition in ``reports.kpis`` from counters summed over a
period's buckets (``reports.rollup`` for the member-level ones, ``reports.service`` for
the tickets'), so the report reads the bucket items of the months it touches, never
events (``read_months``). Flows are sums over the period's days (or, for the trailing
year, whole months); stocks at a moment are the tenant total less the changes since."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from reports import kpis, rollup, service
from reports.periods import Period, bucket_day, bucket_month

Counters = Mapping[str, Mapping[str, int]]  # bucket -> counter -> value (counts)
Money = Mapping[str, Mapping[str, Decimal]]  # bucket -> counter -> amount (money)
MONEY_COUNTERS = frozenset({"gross", "refund_amount"})  # every other counter is a count
LONG_WINDOW = 365
COHORT_MONTHS = 12
DAILY_SERIES_DAYS = 7


@dataclass(frozen=True)
class Buckets:
    """The summed counters of every bucket read, and the tenant totals."""

    counts: Counters
    money: Money
    totals: Mapping[str, int]

    def count(self, bucket: str, name: str) -> int:
        return int(self.counts.get(bucket, {}).get(name, 0))

    def amount(self, bucket: str, name: str) -> Decimal:
        return Decimal(self.money.get(bucket, {}).get(name, Decimal(0)))


@dataclass(frozen=True)
class Settings:
    active_days: int = kpis.ACTIVE_DAYS
    gross_margin: Decimal = Decimal(1)
    point_value: Decimal = Decimal("0.01")
    expected_redemption_rate: Decimal = Decimal("0.8")


def _month(day: date) -> str:
    return day.isoformat()[:7]


def months_between(first: date, last: date) -> list[str]:
    """The months (``YYYY-MM``) from ``first``'s through ``last``'s."""
    out: list[str] = []
    day = first.replace(day=1)
    while day <= last:
        out.append(_month(day))
        day = (day + timedelta(days=32)).replace(day=1)
    return out


def read_months(period: Period, today: date) -> list[str]:
    """The months whose rollup partitions a report of ``period`` (and of the period before
    it) reads: from a year before the previous period's end (the trailing-year figures,
    the cohorts) through the month of ``today`` (members registered since the end)."""
    first = min(period.previous().end - timedelta(days=LONG_WINDOW + 1), _first_cohort(period))
    return months_between(first, max(today, period.end))


def _first_cohort(period: Period) -> date:
    start = period.start.replace(day=1)
    for _ in range(COHORT_MONTHS - 1):
        start = (start - timedelta(days=1)).replace(day=1)
    return start


def _sum_days(b: Buckets, first: date, end: date, name: str) -> int:
    return sum(b.count(bucket_day(first + timedelta(days=i)), name) for i in range((end - first).days))


def _sum_money(b: Buckets, first: date, end: date, name: str) -> Decimal:
    total = Decimal(0)
    for i in range((end - first).days):
        total += b.amount(bucket_day(first + timedelta(days=i)), name)
    return total


def _trailing(b: Buckets, end: date, name: str) -> int:
    """``name`` summed over [end − 365 days, end): whole months from their month bucket,
    the days of the partial months from their day buckets."""
    first = end - timedelta(days=LONG_WINDOW)
    total, day = 0, first
    while day < end:
        next_month = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
        if day.day == 1 and next_month <= end:
            total += b.count(bucket_month(day), name)
        else:
            total += _sum_days(b, day, min(next_month, end), name)
        day = next_month
    return total


def sales(b: Buckets, p: Period) -> dict[str, Any]:
    orders = _sum_days(b, p.start, p.end, "orders")
    gross = _sum_money(b, p.start, p.end, "gross")
    refunds = _sum_money(b, p.start, p.end, "refund_amount")
    aov = kpis.average_order_value(gross, orders)
    return {
        "orders": orders,
        "gross_revenue": kpis.money(gross),
        "refunds": kpis.money(refunds),
        "net_revenue": kpis.money(kpis.net_revenue(gross, refunds)),
        "average_order_value": None if aov is None else kpis.money(aov),
        "unconverted": _sum_days(b, p.start, p.end, "unconverted"),
    }


def customers(b: Buckets, p: Period, s: Settings) -> dict[str, Any]:
    active, repurchasers, new = rollup.distinct(b.counts, p)
    at_start = rollup.active_at(b.counts, p.start, s.active_days)
    at_end = rollup.active_at(b.counts, p.end, s.active_days)
    churn = kpis.rate(rollup.churned(b.counts, p), at_start)
    # Every period is shorter than the active window, so each new customer is still
    # active at the end: N (those active at end whose first order falls in the period)
    # is new_customers.
    retained = at_end - new if (p.end - p.start).days < s.active_days else None
    orders = _sum_days(b, p.start, p.end, "orders")
    gross = _sum_money(b, p.start, p.end, "gross")
    frequency = kpis.purchase_frequency(
        _trailing(b, p.end, "orders"), rollup.active_at(b.counts, p.end, LONG_WINDOW)
    )
    annual = None if churn is None else kpis.annualised_churn(churn, p.periods_per_year)
    value = kpis.clv(
        kpis.average_order_value(gross, orders),
        frequency,
        kpis.expected_lifetime_years(annual),
        s.gross_margin,
    )
    return {
        "active_customers": active,
        "new_customers": new,
        "repurchase_rate": kpis.repurchase_rate(repurchasers, active),
        "returning_customer_rate": kpis.returning_customer_rate(active - new, active),
        "active_at_start": at_start,
        "active_at_end": at_end,
        "churn_rate": churn,
        "retention_rate": None if retained is None else kpis.rate(retained, at_start),
        "clv": None if value.value is None else kpis.money(value.value),
        "purchase_frequency": None if frequency is None else float(frequency),
        "expected_lifetime_years": None
        if value.expected_lifetime_years is None
        else float(value.expected_lifetime_years),
        "gross_margin": format(s.gross_margin, "f"),
    }


def _scores(b: Buckets, p: Period, kind: str, low: int, high: int) -> list[int]:
    out: list[int] = []
    for score in range(low, high + 1):
        out += [score] * _sum_days(b, p.start, p.end, f"{kind}{score}")
    return out


def voice(b: Buckets, p: Period) -> dict[str, Any]:
    nps, csat = _scores(b, p, "nps", 0, 10), _scores(b, p, "csat", 1, 5)
    return {
        "nps": kpis.nps(nps),
        "csat": kpis.csat(csat),
        "nps_responses": kpis.responses(nps),
        "csat_responses": kpis.responses(csat),
    }


def members(b: Buckets, p: Period, today: date) -> dict[str, Any]:
    """``members_total`` at ``end``: every registration counted so far less those on the
    days from ``end`` through ``today``."""
    since = _sum_days(b, p.end, max(today, p.end) + timedelta(days=1), "registrations")
    return {
        "members_total": int(b.totals.get("registrations", 0)) - since,
        "registrations": _sum_days(b, p.start, p.end, "registrations"),
    }


def _since(b: Buckets, moment: date, today: date, name: str) -> int:
    """``name``'s change over the days from ``moment`` through ``today``."""
    return _sum_days(b, moment, max(today, moment) + timedelta(days=1), name)


def _stock(b: Buckets, moment: date, today: date, name: str) -> int:
    """A stock at ``moment``: its total now less the changes since."""
    return int(b.totals.get(name, 0)) - _since(b, moment, today, name)


def _prefixed(b: Buckets, first: date, end: date, prefix: str) -> dict[str, int]:
    """Every counter named ``<prefix><key>`` summed over the days [first, end), by key."""
    out: dict[str, int] = {}
    for i in range((end - first).days):
        for name, value in b.counts.get(bucket_day(first + timedelta(days=i)), {}).items():
            if name.startswith(prefix):
                out[name.removeprefix(prefix)] = out.get(name.removeprefix(prefix), 0) + int(value)
    return {k: v for k, v in sorted(out.items()) if v}


def _stocks(b: Buckets, moment: date, today: date, prefix: str) -> dict[str, int]:
    names = sorted(n.removeprefix(prefix) for n in b.totals if n.startswith(prefix))
    found = {name: _stock(b, moment, today, prefix + name) for name in names}
    return {k: v for k, v in found.items() if v}


def points(b: Buckets, p: Period, s: Settings, today: date) -> dict[str, Any]:
    flows = {
        name: _sum_days(b, p.start, p.end, name)
        for name in (
            "points_issued",
            "points_redeemed",
            "points_expired",
            "points_clawed_back",
            "points_adjusted",
        )
    }
    outstanding = _stock(b, p.end, today, "points_net")
    at_start = _stock(b, p.start, today, "points_net")
    redeemed_12m, expired_12m = _trailing(b, p.end, "points_redeemed"), _trailing(b, p.end, "points_expired")
    expected = kpis.expected_redemption_rate(redeemed_12m, expired_12m, float(s.expected_redemption_rate))
    liability = kpis.points_liability(outstanding, s.point_value, expected)
    return {
        **flows,
        "points_outstanding": outstanding,
        "points_outstanding_at_start": at_start,
        "point_value": format(s.point_value, "f"),
        "expected_redemption_rate": expected,
        "breakage_rate": kpis.breakage_rate(expected),
        "points_liability": kpis.money(liability),
        # IFRS 15: the points outstanding are a contract liability (deferred revenue) at
        # their expected redemption; revenue is released as points are redeemed.
        "deferred_revenue": kpis.money(liability),
        "deferred_revenue_at_start": kpis.money(kpis.points_liability(at_start, s.point_value, expected)),
        "revenue_released": kpis.money(Decimal(flows["points_redeemed"]) * s.point_value),
    }


def member_stocks(b: Buckets, p: Period, today: date) -> dict[str, Any]:
    return {
        "by_lifecycle_stage": _stocks(b, p.end, today, "stage_"),
        "by_tier": _stocks(b, p.end, today, "tier_"),
        "tier_upgrades": _sum_days(b, p.start, p.end, "tier_upgrades"),
        "tier_downgrades": _sum_days(b, p.start, p.end, "tier_downgrades"),
    }


def care(b: Buckets, p: Period) -> dict[str, Any]:
    due, on_time = _sum_days(b, p.start, p.end, "tasks_due"), _sum_days(b, p.start, p.end, "tasks_on_time")
    return {
        "care_sent": _sum_days(b, p.start, p.end, "care_sent"),
        "care_skipped": _prefixed(b, p.start, p.end, "care_skipped_"),
        "tasks_created": _sum_days(b, p.start, p.end, "tasks_created"),
        "tasks_completed": _sum_days(b, p.start, p.end, "tasks_completed"),
        "tasks_overdue": due - on_time,
    }


def figures(b: Buckets, p: Period, s: Settings, today: date) -> dict[str, Any]:
    sales_figures = sales(b, p)
    return {
        **sales_figures,
        **customers(b, p, s),
        **voice(b, p),
        **service.service_figures(b, p),
        **points(b, p, s, today),
        **members(b, p, today),
        **member_stocks(b, p, today),
        **care(b, p),
    }


def series(b: Buckets, p: Period) -> list[dict[str, Any]]:
    """One entry per day of the period (a daily report: the 7 days up to its day)."""
    first = p.end - timedelta(days=DAILY_SERIES_DAYS) if p.kind == "daily" else p.start
    out = []
    for i in range((p.end - first).days):
        day = first + timedelta(days=i)
        bucket = bucket_day(day)
        out.append(
            {
                "day": day.isoformat(),
                "orders": b.count(bucket, "orders"),
                "gross_revenue": kpis.money(b.amount(bucket, "gross")),
                "active_customers": b.count(bucket, "active"),
            }
        )
    return out


def cohorts(b: Buckets, p: Period) -> list[dict[str, Any]]:
    """Monthly reports: each first-order month of the 12 months up to the period's."""
    if p.kind != "monthly":
        return []
    last = _month(p.start)
    start = _first_cohort(p)
    return [rollup.cohort_row(b.counts, m, last) for m in months_between(start, p.start)]


def document(b: Buckets, p: Period, s: Settings, today: date, meta: Mapping[str, Any]) -> dict[str, Any]:
    """The report: its period, ``meta`` (time zone, currency, generated_at), the figures
    and those of the period before, the daily series and the cohorts."""
    return {
        "report_id": p.report_id,
        "period": p.kind,
        "start": p.start.isoformat(),
        "end": p.end.isoformat(),
        **meta,
        "figures": figures(b, p, s, today),
        "previous": figures(b, p.previous(), s, today),
        "series": series(b, p),
        "cohorts": cohorts(b, p),
        "restated": [],
    }
