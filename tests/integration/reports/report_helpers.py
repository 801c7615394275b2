"""Shared scenario of the report tests: a hand-computed February 2026 (Europe/Berlin, the
test program's time zone), and small builders of events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.conftest import Env, order_event, registration

ADMIN = "admin-test-key-demo"
POSTED = datetime(2026, 2, 28, 12, 0, tzinfo=UTC)  # every scenario event arrives before 1 March
MONTHLY_RUN = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)  # 07:00 Berlin on 1 March


def order(event_id: str, member: str, total: str, at: str, order_id: str | None = None) -> dict[str, Any]:
    event = order_event(event_id, member, total, at=at)
    if order_id:
        event["data"]["order_id"] = order_id
    return event


def cancel(event_id: str, member: str, order_id: str, at: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": "order.cancelled",
        "occurred_at": at,
        "member_id": member,
        "channel": "web",
        "data": {"order_id": order_id},
    }


def refund(event_id: str, member: str, order_id: str, amount: str, at: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": "order.refunded",
        "occurred_at": at,
        "member_id": member,
        "channel": "store",
        "data": {"order_id": order_id, "refund_id": f"rf-{event_id}", "amount": amount, "currency": "CNY"},
    }


def survey(event_id: str, member: str, kind: str, score: int, at: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": "survey.answered",
        "occurred_at": at,
        "member_id": member,
        "channel": "web",
        "data": {"survey_id": f"s-{kind}", "kind": kind, "score": score},
    }


def february() -> list[dict[str, Any]]:
    """ann: an order in November, two in February (active at both ends, a repurchaser,
    returning); bob: one order on 20 November only (active on 1 February, not on 1 March:
    churned); cat: registers and orders in February (new), refunded 20.00; dan: an order
    cancelled (counts nowhere); eve: an order in June 2025 (active at neither end)."""
    return [
        order("a1", "ann", "150.00", "2025-11-15T10:00:00Z"),
        order("a2", "ann", "100.00", "2026-02-03T10:00:00Z"),
        order("a3", "ann", "50.00", "2026-02-20T10:00:00Z"),
        order("b1", "bob", "80.00", "2025-11-20T10:00:00Z"),
        registration("c0", "cat", at="2026-02-05T10:00:00Z"),
        order("c1", "cat", "200.00", "2026-02-10T10:00:00Z"),
        refund("c2", "cat", "o-c1", "20.00", "2026-02-12T10:00:00Z"),
        order("d1", "dan", "40.00", "2026-02-14T10:00:00Z"),
        cancel("d2", "dan", "o-d1", "2026-02-15T10:00:00Z"),
        order("e1", "eve", "60.00", "2025-06-01T10:00:00Z"),
        survey("s1", "ann", "nps", 10, "2026-02-21T10:00:00Z"),
        survey("s2", "bob", "nps", 5, "2026-02-21T11:00:00Z"),
        survey("s3", "cat", "nps", 8, "2026-02-22T10:00:00Z"),
        survey("s4", "ann", "csat", 5, "2026-02-22T11:00:00Z"),
        survey("s5", "cat", "csat", 3, "2026-02-23T10:00:00Z"),
    ]


# February's figures, by hand (docs/kpis.md):
FEBRUARY = {
    "orders": 3,  # ann 2, cat 1; dan's cancelled order counts nowhere
    "gross_revenue": "350.00",
    "refunds": "20.00",
    "net_revenue": "330.00",
    "average_order_value": "116.67",  # 350 / 3
    "active_customers": 2,  # ann, cat
    "new_customers": 1,  # cat
    "repurchase_rate": 0.5,  # ann of ann, cat
    "returning_customer_rate": 0.5,  # ann (first order in November) of ann, cat
    "active_at_start": 2,  # ann (15 Nov), bob (20 Nov): an order in [3 Nov, 1 Feb)
    "active_at_end": 2,  # ann, cat: an order in [1 Dec, 1 Mar)
    "churn_rate": 0.5,  # bob of ann, bob
    "retention_rate": 0.5,  # (E 2 - N 1) / S 2
    "purchase_frequency": 1.5,  # 6 orders in [1 Mar 2025, 1 Mar 2026) / 4 members active in that year
    "expected_lifetime_years": 1.0002,  # 1 / (1 - 0.5 ** 12) = 1 / 0.9998
    "clv": "175.04",  # 116.67 x 1.5 x 1.0002 x 1
    "gross_margin": "1",
    "nps": 0.0,  # promoters 1 (10), detractors 1 (5), passive 1 (8)
    "nps_responses": 3,
    "csat": 0.5,  # 5 of (5, 3)
    "csat_responses": 2,
    "registrations": 1,
    "members_total": 1,
    "unconverted": 0,
}


def post(aws: Env, events: list[dict[str, Any]], at: datetime = POSTED) -> None:
    for first in range(0, len(events), 25):
        response = aws.call("POST", "/v1/events", {"events": events[first : first + 25]}, at=at)
        assert response.status in (200, 207), response.json()
        assert {r["status"] for r in response.json()["results"]} <= {"accepted", "duplicate"}, response.json()


def report(aws: Env, report_id: str) -> dict[str, Any]:
    got = aws.call("GET", f"/v1/reports/{report_id}", key=ADMIN)
    assert got.status == 200, got.json()
    return dict(got.json())


def counter_items(aws: Env) -> dict[tuple[str, str], dict[str, Any]]:
    """Every stored rollup counter item (the harness's own Query per partition is not
    available for unknown partitions, so the test table is read whole: tests only)."""
    table = aws.table("LOYALTY_TABLE")
    items: list[dict[str, Any]] = []
    page = table.scan()
    items += page["Items"]
    while "LastEvaluatedKey" in page:
        page = table.scan(ExclusiveStartKey=page["LastEvaluatedKey"])
        items += page["Items"]
    return {
        (str(i["pk"]), str(i["sk"])): {k: v for k, v in i.items() if k not in ("pk", "sk", "kind") and v != 0}
        for i in items
        if i.get("kind") == "rollup" and any(v != 0 for k, v in i.items() if k not in ("pk", "sk", "kind"))
    }
