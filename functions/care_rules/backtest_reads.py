"""Data access of a backtest: the firings a rule would have had in a window, read from the
event log and the members' items. Only Queries (no Scan, no write), each page counted,
at most :data:`care_rules.backtest.ITEM_BUDGET` items read in all (past it,
:class:`~care_rules.backtest.TooLarge`), so a backtest never runs out of time.

Per trigger (docs/care-rules.md, "Backtest"; docs/data-model.md, patterns 37–37c):

* ``event`` (a day-indexed type): the activity index of EventsTable (gsi2), one
  ``BETWEEN`` Query per shard and month over the window's program-local days, the type
  and the window's instants filtered in memory;
* ``date`` (birthday): the birthday index, one Query per month-day of each day of the
  window (and the day either side, for members in other zones);
* ``inactivity`` / ``delay``: the arming events from the activity index over the window
  moved back by ``days`` / ``delay``, then per member one Query of the member's timeline
  (gsi1) from the first arming event to the last one's due time, filtered on the types
  that re-arm or cancel the firing;
* each member's facts: one Query of the member's ``#`` items, once per member."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from care_rules import backtest, engine, layout, triggers
from care_rules.backtest import Candidate
from care_rules.engine import Facts
from care_rules.rules import CareRule, DateTrigger, DelayTrigger, EventTrigger, InactivityTrigger, duration
from loyalty import aws, keys
from loyalty.commit import optimistic
from loyalty.dynamo import plain
from loyalty.timeutil import days_between, iso, local_day, parse_rfc3339

Item = dict[str, Any]


class Reader:
    """Counted Queries of one backtest, with the member facts read once per member."""

    def __init__(
        self, loyalty_table: str, events_table: str, tenant: str, tz: ZoneInfo, default_tier: str
    ) -> None:
        self.loyalty = loyalty_table
        self.events = events_table
        self.tenant = tenant
        self.tz = tz
        self.default_tier = default_tier
        self.queries = 0
        self.items = 0
        self.budget = backtest.ITEM_BUDGET
        self._facts: dict[str, Facts] = {}
        self._birthdays: dict[str, list[Item]] = {}

    def reads(self) -> dict[str, int]:
        return {"queries": self.queries, "items": self.items}

    def query(self, table: str, **kwargs: Any) -> Iterator[Item]:
        """Every item of a Query, page by page, counted against the budget."""
        while True:
            page = optimistic(lambda: aws.table(table).query(**kwargs), what="query")
            self.queries += 1
            self.items += int(page.get("ScannedCount", len(page["Items"])))
            if self.items > self.budget:
                raise backtest.TooLarge(
                    f"the window holds more than {self.budget} items to read: choose a shorter one",
                    field="to",
                )
            yield from page["Items"]
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # Reads ---------------------------------------------------------------------------

    def indexed_events(self, event_type: str, start: datetime, end: datetime) -> list[Item]:
        """Events of a day-indexed type that occurred in ``[start, end)``, oldest first."""
        first, last = local_day(start, self.tz), local_day(end, self.tz)
        months = sorted({day.isoformat()[:7] for day in days_between(first, last)})
        low, high = iso(start), iso(end)
        found: list[Item] = []
        for month in months:
            lower = max(first.isoformat(), f"{month}-01")
            upper = min(last.isoformat(), f"{month}-31")
            for pk in keys.month_pks(self.tenant, month):
                for item in self.query(
                    self.events,
                    IndexName="gsi2",
                    KeyConditionExpression="gsi2pk = :pk AND gsi2sk BETWEEN :low AND :high",
                    ExpressionAttributeValues={":pk": pk, ":low": f"{lower}#", ":high": f"{upper}#~"},
                ):
                    if item.get("type") == event_type and low <= str(item["occurred_at"]) < high:
                        found.append(item)
        return sorted(found, key=_anchor)

    def facts(self, member: str) -> Facts:
        if member not in self._facts:
            items = self.query(
                self.loyalty,
                KeyConditionExpression="pk = :pk AND sk BETWEEN :from AND :to",
                ExpressionAttributeValues={
                    ":pk": keys.member_pk(self.tenant, member),
                    ":from": keys.MEMBER_ITEMS_FROM,
                    ":to": keys.MEMBER_ITEMS_TO,
                },
            )
            by_sk = {str(item["sk"]): item for item in items}
            self._facts[member] = engine.facts_from(member, by_sk, self.default_tier)
        return self._facts[member]

    def birthdays(self, month_day: str) -> list[Item]:
        if month_day not in self._birthdays:
            self._birthdays[month_day] = list(
                self.query(
                    self.loyalty,
                    IndexName="gsi1",
                    KeyConditionExpression="gsi1pk = :pk",
                    ExpressionAttributeValues={":pk": keys.birthday_pk(self.tenant, month_day)},
                )
            )
        return self._birthdays[month_day]

    def timeline(self, member: str, after: str, until: datetime, types: list[str]) -> list[str]:
        """The anchor keys of the member's events of ``types`` from ``after`` (an anchor
        key) through ``until``."""
        names = {"#type": "type"}
        values: Item = {f":t{n}": kind for n, kind in enumerate(types)}
        values.update({":pk": keys.member_pk(self.tenant, member), ":low": after, ":high": f"{iso(until)}#~"})
        items = self.query(
            self.events,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :pk AND gsi1sk BETWEEN :low AND :high",
            FilterExpression=f"#type IN ({', '.join(f':t{n}' for n in range(len(types)))})",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
        return [_anchor(item) for item in items]


def _anchor(item: Item) -> str:
    return triggers.anchor_key(str(item["occurred_at"]), str(item["event_id"]))


# Candidate firings per trigger -------------------------------------------------------


def candidates(reader: Reader, rule: CareRule, start: datetime, end: datetime) -> list[Candidate]:
    """The firings ``rule`` would have had, due in ``[start, end)``."""
    trigger = rule.trigger
    if isinstance(trigger, EventTrigger):
        return _events(reader, trigger, start, end)
    if isinstance(trigger, DateTrigger):
        return _dates(reader, trigger, start, end)
    if isinstance(trigger, InactivityTrigger):
        span = timedelta(days=trigger.days)
        return _rearmed(reader, trigger.event_type, [], span, layout.INACTIVE_SOURCE, start, end)
    assert isinstance(trigger, DelayTrigger)
    span = duration(trigger.delay)
    return _rearmed(reader, trigger.after, list(trigger.cancel_on), span, layout.DELAY_SOURCE, start, end)


def _events(reader: Reader, trigger: EventTrigger, start: datetime, end: datetime) -> list[Candidate]:
    found = []
    for event in reader.indexed_events(trigger.event_type, start, end):
        member = str(event["member_id"])
        found.append(
            Candidate(
                member_id=member,
                at=parse_rfc3339(str(event["occurred_at"])),
                instance=layout.event_source(str(event["event_id"])),
                facts=reader.facts(member),
                event_data=plain(dict(event.get("data") or {})),
            )
        )
    return found


def _member_of(profile: Item) -> str:
    return str(profile.get("member_id") or str(profile.get("pk", "")).rsplit("#M#", 1)[-1])


def _dates(reader: Reader, trigger: DateTrigger, start: datetime, end: datetime) -> list[Candidate]:
    first = local_day(start, reader.tz) - timedelta(days=1)
    last = local_day(end, reader.tz) + timedelta(days=1)
    found = []
    for day in days_between(first, last):
        for month_day in engine.date_keys(day, trigger.offset_days, trigger.leap_day):
            for profile in reader.birthdays(month_day):
                found.extend(_date_firing(reader, trigger, day, _member_of(profile), profile, start, end))
    return found


def _date_firing(
    reader: Reader,
    trigger: DateTrigger,
    day: date,
    member: str,
    profile: Item,
    start: datetime,
    end: datetime,
) -> list[Candidate]:
    zone = Facts(member_id=member, profile=profile).zone(reader.tz)
    due = engine.local_at(day, trigger.at, zone)
    if not start <= due < end:
        return []
    source = layout.date_source(trigger.field, day.isoformat())
    return [Candidate(member_id=member, at=due, instance=source, facts=reader.facts(member))]


def _rearmed(
    reader: Reader,
    arming: str,
    cancelling: list[str],
    span: timedelta,
    source: str,
    start: datetime,
    end: datetime,
) -> list[Candidate]:
    """Inactivity and delay firings: each arming event in the window moved back by
    ``span`` is due ``span`` later, unless a newer arming event of the member (which
    re-arms the firing) or a cancelling one came before it was due."""
    by_member: dict[str, list[Item]] = {}
    for event in reader.indexed_events(arming, start - span, end - span):
        by_member.setdefault(str(event["member_id"]), []).append(event)
    found = []
    for member, events in sorted(by_member.items()):
        last_due = parse_rfc3339(str(events[-1]["occurred_at"])) + span
        later = reader.timeline(member, _anchor(events[0]), last_due, sorted({arming, *cancelling}))
        for event in events:
            due = parse_rfc3339(str(event["occurred_at"])) + span
            if not backtest.survives(_anchor(event), iso(due), later):
                continue
            instance = triggers.instance(source, str(event["event_id"]))
            found.append(Candidate(member_id=member, at=due, instance=instance, facts=reader.facts(member)))
    return found
