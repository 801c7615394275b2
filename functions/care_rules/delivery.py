"""One due firing, taken through the guards to its actions, each step recorded.

The guards run in this order, and the one that stops a firing is its ledger entry's
reason (docs/care-rules.md, "Guards"):

1. the rule must still be enabled (``rule_disabled``), and a date greeting must not be
   more than ``care.late_date_hours`` late (``late``);
2. an **erased** member receives nothing (``erased``);
3. the version's **conditions** must hold for the member now (``condition``); a firing
   deferred by quiet hours matched already and is not checked again;
4. an email needs an address (``no_address``) and **consent**: a marketing email the
   member's granted email consent, a transactional one consent not withdrawn
   (``consent``). Consent is read again, consistently, just before the send: a
   withdrawal a second earlier stops it;
5. **once per** period: a conditional write of the rule's once marker for the period in
   the member's calendar (``once``); a firing every action of which was stopped by
   address or consent takes no marker, so the member can still get it;
6. the **frequency cap** for marketing emails: over it, skipped (``frequency_cap``);
7. **quiet hours** (member-local): inside them an email is deferred to the window's end
   (``deferred`` / ``quiet_hours``), not dropped; tasks, points and events are not messages
   to the member and are not deferred.

A firing is delivered with the version that created it (its conditions and actions),
also when deferred and the rule was edited since; a rule disabled since is skipped.
Every step is recorded by ``firings.record``, conditioned on the firing's step: a run
repeated after a failure picks up after the last recorded action, and actions with side
effects (emails, events) also hold delivery claims, so nothing is done twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from care_rules import actions, engine, firings
from care_rules.context import Context
from care_rules.engine import Facts
from care_rules.firings import DEFERRED, DONE, WAITING, Entry
from care_rules.rules import EmailAction, EventAction, PointsAction, TaskAction
from care_rules.ruleset import StoredRule
from loyalty.commit import optimistic
from loyalty.dynamo import plain
from loyalty.timeutil import iso, local_day, parse_rfc3339

Item = dict[str, Any]
REARMED_TRIGGERS = ("delay", "inactivity")


def email_block(action: EmailAction, profile: Item) -> str | None:
    """Why an email may not go to the member as the profile stands, or None."""
    if profile.get("erased_at"):
        return "erased"
    if not profile.get("email"):
        return "no_address"
    consent = profile.get("consent_email") or {}
    granted = consent.get("granted")
    if action.marketing and granted is not True:
        return "consent"
    if granted is False:
        return "consent"
    return None


class FiringRun:
    """Deliver one firing (``run``): True when it is finished with for this run, False when
    another run holds one of its claims (it stays due)."""

    def __init__(self, ctx: Context, firing: Item) -> None:
        self.ctx = ctx
        self.firing = firing
        self.tenant = str(firing["tenant_id"])
        self.member = str(firing["member_id"])
        self.done = [int(n) for n in firing.get("done_actions") or []]

    # Recording -------------------------------------------------------------------

    def _record(self, changes: Item, entries: list[Entry], *, waiting: bool) -> bool:
        day = local_day(self.ctx.now, self.ctx.tz).isoformat()
        ok = firings.record(self.ctx.table, self.firing, changes, entries, self.ctx.now, day, waiting=waiting)
        if ok:
            self.firing = {**self.firing, **changes, "step": int(self.firing.get("step", 0)) + 1}
        return ok

    def finish(self, entries: list[Entry]) -> bool:
        changes = {"state": DONE, "done_at": iso(self.ctx.now), "expires_at": firings.expiry(self.ctx.now)}
        self._record(changes, entries, waiting=False)
        return True

    def _progress(self, n: int, entry: Entry) -> bool:
        self.done.append(n)
        changes = {"done_actions": self.done, "matched_at": self._matched_at()}
        changes["due_at"] = str(self.firing["due_at"])
        return self._record(changes, [entry], waiting=True)

    def _matched_at(self) -> str:
        return str(self.firing.get("matched_at") or iso(self.ctx.now))

    def _defer(self, until: Any, n: int) -> bool:
        entries = (
            [] if self.firing.get("state") == DEFERRED else [Entry("deferred", "quiet_hours", n, "email")]
        )
        changes = {"state": DEFERRED, "due_at": iso(until), "matched_at": self._matched_at()}
        self._record(changes, entries, waiting=True)
        return True

    # The guards ------------------------------------------------------------------

    def run(self) -> bool:
        ctx = self.ctx
        stored = ctx.version(self.tenant, str(self.firing["rule_id"]), int(self.firing["version"]))
        current = ctx.current(self.tenant, str(self.firing["rule_id"]))
        if stored is None or current is None or not current.enabled:
            return self.finish([Entry("skipped", "rule_disabled")])
        if self._late():
            return self.finish([Entry("skipped", "late")])
        items = firings.member_items(ctx.table, self.tenant, self.member)
        facts = engine.facts_from(self.member, items, ctx.program.points.tiers[0].name)
        if facts.erased:
            return self.finish([Entry("skipped", "erased")])
        event = (
            firings.event(ctx.events_table, self.tenant, str(self.firing["event_id"]))
            if self.firing.get("event_id")
            else None
        )
        if self.firing.get("matched_at") is None and not self._matches(stored, facts, event):
            return self.finish([Entry("skipped", "condition")])
        return self._act(stored, facts, event)

    def _late(self) -> bool:
        """A date greeting not delivered within ``care.late_date_hours`` of its time (the
        delivery job was down) is not sent days late."""
        if self.firing.get("trigger") != "date" or self.firing.get("matched_at"):
            return False
        late = timedelta(hours=self.ctx.program.care.late_date_hours)
        return parse_rfc3339(str(self.firing["due_at"])) < self.ctx.now - late

    def _matches(self, stored: StoredRule, facts: Facts, event: Item | None) -> bool:
        data = plain(dict(event.get("data") or {})) if event else None
        if engine.evaluate(stored.rule.conditions, facts, data):
            return True
        if stored.rule.guards.once_per == "match" and self.firing.get("trigger") not in REARMED_TRIGGERS:
            firings.forget_match(self.ctx.table, self.tenant, self.member, stored.rule_id)
        return False

    def _act(self, stored: StoredRule, facts: Facts, event: Item | None) -> bool:
        rule = stored.rule
        todo = [n for n in range(len(rule.actions)) if n not in self.done]
        blocked = {
            n: reason
            for n in todo
            if isinstance(action := rule.actions[n], EmailAction)
            and (reason := email_block(action, facts.profile))
        }
        if todo and all(n in blocked for n in todo):
            return self.finish([Entry("skipped", blocked[n], n, "email") for n in todo])
        if not self._hold_once(stored, facts):
            return self.finish([Entry("skipped", "once")])
        local = self.ctx.now.astimezone(facts.zone(self.ctx.tz))
        for n in todo:
            if n in blocked:
                entry: Entry | str = Entry("skipped", blocked[n], n, "email")
            else:
                entry = self._perform(n, rule.actions[n], facts, event, local)
            if entry == actions.IN_FLIGHT:
                return False
            if isinstance(entry, tuple):  # deferred to the end of the quiet hours
                return self._defer(entry[1], n)
            assert isinstance(entry, Entry)
            if not self._progress(n, entry):
                return True  # another run moved the firing on
        return self.finish([])

    def _hold_once(self, stored: StoredRule, facts: Facts) -> bool:
        matched = parse_rfc3339(self._matched_at()).astimezone(facts.zone(self.ctx.tz))
        period = engine.period(stored.rule.guards.once_per, matched, str(self.firing["instance"]))
        if period is None:
            return True
        return firings.hold_once(
            self.ctx.table,
            self.tenant,
            self.member,
            stored.rule_id,
            period,
            str(self.firing["instance"]),
            iso(self.ctx.now),
        )

    def _perform(self, n: int, action: Any, facts: Facts, event: Item | None, local: Any) -> Any:
        ctx = self.ctx
        if isinstance(action, EmailAction):
            return self._email(n, action, facts, event, local)
        if isinstance(action, TaskAction):
            return actions.create_task(ctx, self.firing, n, action, facts)
        if isinstance(action, PointsAction):
            return actions.grant_points(ctx, self.firing, n, action)
        if isinstance(action, EventAction):
            return actions.publish(ctx, self.firing, n, action, facts)
        raise TypeError(f"unknown action {type(action).__name__}")

    def _email(self, n: int, action: EmailAction, facts: Facts, event: Item | None, local: Any) -> Any:
        care = self.ctx.program.care
        instance = str(self.firing["instance"])
        if action.marketing:
            sent, _ = firings.cap_record(self.ctx.table, self.tenant, self.member)
            if engine.over_cap(sent, instance, local.date(), care.frequency_cap, care.cap_days):
                return Entry("skipped", "frequency_cap", n, "email")
        until = engine.quiet_until(
            local, engine.clock(care.quiet_hours_start), engine.clock(care.quiet_hours_end)
        )
        if until is not None:
            return ("defer", until)
        # Consent at send time: the profile as it is now.
        reason = email_block(action, firings.profile(self.ctx.table, self.tenant, self.member))
        if reason is not None:
            return Entry("skipped", reason, n, "email")
        if action.marketing and not self._reserve_cap(instance, local.date()):
            return Entry("skipped", "frequency_cap", n, "email")
        return actions.send_email(self.ctx, self.firing, n, action, facts, event)

    def _reserve_cap(self, instance: str, day: Any) -> bool:
        care = self.ctx.program.care

        def attempt() -> bool:
            sent, version = firings.cap_record(self.ctx.table, self.tenant, self.member)
            if engine.over_cap(sent, instance, day, care.frequency_cap, care.cap_days):
                return False
            if instance not in sent:
                firings.save_cap(
                    self.ctx.table,
                    self.tenant,
                    self.member,
                    engine.reserve(sent, instance, day, care.cap_days),
                    version,
                )
            return True

        return optimistic(attempt, what="frequency cap")


def deliver_due(ctx: Context, index_entry: Item) -> bool:
    """Deliver the firing an index entry lists, read consistently first: one already
    finished, or not yet due (the index lags), is left as it is."""
    firing = firings.get(ctx.table, str(index_entry["pk"]), str(index_entry["sk"]))
    if firing is None or firing.get("state") not in WAITING or str(firing["due_at"]) > iso(ctx.now):
        return True
    return FiringRun(ctx, firing).run()
