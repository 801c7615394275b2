"""The member's send ledger (newest first, paged with a checked cursor, the member's
own entries only) and a rule's activity (counters summed over every shard and the
selected program-local days, bounds inclusive; unknown rules 404, bad ranges 400)."""

from __future__ import annotations

from typing import Any

import pytest

from care_rules import layout
from loyalty import cursor, keys
from tests.conftest import API_KEY, OTHER_API_KEY, OTHER_TENANT, TENANT, Env

pytestmark = pytest.mark.integration
ADMIN = f"admin-{API_KEY}"


def _entry(tenant: str, member: str, at: str, rule: str, n: int = 0, **fields: Any) -> dict[str, Any]:
    return {
        "pk": keys.member_pk(tenant, member),
        "sk": layout.ledger_sk(at, rule, n),
        "kind": "care_ledger",
        "tenant_id": tenant,
        "member_id": member,
        "rule_id": rule,
        "version": 1,
        "at": at,
        "source": "e:ev-1",
        "expires_at": 1_900_000_000,
        **fields,
    }


LEDGER = [
    _entry(
        TENANT,
        "m-1",
        "2026-03-01T09:00:00.000Z",
        "birthday-greeting",
        outcome="sent",
        action=0,
        action_type="email",
    ),
    _entry(TENANT, "m-1", "2026-03-02T09:00:00.000Z", "cart-abandoned", outcome="skipped", reason="consent"),
    _entry(
        TENANT, "m-1", "2026-03-03T21:30:00.000Z", "cart-abandoned", outcome="deferred", reason="quiet_hours"
    ),
    _entry(
        TENANT,
        "m-1",
        "2026-03-04T09:00:00.000Z",
        "win-back-90d",
        outcome="task",
        action=0,
        action_type="task",
        task_id="ct-0123",
    ),
    _entry(
        TENANT,
        "m-1",
        "2026-03-04T09:00:00.000Z",
        "win-back-90d",
        1,
        outcome="points",
        action=1,
        action_type="points",
    ),
    _entry(TENANT, "m-1", "2026-03-05T09:00:00.000Z", "tier-changed", outcome="skipped", reason="once"),
    _entry(
        TENANT,
        "m-1",
        "2026-03-06T09:00:00.000Z",
        "tier-changed",
        outcome="event",
        action=0,
        action_type="event",
    ),
]


def _put(aws: Env, items: list[dict[str, Any]]) -> None:
    table = aws.table("LOYALTY_TABLE")
    for item in items:
        table.put_item(Item=item)


def _seed_ledger(aws: Env) -> None:
    member = keys.member_pk(TENANT, "m-1")
    _put(
        aws,
        [
            *LEDGER,
            _entry(TENANT, "m-2", "2026-03-07T09:00:00.000Z", "tier-changed", outcome="sent"),
            _entry(OTHER_TENANT, "m-1", "2026-03-07T09:00:00.000Z", "tier-changed", outcome="sent"),
            # Other items of the member's partition, around the ledger's prefix
            {"pk": member, "sk": keys.PROFILE_SK, "tenant_id": TENANT, "member_id": "m-1"},
            {"pk": member, "sk": layout.firing_sk("tier-changed", "e:ev-9"), "rule_id": "tier-changed"},
            {"pk": member, "sk": layout.claim_sk("tier-changed", "e:ev-9", 0), "rule_id": "tier-changed"},
        ],
    )


def _out(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "rule_id": item["rule_id"],
        "version": 1,
        "at": item["at"],
        "outcome": item["outcome"],
        "reason": item.get("reason"),
        "action_type": item.get("action_type"),
        "task_id": item.get("task_id"),
    }


