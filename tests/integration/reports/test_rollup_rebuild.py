"""The rollups' central invariant: over any history (duplicates, resends under a new id,
reordering, cancellations before and after their order, refunds, late arrivals) the
incremental rollups the stream consumer keeps equal the fold of the same events
(``reports.rebuild``), and ``make rebuild-rollups`` writes exactly them back."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from boto3.dynamodb.types import TypeSerializer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.definitions import REPORTS_ROLLUP
from infra.local.runtime import invoke
from infra.rebuild_rollups import run as rebuild_run
from loyalty.events.stored import StoredEvent, event_item
from loyalty.program import ProgramConfig
from loyalty.timeutil import local_day
from reports import changes, rebuild
from tests.conftest import Env

pytestmark = pytest.mark.integration

TZ = ZoneInfo("Europe/Berlin")
FIRST = datetime(2025, 10, 1, tzinfo=UTC)
_tenants = itertools.count()


@st.composite
def histories(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Events as a storefront sends them; ids repeat where a resend would repeat them."""
    events: list[dict[str, Any]] = []
    members = [f"m{i}" for i in range(draw(st.integers(1, 4)))]
    hours = st.integers(0, 24 * 100)
    for n in range(draw(st.integers(1, 10))):
        member, order_id = draw(st.sampled_from(members)), f"o{n}"
        for copy in range(draw(st.integers(1, 2))):  # a second order.placed: a resend under a new id
            events.append(
                {
                    "type": "order.placed",
                    "id": f"p{n}-{copy}",
                    "member": member,
                    "hour": draw(hours),
                    "data": {
                        "order_id": order_id,
                        "currency": "CNY",
                        "total": str(draw(st.integers(1, 500))),
                    },
                }
            )
        if draw(st.booleans()):
            events.append(
                {
                    "type": "order.cancelled",
                    "id": f"c{n}",
                    "member": member,
                    "hour": draw(hours),
                    "data": {"order_id": order_id},
                }
            )
        for r in range(draw(st.integers(0, 2))):
            refund_id = f"rf{n}-{draw(st.integers(0, 1))}"  # the same refund id twice: counted once
            events.append(
                {
                    "type": "order.refunded",
                    "id": f"r{n}-{r}",
                    "member": member,
                    "hour": draw(hours),
                    "data": {"order_id": order_id, "refund_id": refund_id, "amount": "5.50"},
                }
            )
    for member in members:
        for copy in range(draw(st.integers(0, 2))):
            events.append(
                {
                    "type": "member.registered",
                    "id": f"g-{member}-{copy}",
                    "member": member,
                    "hour": draw(hours),
                    "data": {},
                }
            )
    for s in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["nps", "csat"]))
        score = draw(st.integers(0, 10) if kind == "nps" else st.integers(1, 5))
        events.append(
            {
                "type": "survey.answered",
                "id": f"s{s}",
                "member": draw(st.sampled_from(members)),
                "hour": draw(hours),
                "data": {"survey_id": "q", "kind": kind, "score": score},
            }
        )
    return events


def _stored(tenant: str, spec: dict[str, Any], late_hours: int) -> StoredEvent:
    occurred = FIRST + timedelta(hours=spec["hour"])
    return StoredEvent(
        tenant_id=tenant,
        event_id=spec["id"],
        type=spec["type"],
        member_id=spec["member"],
        channel="web",
        occurred_at=occurred,
        received_at=occurred + timedelta(hours=late_hours),
        data=spec["data"],
        day=local_day(occurred, TZ).isoformat(),
    )


def _record(item: dict[str, Any], n: int) -> dict[str, Any]:
    serializer = TypeSerializer()
    image = {k: serializer.serialize(Decimal(str(v)) if isinstance(v, float) else v) for k, v in item.items()}
    return {
        "eventID": str(n),
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-central-1",
        "eventSourceARN": "arn:aws:dynamodb:eu-central-1:123456789012:table/local-EventsTable/stream/x",
        "dynamodb": {
            "Keys": {"pk": image["pk"], "sk": image["sk"]},
            "NewImage": image,
            "SequenceNumber": str(1000 + n),
            "SizeBytes": 512,
            "StreamViewType": "NEW_IMAGE",
        },
    }


def _counters(aws: Env, tenant: str) -> dict[tuple[str, str], dict[str, Decimal]]:
    found: dict[tuple[str, str], dict[str, Decimal]] = {}
    table = aws.table("LOYALTY_TABLE")
    page: dict[str, Any] = {}
    while True:
        got = table.scan(**page)
        for item in got["Items"]:
            if item.get("kind") != "rollup" or not str(item["pk"]).startswith(f"T#{tenant}#RU#"):
                continue
            values = {k: Decimal(v) for k, v in item.items() if k not in ("pk", "sk", "kind") and v != 0}
            if values:
                found[(str(item["pk"]), str(item["sk"]))] = values
        if "LastEvaluatedKey" not in got:
            return found
        page = {"ExclusiveStartKey": got["LastEvaluatedKey"]}


def _folded(tenant: str, events: list[StoredEvent]) -> dict[tuple[str, str], dict[str, Decimal]]:
    from reports import layout

    ctx = changes.Context(table="unused", tz=TZ, program=ProgramConfig())
    out = {}
    for (bucket, shard), values in rebuild.fold(ctx, events).counters(90).items():
        pk = (
            layout.total_pk(tenant)
            if bucket == "T"
            else layout.rollup_pk(tenant, layout.month_of_bucket(bucket))
        )
        out[(pk, f"{bucket}#{shard}")] = values
    return out


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=histories(), seed=st.integers(0, 2**16), late=st.integers(0, 24 * 20))
def test_incremental_rollups_equal_the_rebuild(
    aws: Env, history: list[dict[str, Any]], seed: int, late: int
) -> None:
    tenant = f"r{next(_tenants)}"
    rng = random.Random(seed)
    events = [_stored(tenant, spec, rng.choice([0, late])) for spec in history]
    items = [event_item(e) for e in events]
    table = aws.table("EVENTS_TABLE")
    for item in items:
        table.put_item(Item=item)
    # Delivery: any order, in batches, with some records delivered again.
    delivered = items + rng.sample(items, k=len(items) // 3)
    rng.shuffle(delivered)
    handler = aws.handlers[REPORTS_ROLLUP.logical_id]
    for first in range(0, len(delivered), 7):
        batch = [_record(item, first + i) for i, item in enumerate(delivered[first : first + 7])]
        answer = invoke(REPORTS_ROLLUP, handler, {"Records": batch})
        assert answer["batchItemFailures"] == []
    incremental = _counters(aws, tenant)
    assert incremental == _folded(tenant, list(reversed(events)))
    result = rebuild_run(tenant, date(2025, 9, 30), date(2026, 1, 10))
    assert result["events"] == len(events)
    assert _counters(aws, tenant) == incremental
