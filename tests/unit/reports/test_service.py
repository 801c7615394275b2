"""The service figures: each counter of a ticket's ``report`` and each figure of the
period on hand-computed examples; a ticket's lifecycle of stored images, applied as
differences, adds up to its final contribution; the histogram median is ``kpis.median``
of the times themselves."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from hypothesis import given
from hypothesis import strategies as st

from reports import kpis, service
from reports.figures import Buckets
from reports.orders import Amounts, difference, merge
from reports.periods import Period
from tickets import desk, items, logic
from tickets.domain import Ticket
from tickets.service_config import ServiceConfig

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
CONFIG = ServiceConfig.model_validate(yaml.safe_load((ROOT / "config" / "service.yaml").read_text()))
SHANGHAI = ZoneInfo("Asia/Shanghai")
D = Decimal


def sh(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


def report(**fields: Any) -> dict[str, Any]:
    """A stored ``report`` (as a stream image gives it: numbers are Decimal)."""
    return {
        "created_at": "2026-03-10T16:30:00.000Z",  # 11 March 00:30 in Shanghai
        "category": "delivery",
        "reopened": D(0),
        "one_touch": False,
        "sla": {},
        **fields,
    }


def counts(**fields: Any) -> Amounts:
    return service.ticket_counts({"kind": "ticket", "report": report(**fields)}, SHANGHAI)


# --- the counters of one ticket -------------------------------------------------------


def test_an_opened_ticket_counts_on_its_local_day_and_a_complaint_too() -> None:
    assert counts() == {("D2026-03-11", "tickets_opened"): 1}  # 16:30 UTC is the next day there
    assert counts(category="complaint") == {
        ("D2026-03-11", "tickets_opened"): 1,
        ("D2026-03-11", "complaints"): 1,
    }
    assert service.ticket_counts({"kind": "ticket", "report": report()}, ZoneInfo("UTC")) == {
        ("D2026-03-10", "tickets_opened"): 1
    }


def test_a_resolved_ticket_counts_its_resolve_one_touch_and_reopen_on_the_resolve_day() -> None:
    resolved = "2026-03-12T02:00:00.000Z"  # 12 March 10:00 Shanghai
    assert counts(resolved_at=resolved, one_touch=True) == {
        ("D2026-03-11", "tickets_opened"): 1,
        ("D2026-03-12", "tickets_resolved"): 1,
        ("D2026-03-12", "one_touch"): 1,
    }
    assert counts(resolved_at=resolved, reopened=D(2)) == {
        ("D2026-03-11", "tickets_opened"): 1,
        ("D2026-03-12", "tickets_resolved"): 1,
        ("D2026-03-12", "reopened_resolved"): 1,  # once, however often it was reopened
    }
    # Not resolved now (reopened): neither resolved nor one-touch, whatever the flags say.
    assert counts(reopened=D(1), one_touch=True) == {("D2026-03-11", "tickets_opened"): 1}


def test_each_decided_target_counts_on_its_due_day_and_an_open_one_adds_nothing() -> None:
    found = counts(
        sla={
            "first_response": {"due_at": "2026-03-11T01:00:00.000Z", "outcome": "achieved"},
            "next_reply": {"due_at": "2026-03-12T16:00:00.000Z", "outcome": "breached"},  # 13th locally
            "resolution": {"due_at": "2026-03-13T09:00:00.000Z", "outcome": "open"},
        }
    )
    assert found == {
        ("D2026-03-11", "tickets_opened"): 1,
        ("D2026-03-11", "sla_first_response_achieved"): 1,
        ("D2026-03-13", "sla_next_reply_breached"): 1,
    }


def test_the_first_response_counts_its_minutes_on_its_day_with_a_week_as_the_cap() -> None:
    first = {"at": "2026-03-11T05:00:00.000Z", "business_minutes": D(90), "calendar_minutes": D(270)}
    assert counts(first_response=first) == {
        ("D2026-03-11", "tickets_opened"): 1,
        ("D2026-03-11", "frb90"): 1,
        ("D2026-03-11", "frc270"): 1,
    }
    late = {"at": "2026-03-20T05:00:00.000Z", "business_minutes": D(10079), "calendar_minutes": D(12960)}
    assert counts(first_response=late) == {
        ("D2026-03-11", "tickets_opened"): 1,
        ("D2026-03-20", "frb10079"): 1,
        ("D2026-03-20", "frc10080+"): 1,  # 9 days: past the cap
    }
    assert service.minutes_counter("frb", 10080) == "frb10080+"
    assert service.minutes_counter("frc", 0) == "frc0"


def test_an_item_without_a_report_counts_nothing() -> None:
    assert service.ticket_counts(None, SHANGHAI) == {}
    assert service.ticket_counts({"kind": "ticket", "status": "open"}, SHANGHAI) == {}


# --- a lifecycle of stored images ------------------------------------------------------

_SERIALIZER, _DESERIALIZER = TypeSerializer(), TypeDeserializer()


def image(ticket: Ticket, now: datetime) -> dict[str, Any]:
    """The ticket item as a write at ``now`` stores it, as the stream delivers it."""
    found = desk.evaluate(ticket, CONFIG, now)
    item = items.ticket_item(ticket, SHANGHAI, None, items.report_of(found.ticket, found.sla, found.metrics))
    return {k: _DESERIALIZER.deserialize(_SERIALIZER.serialize(v)) for k, v in item.items()}


def lifecycle() -> list[dict[str, Any]]:
    """An urgent complaint (cn-business: first response 60, next reply 120, resolution 480
    business minutes) opened Wednesday 11 March 2026 09:00 Shanghai, every write's image."""
    opened = sh(3, 11, 9)
    ticket = logic.open_ticket(
        "demo",
        "web",
        opened,
        CONFIG,
        subject="s",
        description="d",
        member_id="m-1",
        member_tier=None,
        member_erased=False,
        priority="urgent",
        category="complaint",
        queue="service",
    )
    ticket = replace(ticket, policy="urgent", policy_version=1)
    images = [image(ticket, opened)]

    def say(kind: Any, at: datetime) -> None:
        nonlocal ticket
        ticket = logic.add_message(
            ticket, message_id=f"m{len(images)}", kind=kind, author="a", body="b", at=at
        ).ticket
        images.append(image(ticket, at))

    def status(to: Any, at: datetime) -> None:
        nonlocal ticket
        ticket = logic.patch(ticket, CONFIG, "a", at, status=to).ticket
        images.append(image(ticket, at))

    images.append(image(ticket, sh(3, 11, 10)))  # the timer's breach run: due 10:00, unanswered
    say("reply", sh(3, 11, 10, 30))  # 90 minutes, late
    say("customer", sh(3, 11, 11))  # next reply due 14:00 (12:00-13:00 is lunch)
    say("reply", sh(3, 11, 11, 30))
    status("resolved", sh(3, 11, 12))  # resolution due 18:00: met
    say("note", sh(3, 11, 12, 5))  # a rewrite with no change for the reports
    say("customer", sh(3, 12, 9, 30))  # a reopen: next reply due 11:30, resolution 15:30
    say("reply", sh(3, 12, 10))
    status("resolved", sh(3, 12, 10, 30))
    return images