def test_the_ledger_pages_newest_first(aws: Env) -> None:
    _seed_ledger(aws)
    pages: list[list[dict[str, Any]]] = []
    after: str | None = None
    while True:
        suffix = f"&cursor={after}" if after else ""
        answer = aws.call("GET", f"/v1/members/m-1/care?limit=3{suffix}")
        assert answer.status == 200, answer.json()
        pages.append(answer.json()["entries"])
        after = answer.json()["next_cursor"]
        if after is None:
            break
        assert len(pages) < 10
    assert [len(page) for page in pages] == [3, 3, 1]
    newest_first = sorted(LEDGER, key=lambda item: item["sk"], reverse=True)
    assert [entry for page in pages for entry in page] == [_out(item) for item in newest_first]
    whole = aws.call("GET", "/v1/members/m-1/care").json()
    assert whole["entries"][3] == {
        "rule_id": "win-back-90d",
        "version": 1,
        "at": "2026-03-04T09:00:00.000Z",
        "outcome": "task",
        "reason": None,
        "action_type": "task",
        "task_id": "ct-0123",
    }
    assert whole["next_cursor"] is None
    assert aws.call("GET", "/v1/members/nobody/care").json() == {"entries": [], "next_cursor": None}
    rival = aws.call("GET", "/v1/members/m-1/care", key=OTHER_API_KEY).json()["entries"]
    assert [entry["at"] for entry in rival] == ["2026-03-07T09:00:00.000Z"]  # its own member m-1


def test_a_ledger_cursor_must_be_the_members_ledger(aws: Env) -> None:
    _seed_ledger(aws)
    first = aws.call("GET", "/v1/members/m-1/care?limit=2").json()["next_cursor"]
    assert first
    profile = cursor.encode({"pk": keys.member_pk(TENANT, "m-1"), "sk": keys.PROFILE_SK})
    for path in (
        f"/v1/members/m-2/care?cursor={first}",  # another member's
        f"/v1/members/m-1/care?cursor={profile}",  # not a ledger position
        "/v1/members/m-1/care?cursor=bm90IGpzb24",
    ):
        answer = aws.call("GET", path)
        assert (answer.status, answer.json()["error"]["code"]) == (400, "invalid_cursor"), path
    assert aws.call("GET", f"/v1/members/m-1/care?cursor={first}", key=OTHER_API_KEY).status == 400
    assert aws.call("GET", "/v1/members/m-1/care?limit=101").status == 400


def _counter(rule: str, shard: int, day: str, **counts: int) -> dict[str, Any]:
    return {"pk": layout.activity_pk(TENANT, rule, shard), "sk": day, **counts}


def _seed_counters(aws: Env) -> None:
    items = []
    for shard in range(layout.CARE_SHARDS):
        for day in ("2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05"):
            items.append(
                _counter(
                    "cart-abandoned",
                    shard,
                    day,
                    c_sent=shard + 1,
                    c_skipped=2,
                    c_skipped_consent=1,
                    c_skipped_frequency_cap=1,
                )
            )
    assert (items[17]["pk"], items[17]["sk"]) == (
        layout.activity_pk(TENANT, "cart-abandoned", 3),
        "2026-03-03",
    )
    items[17].update(c_deferred=4, c_deferred_quiet_hours=4)
    items += [
        _counter("cart-abandoned", 0, "2026-02-07", c_sent=1000),
        _counter("cart-abandoned", 7, "2026-02-08", c_sent=100, c_skipped=10, c_skipped_erased=10),
        _counter("cart-abandoned", 2, "2026-03-10", c_task=5),
        _counter("cart-abandoned", 2, "2026-03-11", c_task=500),
        _counter("birthday-greeting", 0, "2026-03-03", c_sent=70),  # another rule
        {"pk": layout.activity_pk(OTHER_TENANT, "cart-abandoned", 0), "sk": "2026-03-03", "c_sent": 9000},
    ]
    _put(aws, items)


def _zero(names: tuple[str, ...], **counts: int) -> dict[str, int]:
    return {**dict.fromkeys(names, 0), **counts}


