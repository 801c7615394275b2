"""Date triggers: birthday greetings from the daily expansion and the delivery job, in
the member's local time (DST included), 29 February, catch-up, once a year, failures."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import Env, registration
from tests.integration.care_rules.care_helpers import dates, deliver, outcomes, post, put_rule, sent, utc

pytestmark = pytest.mark.integration

NINE_BERLIN = utc(2026, 3, 10, 8, 0)  # 09:00 in Europe/Berlin (CET)
MIDNIGHT = utc(2026, 3, 9, 23, 20)  # the expansion's run, 00:20 on 10 March in Berlin
RULE = "birthday-greeting"


def _register(aws: Env, *events: dict) -> None:
    post(aws, *events, at=utc(2026, 3, 1, 9, 0))


def test_greets_members_whose_birthday_is_today_once_per_year(aws: Env) -> None:
    _register(
        aws,
        registration("r-1", "ann", birthday="1990-03-10"),
        registration("r-2", "bob", birthday="--03-10"),
        registration("r-3", "cid", birthday="1985-03-11"),
        registration("r-4", "dan", birthday="1985-03-10", consent=False),
    )
    result = dates(aws, MIDNIGHT)
    assert result["firings"] == 3 + 1  # ann, bob, dan today; cid tomorrow (expanded a day ahead)
    deliver(aws, NINE_BERLIN - timedelta(minutes=5))
    assert sent(aws, RULE) == []  # due at 09:00 local
    deliver(aws, NINE_BERLIN)
    assert sorted(sent(aws, RULE)) == ["ann@example.com", "bob@example.com"]
    assert outcomes(aws, "dan", RULE) == [("skipped", "consent")]
    # Repeated runs, and a rerun after the marker is lost, send nothing more.
    dates(aws, NINE_BERLIN + timedelta(minutes=30))
    aws.table("LOYALTY_TABLE").delete_item(Key={"pk": "T#demo#JOBS", "sk": "care_dates"})
    dates(aws, NINE_BERLIN + timedelta(minutes=35))
    deliver(aws, NINE_BERLIN + timedelta(minutes=40))
    assert len(sent(aws, RULE)) == 2
    # Tomorrow cid; next year, ann again.
    deliver(aws, NINE_BERLIN + timedelta(days=1))
    assert sent(aws, RULE)[-1] == "cid@example.com"
    dates(aws, utc(2027, 3, 9, 23, 20))
    deliver(aws, utc(2027, 3, 10, 8, 0))
    assert sent(aws, RULE).count("ann@example.com") == 2


def test_missed_days_are_caught_up_but_not_sent_days_late(aws: Env) -> None:
    _register(
        aws, registration("r-1", "ann", birthday="1990-03-11"), registration("r-2", "bob", birthday="--03-13")
    )
    dates(aws, MIDNIGHT)  # first run: 10 and 11 March
    result = dates(aws, utc(2026, 3, 13, 7, 0))
    days = [d for d in result["days"] if d.startswith("demo/")]
    assert days == ["demo/2026-03-12", "demo/2026-03-13", "demo/2026-03-14"]
    deliver(aws, utc(2026, 3, 13, 8, 0))
    # ann's greeting was due on 11 March, two days ago: more than a day late, it is not sent.
    assert sent(aws, RULE) == ["bob@example.com"]
    assert outcomes(aws, "ann", RULE) == [("skipped", "late")]


def test_a_greeting_more_than_a_day_late_is_dropped(aws: Env) -> None:
    _register(aws, registration("r-1", "ann", birthday="1990-03-10"))
    result = dates(aws, utc(2026, 3, 11, 9, 0))  # first run on 11 March: 10 March is not due
    assert result["firings"] == 0
    assert sent(aws, RULE) == []


def test_leap_day_birthdays_are_greeted_on_28_february_or_1_march(aws: Env) -> None:
    _register(aws, registration("r-1", "leo", birthday="2000-02-29"))
    dates(aws, utc(2026, 2, 27, 23, 20))
    deliver(aws, utc(2026, 2, 28, 8, 0))
    assert sent(aws, RULE) == ["leo@example.com"]
    rule = {
        "name": "Leap day on 1 March",
        "trigger": {"type": "date", "field": "birthday", "at": "10:00", "leap_day": "mar1"},
        "actions": [{"type": "email", "template": "birthday-greeting", "marketing": True}],
        "guards": {"once_per": "year"},
    }
    put_rule(aws, "leap", rule, at=utc(2026, 2, 28, 9, 0))
    dates(aws, utc(2026, 2, 28, 23, 20))
    deliver(aws, utc(2026, 3, 1, 9, 0))
    assert sent(aws, "leap") == ["leo@example.com"]


def test_a_birthday_on_the_dst_change_is_greeted_at_nine_local(aws: Env) -> None:
    event = registration("r-1", "ann", birthday="1990-03-29")
    event["data"]["time_zone"] = "Europe/Berlin"
    _register(aws, event)
    dates(aws, utc(2026, 3, 28, 23, 20))
    deliver(aws, utc(2026, 3, 29, 6, 55))  # 08:55 CEST
    assert sent(aws, RULE) == []
    deliver(aws, utc(2026, 3, 29, 7, 0))  # 09:00 CEST (UTC+2 since 02:00)
    assert sent(aws, RULE) == ["ann@example.com"]


def test_a_member_far_east_is_greeted_on_their_own_day(aws: Env) -> None:
    event = registration("r-1", "kai", birthday="1990-03-10")
    event["data"]["time_zone"] = "Pacific/Kiritimati"  # UTC+14
    _register(aws, event)
    dates(aws, utc(2026, 3, 8, 23, 20))  # expands 9 and 10 March (Berlin)
    deliver(aws, utc(2026, 3, 9, 19, 0))  # 09:00 on 10 March in Kiritimati
    assert sent(aws, RULE) == ["kai@example.com"]


def test_a_failed_send_is_retried_by_the_next_run_and_fails_loudly(
    aws: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    from loyalty import emailer, jobs

    _register(aws, registration("r-1", "ann", birthday="1990-03-10"))
    dates(aws, MIDNIGHT)
    real_send = emailer.send

    def broken(sender: str, email: emailer.Email) -> str:
        raise ConnectionError("SES unavailable")

    monkeypatch.setattr(emailer, "send", broken)
    with pytest.raises(jobs.JobFailed):
        deliver(aws, NINE_BERLIN)
    monkeypatch.setattr(emailer, "send", real_send)
    deliver(aws, NINE_BERLIN + timedelta(minutes=5))
    assert sent(aws, RULE) == ["ann@example.com"]
    assert outcomes(aws, "ann", RULE) == [("sent", None)]


def test_registration_anniversaries_from_their_index(aws: Env) -> None:
    rule = {
        "name": "A year with us",
        "trigger": {"type": "date", "field": "registered_at", "at": "10:00"},
        "actions": [{"type": "email", "template": "tier-changed", "marketing": False}],
        "guards": {"once_per": "year"},
    }
    post(aws, registration("r-1", "old", at="2025-03-10T09:00:00Z"), at=utc(2025, 3, 10, 9, 0))
    post(aws, registration("r-2", "new", at="2026-03-10T07:00:00Z"), at=utc(2026, 3, 10, 7, 0))
    put_rule(aws, "anniversary", rule, at=utc(2026, 3, 10, 7, 5))
    assert dates(aws, utc(2026, 3, 10, 7, 10))["firings"] == 1  # not on the registration day itself
    deliver(aws, utc(2026, 3, 10, 9, 0))  # 10:00 in Berlin
    assert sent(aws, "anniversary") == ["old@example.com"]
