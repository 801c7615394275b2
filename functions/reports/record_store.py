"""Data access of the report counters kept from the loyalty table: a stream record's
counters added once, under a marker of its sequence number, in one transaction.

A marker (``RUX#<sequence number>``) expires after ``MARKER_DAYS``, longer than a stream
keeps a record (24 hours) and a dead-letter queue keeps it for a replay (14 days)."""

from __future__ import annotations

import time

from botocore.exceptions import ClientError

from loyalty.dynamo import cancellation_codes, transact_write
from reports import layout
from reports.orders import Amounts
from reports.rollup_store import counter_updates

MARKER_DAYS = 30


def add_once(table_name: str, tenant: str, shard_key: str, sequence: str, counts: Amounts) -> bool:
    """Add ``counts`` (sharded by ``shard_key``) unless the record was counted before."""
    marker = {
        "Put": {
            "TableName": table_name,
            "Item": {
                "pk": f"RUX#{sequence}",
                "sk": "RUX",
                "kind": "rollup_record",
                "expires_at": int(time.time()) + MARKER_DAYS * 86_400,
            },
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }
    try:
        transact_write(
            [marker, *counter_updates(table_name, tenant, shard_key, counts, layout.RECORDS_SOURCE)]
        )
    except ClientError as err:
        codes = cancellation_codes(err)
        if codes and codes[0] == "ConditionalCheckFailed":
            return False
        raise
    return True