def test_activity_sums_every_shard_over_the_days_bounds_included(aws: Env) -> None:
    _seed_counters(aws)
    answer = aws.call(
        "GET", "/v1/admin/care-rules/cart-abandoned/activity?from=2026-03-02&to=2026-03-04", key=ADMIN
    )
    assert answer.status == 200, answer.json()
    per_day_sent = sum(shard + 1 for shard in range(layout.CARE_SHARDS))  # 36
    assert answer.json() == {
        "rule_id": "cart-abandoned",
        "from": "2026-03-02",
        "to": "2026-03-04",
        "outcomes": _zero(layout.OUTCOMES, sent=3 * per_day_sent, skipped=3 * 8 * 2, deferred=4),
        "reasons": _zero(layout.REASONS, consent=3 * 8, frequency_cap=3 * 8, quiet_hours=4),
    }
    # Timestamps select their program-local day (Europe/Berlin): 23:30Z is the next day.
    stamps = aws.call(
        "GET",
        "/v1/admin/care-rules/cart-abandoned/activity?from=2026-03-01T23:30:00Z&to=2026-03-04T22:59:59Z",
        key=ADMIN,
    ).json()
    assert (stamps["from"], stamps["to"]) == ("2026-03-02", "2026-03-04")
    assert stamps["outcomes"] == answer.json()["outcomes"]
    one_day = aws.call(
        "GET", "/v1/admin/care-rules/cart-abandoned/activity?from=2026-03-05&to=2026-03-05", key=ADMIN
    ).json()
    assert one_day["outcomes"]["sent"] == per_day_sent


def test_activity_defaults_to_the_30_days_through_today(aws: Env) -> None:
    _seed_counters(aws)
    answer = aws.call("GET", "/v1/admin/care-rules/cart-abandoned/activity", key=ADMIN).json()
    assert (answer["from"], answer["to"]) == ("2026-02-08", "2026-03-10")
    per_day_sent = sum(shard + 1 for shard in range(layout.CARE_SHARDS))
    assert answer["outcomes"] == _zero(
        layout.OUTCOMES, sent=5 * per_day_sent + 100, skipped=5 * 16 + 10, deferred=4, task=5
    )
    assert answer["reasons"]["erased"] == 10
    rival = aws.call(
        "GET", "/v1/admin/care-rules/cart-abandoned/activity", key=f"admin-{OTHER_API_KEY}"
    ).json()
    assert rival["outcomes"]["sent"] == 9000


def test_a_rule_without_activity_counts_zero_and_an_unknown_rule_is_404(aws: Env) -> None:
    quiet = aws.call("GET", "/v1/admin/care-rules/nps-after-order/activity", key=ADMIN)
    assert quiet.status == 200, quiet.json()
    assert quiet.json()["outcomes"] == _zero(layout.OUTCOMES)
    assert quiet.json()["reasons"] == _zero(layout.REASONS)
    missing = aws.call("GET", "/v1/admin/care-rules/no-such-rule/activity", key=ADMIN)
    assert missing.status == 404 and missing.json()["error"]["field"] == "rule_id"
    assert aws.call("GET", "/v1/admin/care-rules/cart-abandoned/activity").status == 403  # storefront key


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?from=2025-02-02&to=2026-03-10", "from"),  # 401 days apart
        ("?from=2026-03-05&to=2026-03-04", "from"),
        ("?from=last-week", "from"),
        ("?to=2026-02-30", "to"),
        ("?to=2026-03-04T10:00:00", "to"),  # no offset
    ],
)
def test_bad_activity_ranges_are_400(aws: Env, query: str, field: str) -> None:
    answer = aws.call("GET", f"/v1/admin/care-rules/cart-abandoned/activity{query}", key=ADMIN)
    assert answer.status == 400, answer.json()
    assert answer.json()["error"]["field"] == field
    edge = aws.call(
        "GET", "/v1/admin/care-rules/cart-abandoned/activity?from=2025-02-03&to=2026-03-10", key=ADMIN
    )
    assert edge.status == 200  # 400 days apart