def test_a_lifecycle_of_differences_adds_up_to_the_final_contribution() -> None:
    images = lifecycle()
    assert images[5]["report"] == images[6]["report"]  # the note changed nothing counted
    applied = merge(
        *(
            difference(service.ticket_counts(new, SHANGHAI), service.ticket_counts(old, SHANGHAI))
            for old, new in zip([None, *images], images, strict=False)
        )
    )
    final = service.ticket_counts(images[-1], SHANGHAI)
    assert applied == final
    assert final == {
        ("D2026-03-11", "tickets_opened"): 1,
        ("D2026-03-11", "complaints"): 1,
        ("D2026-03-11", "sla_first_response_breached"): 1,  # due 10:00, answered 10:30
        ("D2026-03-11", "frb90"): 1,
        ("D2026-03-11", "frc90"): 1,
        ("D2026-03-12", "sla_next_reply_achieved"): 1,  # the latest episode, due 11:30
        ("D2026-03-12", "sla_resolution_achieved"): 1,  # 180 minutes on the 11th, due 15:30
        ("D2026-03-12", "tickets_resolved"): 1,
        ("D2026-03-12", "reopened_resolved"): 1,
    }


def test_each_write_of_the_lifecycle_counts_what_the_ticket_was_then() -> None:
    images = lifecycle()
    first = service.ticket_counts(images[0], SHANGHAI)
    assert first == {("D2026-03-11", "tickets_opened"): 1, ("D2026-03-11", "complaints"): 1}
    breach = difference(service.ticket_counts(images[1], SHANGHAI), first)
    assert breach == {("D2026-03-11", "sla_first_response_breached"): 1}
    resolved = difference(
        service.ticket_counts(images[5], SHANGHAI), service.ticket_counts(images[4], SHANGHAI)
    )
    assert resolved == {
        ("D2026-03-11", "tickets_resolved"): 1,
        ("D2026-03-11", "sla_resolution_achieved"): 1,  # due 18:00 that day
    }
    reopened = difference(
        service.ticket_counts(images[7], SHANGHAI), service.ticket_counts(images[6], SHANGHAI)
    )
    assert reopened == {
        ("D2026-03-11", "tickets_resolved"): -1,
        ("D2026-03-11", "sla_resolution_achieved"): -1,  # running again
        ("D2026-03-11", "sla_next_reply_achieved"): -1,  # a new episode waits
    }


