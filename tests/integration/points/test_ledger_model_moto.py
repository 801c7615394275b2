"""The model-based state machine of tests/unit/points/test_ledger_model.py, in a smaller run,
and its fixed sequences, against the DynamoDB ledger store (moto): the same calls and
checks, with every operation committed as one TransactWriteItems and read back from
the tables."""

from __future__ import annotations

from typing import Any

import pytest
from boto3.dynamodb.conditions import Key
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from loyalty import aws as loyalty_aws
from loyalty import keys
from points.ledger import Account, Entry
from points.repository import DynamoLedgerStore
from tests.conftest import Env
from tests.unit.points.test_ledger_model import BIRTHDAY, SEQUENCES, TZ, LedgerMachine, Replayed, T

pytestmark = pytest.mark.integration


class DynamoDriver:
    def __init__(self, env: Env) -> None:
        self.table_name = env.env["LOYALTY_TABLE"]
        self.store = DynamoLedgerStore(self.table_name, env.env["EVENTS_TABLE"], TZ)

    def start(self, member: str) -> None:
        loyalty_aws.table(self.table_name).put_item(
            Item={"pk": keys.member_pk(T, member), "sk": "#PROFILE", "birthday": BIRTHDAY}
        )

    def state(self, member: str) -> Any:
        table = loyalty_aws.table(self.table_name)
        query: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(keys.member_pk(T, member)),
            "ConsistentRead": True,
        }
        items: list[dict[str, Any]] = []
        while True:
            page = table.query(**query)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                return sorted(items, key=lambda item: item["sk"])
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def stored(self, member: str) -> tuple[Account, list[Entry]]:
        account = self.store.load(T, member).account
        entries: list[Entry] = []
        cursor: str | None = None
        while True:
            page = self.store.entries_page(T, member, 100, cursor)
            entries.extend(page.entries)
            cursor = page.next_cursor
            if cursor is None:
                return account, sorted(entries, key=lambda e: e.seq)


def test_the_dynamodb_ledger_agrees_with_the_model(aws: Env) -> None:
    class OnDynamo(LedgerMachine):
        make_driver = staticmethod(lambda: DynamoDriver(aws))

    run_state_machine_as_test(
        OnDynamo,
        settings=settings(
            max_examples=10,
            stateful_step_count=15,
            deadline=None,
            derandomize=True,  # the same calls on every run: no flaky failures through moto
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


@pytest.mark.parametrize("steps", list(SEQUENCES.values()), ids=list(SEQUENCES))
def test_sequence_on_dynamodb(aws: Env, steps: list[tuple[str, dict[str, Any]]]) -> None:
    class ReplayedOnDynamo(Replayed):
        make_driver = staticmethod(lambda: DynamoDriver(aws))

    machine = ReplayedOnDynamo()
    for name, args in steps:
        getattr(machine, name)(**args)
        machine.check_all()
    machine.teardown()
