"""The care engine end to end: events through the stream into firings, the delivery job
through the guards (erased, consent at send time, once-per, frequency cap, quiet hours),
and the send ledger. Every pump delivers the whole stream again, so each test also
proves a redelivered trigger acts once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import Env, order_event
from tests.integration.care_rules.care_helpers import (
    deliver,
    disable_rule,
    ledger,
    member,
    outcomes,
    post,
    put_rule,
    sent,
    utc,
)

pytestmark = pytest.mark.integration

NOON = utc(2026, 3, 10, 12, 0)  # 13:00 in Berlin (the suite's program zone)
PROMO = {
    "name": "Promote every order",
    "trigger": {"type": "event", "event_type": "order.placed"},
    "actions": [{"type": "email", "template": "cart-abandoned", "marketing": True}],
    "guards": {"once_per": None},
}


def _order(n: int, who: str, at: Any) -> dict[str, Any]:
    return order_event(f"o-{who}-{n}", who, "100.00", at=at.strftime("%Y-%m-%dT%H:%M:%SZ"))


def test_first_order_thanks_is_sent_once_and_recorded(aws: Env) -> None:
    post(aws, member(aws, "ann"), at=NOON)
    post(aws, _order(1, "ann", NOON), at=NOON)
    post(aws, _order(1, "ann", NOON), at=NOON + timedelta(minutes=1))  # a storefront resend
    deliver(aws, NOON + timedelta(minutes=5))
    aws.pump().drain()  # the stream delivered again
    deliver(aws, NOON + timedelta(minutes=10))
    assert sent(aws, "first-order-thanks") == ["ann@example.com"]
    entries = ledger(aws, "ann", "first-order-thanks")
    assert [(e["outcome"], e.get("reason"), int(e["version"])) for e in entries] == [("sent", None, 1)]
    # The second order no longer matches orders_count = 1.
    post(aws, _order(2, "ann", NOON + timedelta(hours=1)), at=NOON + timedelta(hours=1))
    deliver(aws, NOON + timedelta(hours=1, minutes=5))
    assert outcomes(aws, "ann", "first-order-thanks") == [("sent", None), ("skipped", "condition")]
    assert sent(aws, "first-order-thanks") == ["ann@example.com"]


def test_consent_and_address_guards(aws: Env) -> None:
    post(
        aws,
        member(aws, "bob", consent=False),
        member(aws, "cid", email=None),
        at=NOON,
    )
    # cid's registration carries an address: remove it to have a member without one.
    aws.table("LOYALTY_TABLE").update_item(
        Key={"pk": "T#demo#M#cid", "sk": "#PROFILE"}, UpdateExpression="REMOVE email"
    )
    post(aws, _order(1, "bob", NOON), _order(1, "cid", NOON), at=NOON)
    deliver(aws, NOON + timedelta(minutes=5))
    assert outcomes(aws, "bob", "first-order-thanks") == [("skipped", "consent")]
    assert outcomes(aws, "cid", "first-order-thanks") == [("skipped", "no_address")]
    assert sent(aws) == []


def test_a_transactional_email_needs_no_granted_consent_but_a_marketing_one_does(aws: Env) -> None:
    put_rule(aws, "promo", PROMO, at=NOON)
    event = member(aws, "dee")
    del event["data"]["consent"]
    post(aws, event, at=NOON)
    post(aws, _order(1, "dee", NOON), at=NOON)
    deliver(aws, NOON + timedelta(minutes=5))
    assert sent(aws, "first-order-thanks") == ["dee@example.com"]
    assert outcomes(aws, "dee", "promo") == [("skipped", "consent")]


def test_an_erased_member_receives_nothing(aws: Env) -> None:
    post(aws, member(aws, "eve"), at=NOON)
    post(aws, _order(1, "eve", NOON), at=NOON)
    assert aws.call("DELETE", "/v1/members/eve", at=NOON + timedelta(minutes=1)).status == 204
    deliver(aws, NOON + timedelta(minutes=5))
    assert outcomes(aws, "eve", "first-order-thanks") == [("skipped", "erased")]
    assert sent(aws) == []


def test_the_frequency_cap_counts_marketing_emails_over_seven_local_days(aws: Env) -> None:
    put_rule(aws, "promo", PROMO, at=NOON)
    post(aws, member(aws, "fay"), at=NOON)
    for day in range(4):
        at = NOON + timedelta(days=day)
        post(aws, _order(day, "fay", at), at=at)
        deliver(aws, at + timedelta(minutes=5))
    # 10, 11 March sent; 12 and 13 March over the cap of 2 in 7 days; transactional unaffected.
    assert outcomes(aws, "fay", "promo") == [
        ("sent", None),
        ("sent", None),
        ("skipped", "frequency_cap"),
        ("skipped", "frequency_cap"),
    ]
    assert sent(aws, "first-order-thanks") == ["fay@example.com"]
    # 17 March: 10 March has left the window (11–17 March holds one).
    at = utc(2026, 3, 17, 11, 0)
    post(aws, _order(9, "fay", at), at=at)
    deliver(aws, at + timedelta(minutes=5))
    assert outcomes(aws, "fay", "promo")[-1] == ("sent", None)


def test_once_per_day_holds_under_a_burst(aws: Env) -> None:
    put_rule(aws, "promo", {**PROMO, "guards": {"once_per": "day"}}, at=NOON)
    post(aws, member(aws, "gus"), at=NOON)
    post(aws, *[_order(n, "gus", NOON + timedelta(seconds=n)) for n in range(5)], at=NOON)
    deliver(aws, NOON + timedelta(minutes=5))
    assert sent(aws, "promo") == ["gus@example.com"]
    assert sorted(outcomes(aws, "gus", "promo")) == [("sent", None)] + [("skipped", "once")] * 4


def test_quiet_hours_defer_and_dst_moves_the_end(aws: Env) -> None:
    # 24 October 2026, 22:30 in Berlin (CEST); the night ends at 09:00 CET = 08:00 UTC.
    evening = utc(2026, 10, 24, 20, 30)
    post(aws, member(aws, "hal", time_zone="Europe/Berlin"), at=evening)
    post(aws, _order(1, "hal", evening), at=evening)
    deliver(aws, evening + timedelta(minutes=5))
    assert outcomes(aws, "hal", "first-order-thanks") == [("deferred", "quiet_hours")]
    deliver(aws, utc(2026, 10, 25, 7, 55))  # 08:55 CET: still quiet
    assert sent(aws) == []
    deliver(aws, utc(2026, 10, 25, 8, 0))
    assert sent(aws, "first-order-thanks") == ["hal@example.com"]
    assert outcomes(aws, "hal", "first-order-thanks") == [("deferred", "quiet_hours"), ("sent", None)]


def test_quiet_hours_follow_the_member_zone(aws: Env) -> None:
    # 12:00 in Berlin is 19:00 in Shanghai (not quiet), 03:00 in Los Angeles (quiet).
    post(aws, member(aws, "ivy", time_zone="America/Los_Angeles"), at=NOON)
    post(aws, _order(1, "ivy", NOON), at=NOON)
    deliver(aws, NOON + timedelta(minutes=5))
    assert outcomes(aws, "ivy", "first-order-thanks") == [("deferred", "quiet_hours")]
    deliver(aws, utc(2026, 3, 10, 16, 0))  # 09:00 PDT
    assert sent(aws, "first-order-thanks") == ["ivy@example.com"]


def test_consent_withdrawn_while_deferred_stops_the_send(aws: Env) -> None:
    evening = utc(2026, 3, 10, 21, 0)  # 22:00 in Berlin
    post(aws, member(aws, "jon"), at=evening)
    post(aws, _order(1, "jon", evening), at=evening)
    deliver(aws, evening + timedelta(minutes=5))
    withdrawal = {"consent": {"email": {"granted": False, "at": "2026-03-10T23:00:00Z", "source": "web"}}}
    assert aws.call("PUT", "/v1/members/jon", withdrawal, at=utc(2026, 3, 10, 23, 0)).status == 200
    deliver(aws, utc(2026, 3, 11, 8, 0))
    assert outcomes(aws, "jon", "first-order-thanks") == [("deferred", "quiet_hours"), ("skipped", "consent")]
    assert sent(aws) == []


def test_consent_is_read_again_just_before_the_send(aws: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    from care_rules import delivery, engine

    post(aws, member(aws, "kim"), at=NOON)
    post(aws, _order(1, "kim", NOON), at=NOON)
    real = engine.quiet_until

    def withdraw_meanwhile(*args: Any) -> Any:
        # The rule matched and passed its first consent check; now the member withdraws.
        aws.table("LOYALTY_TABLE").update_item(
            Key={"pk": "T#demo#M#kim", "sk": "#PROFILE"},
            UpdateExpression="SET consent_email = :c",
            ExpressionAttributeValues={":c": {"granted": False, "at": "2026-03-10T11:04:59Z"}},
        )
        return real(*args)

    monkeypatch.setattr(delivery.engine, "quiet_until", withdraw_meanwhile)
    deliver(aws, NOON + timedelta(minutes=5))
    assert outcomes(aws, "kim", "first-order-thanks") == [("skipped", "consent")]
    assert sent(aws) == []


def test_a_deferred_send_keeps_the_version_that_matched(aws: Env) -> None:
    evening = utc(2026, 3, 10, 21, 0)
    put_rule(aws, "promo", PROMO, at=evening)
    post(aws, member(aws, "lea"), at=evening)
    post(aws, _order(1, "lea", evening), at=evening)
    deliver(aws, evening + timedelta(minutes=5))
    edited = {**PROMO, "actions": [{"type": "email", "template": "nps-after-order", "marketing": True}]}
    assert put_rule(aws, "promo", edited, at=evening + timedelta(minutes=10))["version"] == 2
    deliver(aws, utc(2026, 3, 11, 8, 0))
    versions = [(e["outcome"], int(e["version"])) for e in ledger(aws, "lea", "promo")]
    assert versions == [("deferred", 1), ("sent", 1)]
    raw = [m.raw_data for m in aws.sent_emails() if "X-Loyalty-Rule: promo" in m.raw_data]
    assert len(raw) == 1


def test_a_rule_disabled_while_deferred_sends_nothing(aws: Env) -> None:
    evening = utc(2026, 3, 10, 21, 0)
    post(aws, member(aws, "max"), at=evening)
    post(aws, _order(1, "max", evening), at=evening)
    deliver(aws, evening + timedelta(minutes=5))
    disable_rule(aws, "first-order-thanks", at=evening + timedelta(minutes=10))
    deliver(aws, utc(2026, 3, 11, 8, 0))
    assert outcomes(aws, "max", "first-order-thanks") == [
        ("deferred", "quiet_hours"),
        ("skipped", "rule_disabled"),
    ]
    assert sent(aws) == []


def test_marketing_email_carries_one_click_unsubscribe_that_stops_the_next(aws: Env) -> None:
    from email import message_from_string

    put_rule(aws, "promo", PROMO, at=NOON)
    post(aws, member(aws, "ned"), at=NOON)
    post(aws, _order(1, "ned", NOON), at=NOON)
    deliver(aws, NOON + timedelta(minutes=5))
    promo = [m.raw_data for m in aws.sent_emails() if "X-Loyalty-Rule: promo" in m.raw_data]
    thanks = [m.raw_data for m in aws.sent_emails() if "X-Loyalty-Rule: first-order-thanks" in m.raw_data]
    assert len(promo) == 1 and len(thanks) == 1
    headers = message_from_string(promo[0])
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message_from_string(thanks[0])["List-Unsubscribe"] is None  # transactional: no list headers
    link = "".join(str(headers["List-Unsubscribe"]).split()).strip("<>")
    assert link.startswith("http") and "/v1/unsubscribe/" in link
    path = link.split("://", 1)[1].split("/", 1)[1]
    answer = aws.call(
        "POST",
        f"/{path}",
        key=None,
        headers={"content-type": "application/x-www-form-urlencoded"},
        raw=b"List-Unsubscribe=One-Click",
        at=NOON + timedelta(minutes=6),
    )
    assert answer.status == 200, answer.body
    later = NOON + timedelta(days=1)
    post(aws, _order(2, "ned", later), at=later)
    deliver(aws, later + timedelta(minutes=5))
    assert outcomes(aws, "ned", "promo") == [("sent", None), ("skipped", "consent")]
