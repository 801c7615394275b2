"""The care engine under the faults AWS produces and moto does not (``tests/faults.py``:
TransactionConflict, throttling, timeouts, replies lost after a write was applied; SES
rejections and timeouts): every due firing still ends recorded once, every email is
sent once, the send ledger holds no entry twice, a firing that keeps failing is retried
and parked after ``jobs.MAX_ATTEMPTS`` runs while the others are delivered, and the
stream consumer loses and duplicates no firing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError

from care_rules import layout
from loyalty import aws as loyalty_aws
from loyalty import jobs, keys
from tests.conftest import API_KEY, Env, order_event
from tests.faults import Faults
from tests.integration.care_rules.care_helpers import ADMIN_KEY_PREFIX, ledger, member, post, put_rule, utc
from tests.integration.ses_faults import rejecting

pytestmark = pytest.mark.integration

ADMIN_KEY = f"{ADMIN_KEY_PREFIX}{API_KEY}"
NOON = utc(2026, 3, 10, 12, 0)  # 13:00 in Berlin, 20:00 in Shanghai: outside quiet hours
MEMBERS = {"ann": "Europe/Berlin", "bo": "Asia/Shanghai", "cy": "Europe/Berlin"}
RULES = {"promo": ("cart-abandoned", True), "thanks": ("first-order-thanks", False)}
ORDERS_EACH = 2


def _rule(template: str, marketing: bool) -> dict[str, Any]:
    return {
        "name": f"Every order ({template})",
        "trigger": {"type": "event", "event_type": "order.placed"},
        "actions": [{"type": "email", "template": template, "marketing": marketing}],
        "guards": {"once_per": None},
    }


def _setup(aws: Env) -> None:
    """Only the two rules of this module (the defaults disabled) and the members."""
    for stored in aws.call("GET", "/v1/admin/care-rules", key=ADMIN_KEY).json()["rules"]:
        assert aws.call("DELETE", f"/v1/admin/care-rules/{stored['rule_id']}", key=ADMIN_KEY).status == 200
    for rule_id, (template, marketing) in RULES.items():
        put_rule(aws, rule_id, _rule(template, marketing), at=NOON)
    post(aws, *[member(aws, m, time_zone=z) for m, z in MEMBERS.items()], at=NOON)


def _orders() -> list[dict[str, Any]]:
    return [
        order_event(
            f"o-{who}-{n}", who, "100.00", at=(NOON + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
        )
        for who in MEMBERS
        for n in range(ORDERS_EACH)
    ]


def _place_orders(aws: Env) -> None:
    post(aws, *_orders(), at=NOON + timedelta(seconds=ORDERS_EACH))


def _deliver(aws: Env, at: Any) -> bool:
    """One scheduled run; False when it failed (JobFailed: an item is to be retried)."""
    aws.now = max(aws.now, at)
    try:
        aws.run_job("CareRules", "care_deliver", at)
    except jobs.JobFailed:
        return False
    return True


def _firings(aws: Env, who: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = aws.table("LOYALTY_TABLE").query(
        KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
        ExpressionAttributeValues={":pk": keys.member_pk("demo", who), ":p": layout.FIRING_PREFIX},
        ConsistentRead=True,
    )["Items"]
    return items


def _emails(aws: Env) -> Counter[tuple[str, str]]:
    """(recipient, rule) of every email sent."""
    found: Counter[tuple[str, str]] = Counter()
    for message in aws.sent_emails():
        rule_id = next(r for r in RULES if f"X-Loyalty-Rule: {r}" in message.raw_data)
        found[(message.destinations[0], rule_id)] += 1
    return found


def _entries(aws: Env, who: str) -> Counter[tuple[str, str, str]]:
    """(rule, firing, outcome) of the member's ledger entries."""
    return Counter((str(e["rule_id"]), str(e["source"]), str(e["outcome"])) for e in ledger(aws, who))


def _assert_each_once(aws: Env, skip: frozenset[str] = frozenset()) -> None:
    """Every firing done, one email and one ledger entry per order and rule."""
    expected = {f"e:o-{who}-{n}" for who in MEMBERS for n in range(ORDERS_EACH)}
    for who in MEMBERS:
        if who in skip:
            continue
        firings = _firings(aws, who)
        assert len(firings) == ORDERS_EACH * len(RULES)
        assert {str(f["state"]) for f in firings} == {"done"}
        mine = {s for s in expected if s.startswith(f"e:o-{who}-")}
        assert _entries(aws, who) == Counter({(r, s, "sent"): 1 for r in RULES for s in mine})
    emails = _emails(aws)
    for who in MEMBERS:
        if who not in skip:
            for rule_id in RULES:
                assert emails[(f"{who}@example.com", rule_id)] == ORDERS_EACH, (who, rule_id, emails)


@contextmanager
def _installed(faults: Faults) -> Iterator[Faults]:
    faults.install()
    try:
        yield faults
    finally:
        faults.uninstall()


