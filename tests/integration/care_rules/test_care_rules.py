"""Birthday greetings from the daily schedule: consent, once per year, catch-up, failures."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.conftest import Env, registration

pytestmark = pytest.mark.integration

NINE_BERLIN = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)  # 09:00 in Europe/Berlin (CET)


def _register(aws: Env, *events: dict) -> None:
    assert aws.call("POST", "/v1/events", {"events": list(events)}).status == 200
    aws.pump().drain()


def _greetings(aws: Env) -> list[str]:
    return [m.destinations[0] for m in aws.sent_emails() if "Happy birthday" in m.raw_data]


def test_greets_members_whose_birthday_is_today_once_per_year(aws: Env) -> None:
    _register(
        aws,
        registration("r-1", "ann", birthday="1990-03-10"),
        registration("r-2", "bob", birthday="--03-10"),
        registration("r-3", "cid", birthday="1985-03-11"),
        registration("r-4", "dan", birthday="1985-03-10", consent=False),
    )
    result = aws.run_job("CareRules", "birthdays", NINE_BERLIN)
    assert result["sent"] == 2 and result["skipped"] == 1
    assert sorted(_greetings(aws)) == ["ann@example.com", "bob@example.com"]
    # A second run the same day, and a rerun after the marker is lost, send nothing more.
    aws.run_job("CareRules", "birthdays", NINE_BERLIN.replace(minute=30))
    aws.table("LOYALTY_TABLE").delete_item(Key={"pk": "T#demo#JOBS", "sk": "birthdays"})
    aws.run_job("CareRules", "birthdays", NINE_BERLIN)
    assert len(_greetings(aws)) == 2
    # Next year, ann is greeted again.
    aws.run_job("CareRules", "birthdays", NINE_BERLIN.replace(year=2027))
    assert _greetings(aws).count("ann@example.com") == 2


def test_missed_days_are_caught_up(aws: Env) -> None:
    _register(
        aws, registration("r-1", "ann", birthday="1990-03-11"), registration("r-2", "bob", birthday="--03-13")
    )
    aws.run_job("CareRules", "birthdays", NINE_BERLIN)  # first run: 10 March
    result = aws.run_job("CareRules", "birthdays", datetime(2026, 3, 14, 8, 0, tzinfo=UTC))
    assert [d for d in result["days"] if d.startswith("demo/")] == [
        "demo/2026-03-11",
        "demo/2026-03-12",
        "demo/2026-03-13",
        "demo/2026-03-14",
    ]
    assert sorted(_greetings(aws)) == ["ann@example.com", "bob@example.com"]


def test_leap_day_birthdays_are_greeted_on_28_february(aws: Env) -> None:
    _register(aws, registration("r-1", "leo", birthday="2000-02-29", at="2026-02-01T09:00:00Z"))
    aws.run_job("CareRules", "birthdays", datetime(2026, 2, 28, 8, 0, tzinfo=UTC))
    assert _greetings(aws) == ["leo@example.com"]


def test_a_failed_send_is_retried_by_the_next_run_and_fails_loudly(
    aws: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    from loyalty import emailer, jobs

    _register(aws, registration("r-1", "ann", birthday="1990-03-10"))
    real_send = emailer.send

    def broken(sender: str, email: emailer.Email) -> str:
        raise ConnectionError("SES unavailable")

    monkeypatch.setattr(emailer, "send", broken)
    with pytest.raises(jobs.JobFailed):
        aws.run_job("CareRules", "birthdays", NINE_BERLIN)
    assert _greetings(aws) == []
    monkeypatch.setattr(emailer, "send", real_send)
    result = aws.run_job("CareRules", "birthdays", NINE_BERLIN.replace(hour=10))
    assert result["sent"] == 1
    assert _greetings(aws) == ["ann@example.com"]


def test_profile_changes_follow_event_time(aws: Env) -> None:
    newer = registration("r-2", "ann", birthday="1990-05-05", at="2026-03-05T09:00:00Z")
    older = registration("r-1", "ann", birthday="1990-03-10", at="2026-03-01T09:00:00Z")
    _register(aws, newer, older)
    assert aws.call("GET", "/v1/members/ann").json()["profile"]["birthday"] == "1990-05-05"
    aws.run_job("CareRules", "birthdays", NINE_BERLIN)
    assert _greetings(aws) == []


def _failure(aws: Env, item: str) -> dict:
    key = {"pk": "T#demo#JOBS", "sk": f"FAILED#birthdays#{item}"}
    return aws.table("LOYALTY_TABLE").get_item(Key=key).get("Item") or {}


def _marker(aws: Env) -> str:
    return aws.table("LOYALTY_TABLE").get_item(Key={"pk": "T#demo#JOBS", "sk": "birthdays"})["Item"][
        "done_through"
    ]


def _run(aws: Env, at: datetime) -> BaseException | None:
    """A run of the job: the exception it failed with, or None."""
    try:
        aws.run_job("CareRules", "birthdays", at)
    except Exception as err:  # noqa: BLE001 - the test looks at it
        return err
    return None


def test_a_rejected_address_stops_neither_later_members_nor_later_days_and_is_parked(aws: Env) -> None:
    from loyalty import jobs
    from tests.integration.ses_faults import rejecting

    _register(
        aws,
        registration("r-1", "ann", birthday="1990-03-11"),
        registration("r-2", "bob", birthday="1991-03-11"),
        registration("r-3", "cid", birthday="1992-03-11"),
        registration("r-4", "dan", birthday="1993-03-13"),
    )
    aws.run_job("CareRules", "birthdays", NINE_BERLIN)  # first run: 10 March
    day = datetime(2026, 3, 14, 8, 0, tzinfo=UTC)
    with rejecting(lambda to, raw: "bob@example.com" in to) as ses:
        failed = _run(aws, day)  # catches up 11 to 14 March
        # bob's rejection stops neither cid (same day, after him) nor dan (two days later)
        assert sorted(_greetings(aws)) == ["ann@example.com", "cid@example.com", "dan@example.com"]
        assert isinstance(failed, jobs.JobFailed) and failed.result["failed"] == 1
        failure = _failure(aws, "2026-03-11#bob")
        assert (failure["state"], failure["attempts"], failure["error_code"]) == (
            "failed",
            1,
            "MessageRejected",
        )
        assert failure["error_class"] == "MessageRejected" and "<address>" in failure["error_message"]
        assert all(personal not in str(failure) for personal in ("@", "Bob", "1991-03-11"))
        assert _marker(aws) == "2026-03-10"  # 11 March stays due for bob
        # Lambda's retry of the same run counts once.
        assert isinstance(_run(aws, day), jobs.JobFailed)
        assert _failure(aws, "2026-03-11#bob")["attempts"] == 1
        # The next runs retry bob alone; the fifth failed run parks him and succeeds.
        for later in (15, 16, 17):
            assert isinstance(_run(aws, day.replace(day=later)), jobs.JobFailed)
        result = aws.run_job("CareRules", "birthdays", day.replace(day=18))
        assert (result["failed"], result["parked"]) == (1, 1)
        failure = _failure(aws, "2026-03-11#bob")
        assert (failure["state"], failure["attempts"]) == ("parked", 5)
        assert _marker(aws) == "2026-03-18"  # the day moved on once its only failure was parked
        result = aws.run_job("CareRules", "birthdays", day.replace(day=19))
        assert (result["failed"], result["days"]) == (0, ["demo/2026-03-19", "rival/2026-03-19"])
    assert len(ses.rejected) == 6  # five runs and one retry of a run; nobody else is retried
    assert sorted(_greetings(aws)) == ["ann@example.com", "cid@example.com", "dan@example.com"]


def test_a_run_short_of_time_defers_its_day_and_the_next_run_catches_up(aws: Env) -> None:
    from care_rules.schedule import run_birthdays
    from loyalty.jobs import RESERVE_MS, ScheduledInvocation
    from loyalty.timeutil import iso

    class Short:
        """A Lambda context with less than the reserve left."""

        def get_remaining_time_in_millis(self) -> int:
            return RESERVE_MS - 1

    _register(aws, registration("r-1", "ann", birthday="1990-03-11"))
    aws.run_job("CareRules", "birthdays", NINE_BERLIN)  # first run: 10 March
    at = NINE_BERLIN.replace(day=11)
    short = run_birthdays(ScheduledInvocation(job="birthdays", scheduled_time=iso(at)), Short())
    assert (short.deferred, short.sent, short.days) == (True, 0, [])
    assert _marker(aws) == "2026-03-10" and _greetings(aws) == []  # 11 March stays due
    result = aws.run_job("CareRules", "birthdays", at)
    assert (result["deferred"], result["sent"], _marker(aws)) == (False, 1, "2026-03-11")
    assert _greetings(aws) == ["ann@example.com"]
