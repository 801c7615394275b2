"""The KPI figures of the reports, each defined exactly once, over plain inputs.

Guarantees:
- pure: counts, ``Decimal`` money, sets and lists in, numbers out; no data access;
- a rate is a float in [0, 1] rounded to 4 decimal places, half to even, and ``None``
  when its denominator is 0;
- money is a ``Decimal`` quantized to the minor unit (2 places, half to even) and is
  rendered by :func:`money` as a plain decimal string (never an exponent);
- ``nps`` is a number from -100 to 100 rounded to 2 decimal places, half to even;
- a ratio that is not a share (purchase frequency, lifetime in years) keeps 4 places.

The definitions and their data are listed in ``docs/kpis.md``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

RATE_PLACES = Decimal("0.0001")
NPS_PLACES = Decimal("0.01")
MONEY_PLACES = Decimal("0.01")
ACTIVE_DAYS = 90  # lifecycle.active_days, the default of the program config


def _round(value: Decimal, places: Decimal) -> Decimal:
    return value.quantize(places, rounding=ROUND_HALF_EVEN)


def rate(numerator: int, denominator: int) -> float | None:
    """numerator / denominator to 4 places (half to even); None when the denominator is 0."""
    if denominator == 0:
        return None
    return float(_round(Decimal(numerator) / Decimal(denominator), RATE_PLACES))


def to_money(amount: Decimal) -> Decimal:
    """The amount in the minor unit of the currency (2 places, half to even)."""
    return _round(amount, MONEY_PLACES)


def money(amount: Decimal) -> str:
    """The amount as a decimal string with 2 places: ``Decimal("12.5")`` -> ``"12.50"``."""
    return format(to_money(amount), "f")


# --- sales ---------------------------------------------------------------------------


def net_revenue(gross: Decimal, refunds: Decimal) -> Decimal:
    """gross_revenue - refunds."""
    return to_money(gross - refunds)


def average_order_value(gross: Decimal, orders: int) -> Decimal | None:
    """gross_revenue / orders; None without orders."""
    if orders == 0:
        return None
    return to_money(gross / Decimal(orders))


# --- customers -----------------------------------------------------------------------


def active_members(
    order_days: Mapping[str, Iterable[date]], moment: date, active_days: int = ACTIVE_DAYS
) -> set[str]:
    """Members with an order on one of the ``active_days`` days before ``moment`` (the
    start of that local day): days in [moment - active_days, moment)."""
    first = moment - timedelta(days=active_days)
    return {m for m, days in order_days.items() if any(first <= d < moment for d in days)}


def repurchase_rate(repurchasers: int, active_customers: int) -> float | None:
    """Members with at least 2 orders in the period / members with at least 1."""
    return rate(repurchasers, active_customers)


def returning_customer_rate(returning: int, active_customers: int) -> float | None:
    """Active customers whose first order came before the period / active customers."""
    return rate(returning, active_customers)


def churn_rate(active_at_start: set[str], active_at_end: set[str]) -> float | None:
    """Members active at start but not at end / members active at start."""
    return rate(len(active_at_start - active_at_end), len(active_at_start))


def retention_rate(
    active_at_start: set[str], active_at_end: set[str], first_order_in_period: set[str]
) -> float | None:
    """(E - N) / S: S active at start, E active at end, N those of E whose first order
    falls in the period."""
    new_and_active = len(active_at_end & first_order_in_period)
    return rate(len(active_at_end) - new_and_active, len(active_at_start))


def purchase_frequency(orders_365d: int, active_customers_365d: int) -> Decimal | None:
    """Orders per active customer over the trailing 365 days (4 places)."""
    if active_customers_365d == 0:
        return None
    return _round(Decimal(orders_365d) / Decimal(active_customers_365d), RATE_PLACES)


def annualised_churn(period_churn: float, periods_per_year: int) -> float:
    """The churn of one period compounded over a year: 1 - (1 - c) ** n (4 places)."""
    kept = (Decimal(1) - Decimal(str(period_churn))) ** periods_per_year
    return float(_round(Decimal(1) - kept, RATE_PLACES))


def expected_lifetime_years(annual_churn: float | None) -> Decimal | None:
    """1 / the annualised churn rate (4 places); None when that churn is 0 or unknown."""
    if not annual_churn:
        return None
    return _round(Decimal(1) / Decimal(str(annual_churn)), RATE_PLACES)


@dataclass(frozen=True)
class Clv:
    """The customer lifetime value and each of its inputs, as the report shows them."""

    average_order_value: Decimal | None
    purchase_frequency: Decimal | None
    expected_lifetime_years: Decimal | None
    gross_margin: Decimal
    value: Decimal | None  # money; None when an input is None


def clv(
    aov: Decimal | None,
    frequency: Decimal | None,
    lifetime_years: Decimal | None,
    gross_margin: Decimal = Decimal(1),
) -> Clv:
    """average_order_value x purchase_frequency x expected_lifetime_years x gross_margin."""
    value = None
    if aov is not None and frequency is not None and lifetime_years is not None:
        value = to_money(aov * frequency * lifetime_years * gross_margin)
    return Clv(aov, frequency, lifetime_years, gross_margin, value)


# --- voice of the customer -----------------------------------------------------------


def _checked(scores: list[int], low: int, high: int) -> list[int]:
    if any(not low <= s <= high for s in scores):
        raise ValueError(f"a score outside {low}..{high}")
    return scores


def nps(scores: list[int]) -> float | None:
    """(% of answers 9-10) - (% of answers 0-6), -100..100, 2 places; None without answers."""
    if not _checked(scores, 0, 10):
        return None
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    share = Decimal(100 * (promoters - detractors)) / Decimal(len(scores))
    return float(_round(share, NPS_PLACES))


def csat(scores: list[int]) -> float | None:
    """The share of CSAT answers (1-5) that are 4 or 5; None without answers."""
    return rate(sum(1 for s in _checked(scores, 1, 5) if s >= 4), len(scores))


def responses(scores: list[int]) -> int:
    """nps_responses / csat_responses: the number of answers."""
    return len(scores)


# --- service -------------------------------------------------------------------------


def sla_compliance(achieved: int, breached: int) -> float | None:
    """achieved / (achieved + breached), over the targets due in the period."""
    return rate(achieved, achieved + breached)


def median(values: list[int]) -> float | None:
    """The middle value (the mean of the two middle ones for an even count); None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[middle])
    return (ordered[middle - 1] + ordered[middle]) / 2