def _ledger_matches_outbox(aws: Env) -> None:
    """No email twice, none without its ledger entry, no ledger entry twice."""
    emails = _emails(aws)
    assert set(emails.values()) <= {1, ORDERS_EACH}
    for who in MEMBERS:
        entries = _entries(aws, who)
        assert set(entries.values()) <= {1}, entries
        for rule_id in RULES:
            sent = sum(1 for (r, _, outcome) in entries if (r, outcome) == (rule_id, "sent"))
            assert emails[(f"{who}@example.com", rule_id)] == sent, (who, rule_id, emails, entries)


@pytest.mark.parametrize("seed", [11, 23, 37])
def test_conflicts_and_throttling_on_delivery_record_each_firing_once(aws: Env, seed: int) -> None:
    _setup(aws)
    _place_orders(aws)
    table = aws.env["LOYALTY_TABLE"]
    kinds = ("conflict", "throughput", "throttling", "request_limit")
    with _installed(Faults(rate=0.3, seed=seed, functions={"CareRules"}, kinds=kinds)) as faults:
        for n in range(1, 2 * jobs.MAX_ATTEMPTS):
            _deliver(aws, NOON + timedelta(minutes=5 * n))
            _ledger_matches_outbox(aws)
    assert faults.injected["conflict"] and sum(faults.injected.values()) > faults.injected["conflict"]
    # Every read and write of a delivery retries throttling and conflicts within the run
    # (loyalty.commit.optimistic), so a transient fault parks nothing: each firing is done,
    # sent once and recorded once.
    assert jobs.list_failures(table, "demo", "care_deliver") == []
    done = sum(1 for who in MEMBERS for f in _firings(aws, who) if f["state"] == "done")
    assert done == len(MEMBERS) * ORDERS_EACH * len(RULES)
    assert sum(_emails(aws).values()) == done
    _assert_each_once(aws)


def test_a_lost_reply_of_the_record_neither_sends_nor_records_twice(aws: Env) -> None:
    _setup(aws)
    _place_orders(aws)
    # Every transaction of the delivery (each step of a firing) is applied, then its reply lost.
    lost = Faults(
        rate=1.0,
        seed=5,
        functions={"CareRules"},
        kinds=("lost_reply",),
        when=lambda operation, params: operation == "TransactWriteItems",
    )
    with _installed(lost):
        first = _deliver(aws, NOON + timedelta(minutes=5))
        emails_after_first = sum(_emails(aws).values())
        second = _deliver(aws, NOON + timedelta(minutes=10))
    assert lost.injected["lost_reply"] >= len(MEMBERS) * ORDERS_EACH * len(RULES)
    assert (first, second) == (True, True)
    assert emails_after_first == len(MEMBERS) * ORDERS_EACH * len(RULES)
    _assert_each_once(aws)


def test_a_run_that_sent_but_could_not_record_is_recorded_without_a_second_send(aws: Env) -> None:
    _setup(aws)
    _place_orders(aws)
    # Every step ann's firings try to record is throttled: the emails go out, the records fail.
    stuck = Faults(
        rate=1.0,
        seed=7,
        functions={"CareRules"},
        kinds=("throttling",),
        when=lambda operation, params: operation == "TransactWriteItems" and "T#demo#M#ann" in str(params),
    )
    with _installed(stuck):
        assert not _deliver(aws, NOON + timedelta(minutes=5))
    assert _entries(aws, "ann") == Counter()
    assert sum(n for (to, _), n in _emails(aws).items() if to == "ann@example.com") == ORDERS_EACH * len(
        RULES
    )
    assert _deliver(aws, NOON + timedelta(minutes=10))
    _assert_each_once(aws)


@contextmanager
def _ses_timeouts(picks: Callable[[dict[str, Any]], bool]) -> Iterator[list[int]]:
    """SendRawEmail times out before it is sent for the messages ``picks`` selects."""
    timed_out: list[int] = []

    def before(params: dict[str, Any], **kwargs: Any) -> None:
        if picks(params.get("body") or {}):
            timed_out.append(1)
            raise ReadTimeoutError(endpoint_url="https://email.eu-central-1.amazonaws.com")

    events = boto3._get_default_session().events
    events.register("before-call.ses.SendRawEmail", before)
    loyalty_aws.reset()
    try:
        yield timed_out
    finally:
        events.unregister("before-call.ses.SendRawEmail", before)
        loyalty_aws.reset()


