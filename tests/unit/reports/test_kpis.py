"""Every KPI figure on a hand-computed example, with the arithmetic beside it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from reports import kpis

pytestmark = pytest.mark.unit


def test_rate_rounds_to_four_places_half_to_even_and_is_null_without_denominator() -> None:
    assert kpis.rate(1, 3) == 0.3333  # 0.33333...
    assert kpis.rate(2, 3) == 0.6667  # 0.66666...
    assert kpis.rate(1, 20000) == 0.0000  # 0.00005: half, to the even 0.0000
    assert kpis.rate(3, 20000) == 0.0002  # 0.00015: half, to the even 0.0002
    assert kpis.rate(0, 5) == 0.0
    assert kpis.rate(5, 5) == 1.0
    assert kpis.rate(0, 0) is None
    assert kpis.rate(3, 0) is None


def test_money_is_two_places_as_a_plain_string() -> None:
    assert kpis.money(Decimal("12.5")) == "12.50"
    assert kpis.money(Decimal("0.125")) == "0.12"  # half to even
    assert kpis.money(Decimal("0.135")) == "0.14"
    assert kpis.money(Decimal("1E+3")) == "1000.00"  # never an exponent
    assert kpis.money(Decimal("-3")) == "-3.00"


def test_sales() -> None:
    # 3 orders: 10.00 + 20.00 + 5.01 = 35.01; refunds 5.00 -> net 30.01
    gross = Decimal("10.00") + Decimal("20.00") + Decimal("5.01")
    assert kpis.net_revenue(gross, Decimal("5.00")) == Decimal("30.01")
    # 35.01 / 3 = 11.67
    assert kpis.average_order_value(gross, 3) == Decimal("11.67")
    assert kpis.average_order_value(Decimal(0), 0) is None


def test_active_members_are_those_with_an_order_in_the_90_days_before() -> None:
    moment = date(2026, 4, 1)  # window: 2026-01-01 .. 2026-03-31 (90 days)
    orders = {
        "a": [date(2026, 1, 1)],  # first day of the window
        "b": [date(2025, 12, 31)],  # one day before it
        "c": [date(2026, 4, 1)],  # the moment itself: not yet
        "d": [date(2025, 6, 1), date(2026, 3, 31)],
    }
    assert kpis.active_members(orders, moment) == {"a", "d"}
    assert kpis.active_members(orders, moment, active_days=91) == {"a", "b", "d"}


def test_customer_rates() -> None:
    # 4 active customers, 1 with 2+ orders: 1/4; 3 of them ordered before: 3/4
    assert kpis.repurchase_rate(1, 4) == 0.25
    assert kpis.returning_customer_rate(3, 4) == 0.75
    assert kpis.repurchase_rate(0, 0) is None
    assert kpis.returning_customer_rate(0, 0) is None


def test_churn_and_retention() -> None:
    start = {"a", "b", "c", "d"}  # S = 4
    end = {"a", "b", "e", "f"}  # E = 4; c, d churned
    new = {"e"}  # first order in the period; f returned from before
    assert kpis.churn_rate(start, end) == 0.5  # |{c, d}| / 4
    assert kpis.retention_rate(start, end, new) == 0.75  # (4 - 1) / 4
    assert kpis.churn_rate(set(), end) is None
    assert kpis.retention_rate(set(), end, new) is None


def test_clv_shows_its_inputs() -> None:
    # 700 orders over 200 customers in 365 days: 3.5 per customer
    frequency = kpis.purchase_frequency(700, 200)
    assert frequency == Decimal("3.5000")
    # monthly churn 10 %: 1 - 0.9 ** 12 = 1 - 0.282429536481 = 0.717570463519 -> 0.7176
    assert kpis.annualised_churn(0.1, 12) == 0.7176
    # annual churn 0.25: 4 years
    years = kpis.expected_lifetime_years(0.25)
    assert years == Decimal("4.0000")
    # 11.67 x 3.5 x 4 x 0.40 = 65.352 -> 65.35
    result = kpis.clv(Decimal("11.67"), frequency, years, Decimal("0.40"))
    assert result == kpis.Clv(
        Decimal("11.67"), Decimal("3.5"), Decimal("4"), Decimal("0.40"), Decimal("65.35")
    )
    assert kpis.clv(Decimal("10"), frequency, years).value == Decimal("140.00")  # margin 1


def test_clv_without_an_input_has_no_value() -> None:
    assert kpis.purchase_frequency(0, 0) is None
    assert kpis.expected_lifetime_years(0.0) is None
    assert kpis.expected_lifetime_years(None) is None
    assert kpis.clv(Decimal("10"), Decimal("2"), None).value is None
    assert kpis.clv(None, Decimal("2"), Decimal("4")).value is None


def test_nps() -> None:
    # 3 promoters (9, 10, 10), 2 passives (7, 8), 2 detractors (0, 6) of 7:
    # 100 x (3 - 2) / 7 = 14.2857... -> 14.29
    assert kpis.nps([9, 10, 10, 7, 8, 0, 6]) == 14.29
    assert kpis.nps([10, 9, 9]) == 100.0
    assert kpis.nps([0, 6, 3]) == -100.0
    assert kpis.nps([7, 8]) == 0.0
    # 1 promoter of 8: 12.5 exactly
    assert kpis.nps([9, 7, 7, 7, 7, 7, 7, 7]) == 12.5
    assert kpis.nps([]) is None


def test_scores_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError):
        kpis.nps([11])
    with pytest.raises(ValueError):
        kpis.csat([0])


def test_csat_and_responses() -> None:
    # 4 and 5 of (5, 4, 3, 1, 4, 2): 3 of 6
    assert kpis.csat([5, 4, 3, 1, 4, 2]) == 0.5
    assert kpis.csat([3, 3, 5]) == 0.3333  # 1/3
    assert kpis.csat([]) is None
    assert kpis.responses([5, 4, 3]) == 3
    assert kpis.responses([]) == 0


def test_service() -> None:
    assert kpis.sla_compliance(9, 1) == 0.9  # 9 / (9 + 1)
    assert kpis.sla_compliance(0, 0) is None
    assert kpis.median([30, 10, 20]) == 20.0
    assert kpis.median([40, 10, 30, 20]) == 25.0  # (20 + 30) / 2
    assert kpis.median([7]) == 7.0
    assert kpis.median([]) is None
    assert kpis.one_touch_rate(3, 8) == 0.375  # 3 / 8
    assert kpis.reopen_rate(1, 8) == 0.125  # 1 / 8
    assert kpis.complaint_rate(2, 300) == 0.0067  # 0.006666...
    assert kpis.one_touch_rate(0, 0) is None
    assert kpis.reopen_rate(0, 0) is None
    assert kpis.complaint_rate(1, 0) is None


def test_points_program_cost() -> None:
    # 6,000 redeemed and 2,000 expired in 12 months: 6000 / 8000 = 0.75
    expected = kpis.expected_redemption_rate(6000, 2000, fallback=0.8)
    assert expected == 0.75
    assert kpis.breakage_rate(expected) == 0.25
    assert kpis.expected_redemption_rate(0, 0, fallback=0.8) == 0.8  # no history
    assert kpis.breakage_rate(0.8) == 0.2
    # 120,000 outstanding x 0.01 x 0.75 = 900.00
    assert kpis.points_liability(120_000, Decimal("0.01"), expected) == Decimal("900.00")
    # 333 x 0.01 x 0.75 = 2.4975 -> 2.50
    assert kpis.points_liability(333, Decimal("0.01"), 0.75) == Decimal("2.50")


def test_conservation() -> None:
    # 1000 + 500 - 200 - 50 - 30 + (-20) = 1200
    assert kpis.conserved(1000, 500, 200, 50, 30, -20, 1200)
    assert kpis.conserved(1000, 500, 200, 50, 30, 20, 1240)
    assert not kpis.conserved(1000, 500, 200, 50, 30, -20, 1201)
    assert not kpis.conserved(1000, 500, 200, 50, 0, -20, 1200)  # a claw-back left out


def test_cohort_retention() -> None:
    months = ["2025-11", "2025-12", "2026-01", "2026-02"]
    first = {"a": "2025-11", "b": "2025-11", "c": "2025-11", "d": "2025-11", "e": "2026-01"}
    orders = {
        "a": {"2025-11", "2025-12", "2026-02"},
        "b": {"2025-11", "2025-12"},
        "c": {"2025-11"},
        "d": {"2025-11", "2026-01", "2026-03"},  # March is after the report: not counted
        "e": {"2026-01", "2026-02"},
    }
    assert kpis.cohort_retention(first, orders, months) == [
        # Dec: a, b of 4 = 0.5; Jan: d = 0.25; Feb: a = 0.25
        {"cohort": "2025-11", "size": 4, "retention": [0.5, 0.25, 0.25]},
        {"cohort": "2025-12", "size": 0, "retention": [None, None]},
        # Feb: e of 1
        {"cohort": "2026-01", "size": 1, "retention": [1.0]},
        {"cohort": "2026-02", "size": 0, "retention": []},
    ]


def test_cohorts_cross_the_year() -> None:
    first = {"a": "2025-12", "b": "2025-12"}
    orders = {"a": {"2026-01"}, "b": {"2026-02"}}
    result = kpis.cohort_retention(first, orders, ["2025-12", "2026-01", "2026-02"])
    assert result[0] == {"cohort": "2025-12", "size": 2, "retention": [0.5, 0.5]}
    assert kpis.cohort_retention(first, orders, []) == []


def test_retention_counts_returning_lapsed_members() -> None:
    # S = {a}; E = {a, b}, b lapsed before start and ordered again; N = {}: (2 - 0) / 1
    assert kpis.retention_rate({"a"}, {"a", "b"}, set()) == 2.0