def one_touch_rate(one_touch: int, resolved: int) -> float | None:
    """Tickets resolved with exactly one public reply and never reopened / tickets resolved."""
    return rate(one_touch, resolved)


def reopen_rate(reopened: int, resolved: int) -> float | None:
    """Resolved tickets that were reopened / tickets resolved."""
    return rate(reopened, resolved)


def complaint_rate(complaints: int, orders: int) -> float | None:
    """Complaint tickets / orders."""
    return rate(complaints, orders)


# --- points --------------------------------------------------------------------------


def expected_redemption_rate(redeemed_12m: int, expired_12m: int, fallback: float) -> float:
    """Redeemed / (redeemed + expired) over the trailing 12 months; the configured
    fallback when there is no such history."""
    measured = rate(redeemed_12m, redeemed_12m + expired_12m)
    return fallback if measured is None else measured


def breakage_rate(expected_rate: float) -> float:
    """1 - expected_redemption_rate."""
    return float(_round(Decimal(1) - Decimal(str(expected_rate)), RATE_PLACES))


def points_liability(outstanding: int, point_value: Decimal, expected_rate: float) -> Decimal:
    """points_outstanding x point_value x expected_redemption_rate, in money."""
    return to_money(Decimal(outstanding) * point_value * Decimal(str(expected_rate)))


def conserved(
    start: int, issued: int, redeemed: int, expired: int, clawed_back: int, adjusted: int, end: int
) -> bool:
    """end = start + issued - redeemed - expired - clawed_back + adjusted (adjusted signed)."""
    return end == start + issued - redeemed - expired - clawed_back + adjusted


# --- cohorts -------------------------------------------------------------------------


def _month_after(month: str, k: int) -> str:
    year, number = int(month[:4]), int(month[5:7]) - 1 + k
    return f"{year + number // 12:04d}-{number % 12 + 1:02d}"


def cohort_retention(
    first_order_month: Mapping[str, str],
    order_months: Mapping[str, set[str]],
    months: list[str],
) -> list[dict[str, object]]:
    """One entry per month of ``months`` (``YYYY-MM``, ascending): the members whose first
    order fell in it (``size``) and ``retention`` [r1, r2, ...], rk the share of them with
    an order in the k-th month after, for each such month up to the last of ``months``."""
    last = months[-1] if months else ""
    out: list[dict[str, object]] = []
    for cohort in months:
        members = [m for m, first in first_order_month.items() if first == cohort]
        retention: list[float | None] = []
        k = 1
        while (month := _month_after(cohort, k)) <= last:
            kept = sum(1 for m in members if month in order_months.get(m, set()))
            retention.append(rate(kept, len(members)))
            k += 1
        out.append({"cohort": cohort, "size": len(members), "retention": retention})
    return out