def _claims(aws: Env, who: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = aws.table("LOYALTY_TABLE").query(
        KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
        ExpressionAttributeValues={":pk": keys.member_pk("demo", who), ":p": keys.CARE_CLAIM_PREFIX},
        ConsistentRead=True,
    )["Items"]
    return items


def test_a_send_timeout_releases_the_claim_and_the_next_run_sends_once(aws: Env) -> None:
    _setup(aws)
    _place_orders(aws)
    with _ses_timeouts(lambda body: body.get("Destinations.member.1") == "bo@example.com") as timed_out:
        assert not _deliver(aws, NOON + timedelta(minutes=5))
    assert timed_out  # bo's first email timed out; the run went on with the others
    assert _claims(aws, "bo") == []  # released: nothing is left claimed
    failures = jobs.list_failures(aws.env["LOYALTY_TABLE"], "demo", "care_deliver")
    assert [(f.state, f.attempts, f.error_class) for f in failures] == [("failed", 1, "ReadTimeoutError")] * (
        ORDERS_EACH * len(RULES)
    )
    _assert_each_once(aws, skip=frozenset({"bo"}))
    assert _entries(aws, "bo") == Counter()
    assert _deliver(aws, NOON + timedelta(minutes=10))
    _assert_each_once(aws)
    assert jobs.list_failures(aws.env["LOYALTY_TABLE"], "demo", "care_deliver") == []


def test_a_rejected_member_is_retried_then_parked_while_the_others_are_sent(aws: Env) -> None:
    _setup(aws)
    _place_orders(aws)
    table = aws.env["LOYALTY_TABLE"]
    cy_firings = ORDERS_EACH * len(RULES)
    with rejecting(lambda to, raw: "cy@example.com" in to) as rejections:
        for n in range(1, jobs.MAX_ATTEMPTS + 1):
            # A run that parked its last failing items has nothing left to retry.
            assert _deliver(aws, NOON + timedelta(minutes=5 * n)) == (n == jobs.MAX_ATTEMPTS)
            failures = jobs.list_failures(table, "demo", "care_deliver")
            state = "parked" if n == jobs.MAX_ATTEMPTS else "failed"
            assert [(f.state, f.attempts) for f in failures] == [(state, n)] * cy_firings
            if n == 1:
                _assert_each_once(aws, skip=frozenset({"cy"}))  # the others were sent in the first run
    assert {f.error_code for f in failures} == {"MessageRejected"}
    assert len(rejections.rejected) == jobs.MAX_ATTEMPTS * cy_firings
    assert not any("cy@example.com" in m.destinations for m in aws.sent_emails())
    assert _claims(aws, "cy") == []  # every rejection released its claim
    assert {str(f["state"]) for f in _firings(aws, "cy")} == {"pending"}
    # Parked firings stay listed and are not tried again.
    with rejecting(lambda to, raw: "cy@example.com" in to) as again:
        _deliver(aws, NOON + timedelta(hours=1))
    assert again.rejected == []
    assert len(jobs.list_failures(table, "demo", "care_deliver")) == cy_firings
    _assert_each_once(aws, skip=frozenset({"cy"}))


def _redrive(aws: Env) -> Any:
    """Replay the consumer's dead-lettered records (``make redrive``)."""
    from infra.definitions import CARE_TRIGGERS, dead_letter_queue_name
    from infra.local.runtime import invoke
    from infra.redrive import redrive_queue

    sqs = aws.session.client("sqs")
    url = sqs.get_queue_url(QueueName=dead_letter_queue_name(CARE_TRIGGERS))["QueueUrl"]
    handler = aws.handlers[CARE_TRIGGERS.logical_id]
    return redrive_queue(sqs, url, lambda event: invoke(CARE_TRIGGERS, handler, event))


@pytest.mark.parametrize("seed", [3, 17, 29])
def test_the_stream_consumer_under_faults_loses_and_duplicates_no_firing(aws: Env, seed: int) -> None:
    _setup(aws)
    kinds = ("throughput", "throttling", "request_limit", "timeout", "lost_reply")
    with _installed(Faults(rate=0.3, seed=seed, functions={"CareTriggers"}, kinds=kinds)) as faults:
        response = aws.call("POST", "/v1/events", {"events": _orders()}, at=NOON + timedelta(seconds=5))
        assert response.status == 200, response.body
        aws.pump().drain()
    assert sum(faults.injected.values()) > 0
    # A record is either turned into its firings or dead-lettered: whole (replayed by the
    # redrive), or, when the stream's own retries ran out first, as the batch's pointers.
    redriven = _redrive(aws)
    assert redriven.still_failing == 0
    pointed = sum(int(p.get("batchSize", 0)) for p in redriven.pointers_only)
    firings = {who: Counter(str(f["source"]) for f in _firings(aws, who)) for who in MEMBERS}
    missing = [(w, n) for w in MEMBERS for n in range(ORDERS_EACH) if f"e:o-{w}-{n}" not in firings[w]]
    assert len(missing) <= pointed, (missing, redriven)
    assert all(set(c.values()) <= {len(RULES)} for c in firings.values()), firings
    aws.pump().drain()  # the pointers' records read again from the stream
    for who in MEMBERS:
        sources = Counter(str(f["source"]) for f in _firings(aws, who))
        assert sources == Counter({f"e:o-{who}-{n}": len(RULES) for n in range(ORDERS_EACH)})
    assert _deliver(aws, NOON + timedelta(minutes=5))
    _assert_each_once(aws)
