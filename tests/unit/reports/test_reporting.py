"""Who receives a report, and which figures a restatement lists."""

from __future__ import annotations

from typing import cast

import pytest

from loyalty.staff import Locale, Staff
from loyalty.tenants import Tenant
from reports.reporting import changed_figures
from reports.schedule import Recipient, recipients

pytestmark = pytest.mark.unit

TENANT = Tenant(tenant_id="demo", name="Demo", manager_emails=["boss@demo.example"], escalation_emails=[])


def _manager(staff_id: str, locale: str, reports: tuple[str, ...]) -> Staff:
    return Staff(
        staff_id,
        staff_id,
        f"{staff_id}@demo.example",
        "manager",
        (),
        "Asia/Shanghai",
        cast(Locale, locale),
        True,
        1,
        "2026-03-01T00:00:00Z",
        reports=reports,
    )


def test_managers_receive_the_kinds_they_chose_in_their_locale() -> None:
    managers = [_manager("a", "en", ("monthly",)), _manager("b", "zh-CN", ("daily", "weekly", "monthly"))]
    assert recipients("daily", managers, TENANT, "zh-CN") == [Recipient("b", "b@demo.example", "zh-CN")]
    assert [r.key for r in recipients("monthly", managers, TENANT, "zh-CN")] == ["a", "b"]
    # A registry with managers, none of whom chose weekly: nobody (the report is still stored).
    assert recipients("weekly", [_manager("a", "en", ("monthly",))], TENANT, "zh-CN") == []


def test_without_a_manager_the_tenant_addresses_get_every_kind_in_the_program_locale() -> None:
    assert recipients("weekly", [], TENANT, "en") == [Recipient("tenant-0", "boss@demo.example", "en")]
    assert recipients("daily", [], TENANT, "fr") == [Recipient("tenant-0", "boss@demo.example", "en")]


def test_a_restatement_lists_exactly_the_figures_that_changed() -> None:
    old = {"orders": 3, "gross_revenue": "350.00", "churn_rate": 0.5, "nps": None, "by_tier": {"gold": 1}}
    new = {"orders": 4, "gross_revenue": "350.00", "churn_rate": 0.5, "nps": 10.0, "by_tier": {"gold": 1}}
    assert changed_figures("monthly-2026-02-01", old, new) == [
        {"report_id": "monthly-2026-02-01", "figure": "nps", "old": None, "new": 10.0},
        {"report_id": "monthly-2026-02-01", "figure": "orders", "old": 3, "new": 4},
    ]
    # numbers as the index stores them (Decimal) equal the computed ones
    from decimal import Decimal

    assert (
        changed_figures(
            "r", {"churn_rate": Decimal("0.5"), "orders": Decimal(3)}, {"churn_rate": 0.5, "orders": 3}
        )
        == []
    )
