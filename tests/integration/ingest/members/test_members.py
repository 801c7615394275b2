"""Members API: the 360 view, partial profile updates, consent, erasure."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import OTHER_API_KEY, Env, order_event, registration

pytestmark = pytest.mark.integration


def _orders(aws: Env, member: str, *stamps: str, total: str = "50.00") -> None:
    events = [order_event(f"{member}-{i}", member, total, at=t) for i, t in enumerate(stamps)]
    assert aws.call("POST", "/v1/events", {"events": events}).status == 200
    aws.pump().drain()


def test_put_creates_and_partially_updates_a_profile(aws: Env) -> None:
    first = aws.call(
        "PUT",
        "/v1/members/m-1",
        {
            "email": "ann@example.com",
            "name": "Ann",
            "phone": "+4915112345678",
            "owner": "rep-7",
            "consent": {
                "email": {"granted": True, "at": "2026-03-01T10:00:00Z", "source": "web"},
                "sms": {"granted": True, "at": "2026-03-01T10:00:00Z", "source": "store"},
            },
        },
    )
    assert first.status == 200, first.json()
    later = aws.now + timedelta(minutes=5)
    withdrawn = aws.call(
        "PUT",
        "/v1/members/m-1",
        {
            "locale": "de-DE",
            "consent": {"email": {"granted": False, "at": "2026-03-10T12:04:00Z", "source": "web"}},
        },
        at=later,
    ).json()
    profile = withdrawn["profile"]
    assert profile["name"] == "Ann" and profile["phone"] == "+4915112345678" and profile["locale"] == "de-DE"
    assert profile["owner"] == "rep-7"
    assert profile["consent"]["email"] == {"granted": False, "at": "2026-03-10T12:04:00Z", "source": "web"}
    assert profile["consent"]["sms"]["granted"] is True  # the other channel is untouched


def test_late_event_fills_only_fields_it_is_newest_for(aws: Env) -> None:
    aws.call("PUT", "/v1/members/m-1", {"name": "Ann Newer"}, at=aws.now)
    old = registration("r-old", "m-1", at="2026-03-01T09:00:00Z", email="old@example.com")
    aws.call("POST", "/v1/events", old)
    aws.pump().drain()
    profile = aws.call("GET", "/v1/members/m-1").json()["profile"]
    assert profile["name"] == "Ann Newer"  # the request at 12:00 beats the event at 09:00
    assert profile["email"] == "old@example.com"  # which still fills what it is newest for
    assert profile["registered_at"] == "2026-03-01T09:00:00.000Z"


def test_lifecycle_rfm_and_tags_follow_the_clock_without_new_events(aws: Env) -> None:
    _orders(aws, "vip", "2026-03-01T10:00:00Z", "2026-03-09T10:00:00Z", total="600.00")
    now = aws.call("GET", "/v1/members/vip").json()
    assert now["lifecycle_stage"] == "active"
    assert now["tags"] == ["vip", "big-spender"]
    assert now["rfm"] == {"recency": 5, "frequency": 2, "monetary": 5, "segment": "promising"}
    assert now["stats"]["orders_last_30_days"] == 2
    in_a_month = aws.call("GET", "/v1/members/vip", at=aws.now + timedelta(days=25)).json()
    assert in_a_month["tags"] == ["big-spender"]  # the VIP window passed: no event needed
    assert in_a_month["stats"]["orders_last_30_days"] == 1  # 1 March fell out of the window
    assert (
        aws.call("GET", "/v1/members/vip", at=aws.now + timedelta(days=100)).json()["lifecycle_stage"]
        == "at-risk"
    )
    late = aws.call("GET", "/v1/members/vip", at=aws.now + timedelta(days=300)).json()
    assert late["lifecycle_stage"] == "lapsed" and late["rfm"]["recency"] == 1


def test_first_order_is_new_and_a_comeback_is_reactivated(aws: Env) -> None:
    _orders(aws, "newbie", "2026-03-09T10:00:00Z")
    assert aws.call("GET", "/v1/members/newbie").json()["lifecycle_stage"] == "new"
    _orders(aws, "back", "2025-06-01T10:00:00Z", "2026-03-09T10:00:00Z")
    assert aws.call("GET", "/v1/members/back").json()["lifecycle_stage"] == "reactivated"


def test_open_tickets_are_counted(aws: Env) -> None:
    aws.call("PUT", "/v1/members/m-1", {"name": "Ann"})
    for subject in ("Late parcel", "Wrong size"):
        assert aws.call("POST", "/v1/tickets", {"subject": subject, "member_id": "m-1"}).status == 201
    assert aws.call("GET", "/v1/members/m-1").json()["open_tickets"] == 2


def test_erasure_removes_personal_data_and_keeps_the_ledger(aws: Env) -> None:
    aws.call(
        "POST",
        "/v1/events",
        {
            "events": [
                registration("r-1", "m-1", birthday="1990-03-10", email="ann@example.com"),
                order_event("o-1", "m-1", "80.00"),
            ]
        },
    )
    aws.pump().drain()
    assert aws.call("DELETE", "/v1/members/m-1", key=OTHER_API_KEY).status == 404  # not theirs
    assert aws.call("DELETE", "/v1/members/m-1").status == 204
    assert aws.call("DELETE", "/v1/members/m-1").status == 204  # idempotent
    member = aws.call("GET", "/v1/members/m-1").json()
    assert member["erased"] is True
    assert member["profile"] == {
        "email": None,
        "phone": None,
        "name": None,
        "birthday": None,
        "time_zone": None,
        "locale": None,
        "owner": None,
        "consent": {},
        "registered_at": "2026-03-01T09:00:00.000Z",
    }
    # the anonymised ledger stays: bonuses (sign-up, first order, birthday month) and the pending order
    assert (member["points"]["available"], member["points"]["pending"]) == (550, 80)
    assert member["stats"]["orders_count"] == 1
    stored = aws.table("EVENTS_TABLE").get_item(Key={"pk": "T#demo#E#r-1", "sk": "EVENT"})["Item"]
    assert stored["data"] == {} and stored["erased"] is True
    timeline = aws.call("GET", "/v1/members/m-1/events").json()["events"]
    assert "ann@example.com" not in str(timeline)
    # Later events and requests cannot bring personal data back; no greeting goes out.
    aws.call(
        "POST", "/v1/events", registration("r-2", "m-1", email="again@example.com", at="2026-03-10T11:00:00Z")
    )
    aws.pump().drain()
    assert aws.call("GET", "/v1/members/m-1").json()["profile"]["email"] is None
    assert aws.call("PUT", "/v1/members/m-1", {"name": "Ann"}).json()["error"]["code"] == "member_erased"
    aws.run_job("CareRules", "care_dates", aws.now.replace(hour=0))
    aws.run_job("CareRules", "care_deliver", aws.now.replace(hour=8))
    assert not [m for m in aws.sent_emails() if "X-Loyalty-Rule: birthday-greeting" in m.raw_data]


def test_unknown_member_and_bad_profile_input(aws: Env) -> None:
    assert aws.call("DELETE", "/v1/members/nobody").status == 404
    assert aws.call("PUT", "/v1/members/m-1", {"email": "not-an-address"}).json()["error"]["field"] == "email"
    assert aws.call("PUT", "/v1/members/m-1", {"birthday": "1990-13-01"}).status == 400
    assert aws.call("PUT", "/v1/members/m-1", {"surprise": True}).status == 400
    assert aws.call("GET", "/v1/members/m-1").status == 404  # nothing was written


def test_logs_carry_no_personal_data(aws: Env) -> None:
    import io
    import logging

    from ingest.events import api as handler
    from ingest.members import api as members
    from ingest.members import stream as projector

    stream = io.StringIO()
    capture = logging.StreamHandler(stream)
    capture.setFormatter(members.logger.registered_formatter)  # the JSON lines Lambda would ship
    logging.getLogger("ingest").addHandler(capture)
    for module in (handler, members, projector):
        module.logger.setLevel("DEBUG")
    try:
        aws.call(
            "POST", "/v1/events", registration("r-1", "m-1", birthday="1990-03-10", email="ann@example.com")
        )
        aws.pump().drain()
        aws.call("PUT", "/v1/members/m-1", {"phone": "+4915112345678"})
        aws.call("GET", "/v1/members/m-1")
        aws.call("DELETE", "/v1/members/m-1")
    finally:
        for module in (handler, members, projector):
            module.logger.setLevel("WARNING")
        logging.getLogger("ingest").removeHandler(capture)
    text = stream.getvalue()
    assert '"message":"member erased"' in text  # structured logging happened
    for secret in ("ann@example.com", "+4915112345678", "1990-03-10"):
        assert secret not in text


def test_an_erasure_between_a_profile_read_and_its_write_is_never_undone(
    aws: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest.members import projection
    from ingest.members import repository as profile_store
    from ingest.members.repository import ProfileStore

    aws.call("POST", "/v1/events", registration("r-1", "m-1", email="ann@example.com"))
    aws.pump().drain()
    store = ProfileStore(aws.env["LOYALTY_TABLE"])
    merge = projection.merge_profile
    erased: list[bool] = []

    def erase_in_between(current: dict, changes: dict, at: str) -> dict | None:
        if not erased:  # read done, write not yet: the member is erased right now
            erased.append(True)
            store.erase("demo", "m-1", "2026-03-10T11:59:00.000Z")
        return merge(current, changes, at)

    monkeypatch.setattr(profile_store.projection, "merge_profile", erase_in_between)
    stored = store.apply_profile(
        "demo", "m-1", {"email": "back@example.com", "name": "Ann"}, at="2026-03-10T12:00:00.000Z"
    )
    assert stored is None and erased
    profile = aws.table("LOYALTY_TABLE").get_item(Key={"pk": "T#demo#M#m-1", "sk": "#PROFILE"})["Item"]
    assert profile["erased_at"] == "2026-03-10T11:59:00.000Z"
    assert "email" not in profile and "name" not in profile