# --- the figures of a period -----------------------------------------------------------


def buckets(days: dict[str, dict[str, int]]) -> Buckets:
    return Buckets(counts=days, money={}, totals={})


def test_the_service_figures_of_a_week() -> None:
    week = Period("weekly", date(2026, 3, 9), date(2026, 3, 16))
    b = buckets(
        {
            "D2026-03-09": {
                "tickets_opened": 3,
                "complaints": 1,
                "orders": 40,
                "sla_first_response_achieved": 2,
                "sla_first_response_breached": 1,
                "frb10": 2,
                "frc10": 1,
                "frc30": 1,
            },
            "D2026-03-15": {
                "tickets_opened": 1,
                "complaints": 1,
                "orders": 10,
                "tickets_resolved": 3,
                "one_touch": 2,
                "reopened_resolved": 1,
                "sla_resolution_breached": 3,
                "sla_next_reply_achieved": 1,
                "frb40": 1,
                "frb10080+": 1,
                "frc10080+": 2,
            },
            # outside the week: the 8th and the 16th
            "D2026-03-08": {"tickets_opened": 5, "frb1": 9, "orders": 7},
            "D2026-03-16": {"tickets_resolved": 4, "complaints": 2},
            "M2026-03": {"tickets_opened": 99, "frb1": 99},
        }
    )
    assert service.service_figures(b, week) == {
        "tickets_opened": 4,
        "tickets_resolved": 3,
        "sla_first_response": 0.6667,  # 2 / (2 + 1)
        "sla_next_reply": 1.0,  # 1 / (1 + 0)
        "sla_resolution": 0.0,  # 0 / (0 + 3)
        "median_first_response_business_minutes": 25.0,  # 10, 10, 40, 10080: (10 + 40) / 2
        "median_first_response_calendar_minutes": 5055.0,  # 10, 30, 10080+, 10080+: (30 + 10080) / 2
        "one_touch_rate": 0.6667,  # 2 / 3
        "reopen_rate": 0.3333,  # 1 / 3
        "complaint_rate": 0.04,  # 2 / 50
    }


def test_a_period_without_tickets_has_counts_of_zero_and_null_rates() -> None:
    day = Period("daily", date(2026, 3, 11), date(2026, 3, 12))
    assert service.service_figures(buckets({"D2026-03-10": {"tickets_opened": 2}}), day) == {
        "tickets_opened": 0,
        "tickets_resolved": 0,
        "sla_first_response": None,
        "sla_next_reply": None,
        "sla_resolution": None,
        "median_first_response_business_minutes": None,
        "median_first_response_calendar_minutes": None,
        "one_touch_rate": None,
        "reopen_rate": None,
        "complaint_rate": None,
    }


def test_the_histogram_median_of_a_hand_computed_example() -> None:
    assert service.histogram_median({}) is None
    assert service.histogram_median({7: 0}) is None
    assert service.histogram_median({5: 1}) == 5.0
    assert service.histogram_median({1: 1, 4: 1}) == 2.5
    assert service.histogram_median({3: 2, 1: 1, 9: 1}) == 3.0  # 1, 3, 3, 9


@given(st.lists(st.integers(min_value=0, max_value=service.MINUTES_CAP - 1), max_size=60))
def test_the_histogram_median_is_the_median_of_the_times(values: list[int]) -> None:
    month = Period("monthly", date(2026, 3, 1), date(2026, 4, 1))
    days: dict[str, dict[str, int]] = {}
    for n, minutes in enumerate(values):
        at = f"2026-03-{n % 31 + 1:02d}T04:00:00.000Z"
        first = {"at": at, "business_minutes": D(minutes), "calendar_minutes": D(minutes * 2)}
        for (bucket, name), count in counts(first_response=first).items():
            days.setdefault(bucket, {})
            days[bucket][name] = days[bucket].get(name, 0) + int(count)
    found = service.service_figures(buckets(days), month)
    assert found["median_first_response_business_minutes"] == kpis.median(values)
    # Calendar minutes double them, so some pass the cap: the overflow reads as the cap.
    capped = [min(2 * v, service.MINUTES_CAP) for v in values]
    assert found["median_first_response_calendar_minutes"] == kpis.median(capped)
