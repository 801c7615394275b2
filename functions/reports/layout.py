"""The keys of the reports' items in the loyalty table. Pure: no AWS here.

Rollups (docs/data-model.md, "Reports"):

* ``T#<tenant>#RU#<yyyy-mm>`` / ``<bucket>#<shard>``: the counters of one bucket, split in
  ``SHARDS`` items by member so no single item takes every write of a busy day; those
  kept from the loyalty table's stream are items of their own, ``<bucket>#R<shard>``. The
  buckets of a month share its partition: its days ``D<yyyy-mm-dd>``, the ISO weeks whose
  Monday falls in it ``W<yyyy-mm-dd>``, the month ``M<yyyy-mm>`` and the cohort of members
  whose first order fell in it ``C<yyyy-mm>``; so a report reads a month with one Query.
* ``T#<tenant>#RU#TOTAL`` / ``T#<shard>``: tenant totals (registrations ever).
* ``T#<tenant>#RU#LATE`` / ``<kind>#<day>``: a day that received an event after it
  ended, until the next report of ``kind`` has restated the period holding it.
* ``T#<tenant>#RUM#<member>``: what the rollups know of one member: ``#HEAD`` (the
  version every change of the member's rollup state moves), ``#REG`` (the registration
  counted), ``D<yyyy-mm>`` (the counted order days of a month: day of month -> orders),
  ``O#<order_id>`` (an order's state) and ``E#<event_id>`` (a survey answer counted).
* ``RUX#<sequence number>`` / ``RUX``: a loyalty-table stream record counted
  (``reports.record_store``, TTL 30 days).

Reports:

* ``T#<tenant>#REPORTS#<period>`` / ``<start>``: the index of stored reports (the
  document itself is in the reports bucket), with the figures as stored, so a later
  report can say which of them a late event changed."""

from __future__ import annotations

from loyalty import keys

SHARDS = 8
HEAD_SK = "#HEAD"
REGISTRATION_SK = "#REG"
MONTH_PREFIX = "D"
ORDER_PREFIX = "O#"
SURVEY_PREFIX = "E#"
TOTAL_BUCKET = "T"
EVENTS_SOURCE = ""  # counters kept from the event log (ReportsRollup)
RECORDS_SOURCE = "R"  # counters kept from the loyalty table's stream (ReportsRecords)


def month_of_bucket(bucket: str) -> str:
    """The month whose partition holds ``bucket`` (D/W/M/C buckets)."""
    return bucket[1:8]


def rollup_pk(tenant: str, month: str) -> str:
    return f"T#{tenant}#RU#{month}"


def total_pk(tenant: str) -> str:
    return f"T#{tenant}#RU#TOTAL"


def late_pk(tenant: str) -> str:
    return f"T#{tenant}#RU#LATE"


def late_sk(kind: str, day: str) -> str:
    return f"{kind}#{day}"


def counter_key(tenant: str, bucket: str, member: str, source: str = EVENTS_SOURCE) -> dict[str, str]:
    """The item holding ``member``'s share of ``bucket``'s counters kept from ``source``:
    the event log's (``<bucket>#<shard>``, which a rebuild rewrites) or the loyalty
    table's (``<bucket>#R<shard>``, which it leaves alone)."""
    shard = f"{source}{keys.shard_of(member, SHARDS)}"
    if bucket == TOTAL_BUCKET:
        return {"pk": total_pk(tenant), "sk": f"{TOTAL_BUCKET}#{shard}"}
    return {"pk": rollup_pk(tenant, month_of_bucket(bucket)), "sk": f"{bucket}#{shard}"}


def from_events(sk: str) -> bool:
    """A counter item the event log's rollups keep (and a rebuild rewrites)."""
    return sk.rsplit("#", 1)[1].isdigit()


def bucket_of_sk(sk: str) -> str:
    return sk.rsplit("#", 1)[0]


def member_pk(tenant: str, member: str) -> str:
    return f"T#{tenant}#RUM#{member}"


def member_month_sk(month: str) -> str:
    return f"{MONTH_PREFIX}{month}"


def order_sk(order_id: str) -> str:
    return f"{ORDER_PREFIX}{order_id}"


def survey_sk(event_id: str) -> str:
    return f"{SURVEY_PREFIX}{event_id}"


def reports_pk(tenant: str, period: str) -> str:
    return f"T#{tenant}#REPORTS#{period}"


def report_object_key(tenant: str, period: str, start: str, suffix: str = "json") -> str:
    """The report's document in the reports bucket."""
    return f"reports/{tenant}/{period}/{start}.{suffix}"
