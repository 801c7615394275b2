"""The ticket rules: opening under the first matching policy, load moves, PATCH and
messages on the status workflow, erased text never stored again."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from loyalty.errors import Conflict
from tickets import logic
from tickets.service_config import ServiceConfig

CONFIG = ServiceConfig.model_validate(
    yaml.safe_load((Path(__file__).resolve().parents[3] / "config" / "service.yaml").read_text())
)
NOW = datetime(2026, 3, 11, 1, 0, tzinfo=UTC)


def _ticket(**fields: object) -> logic.Ticket:
    base = {
        "subject": "Parcel lost",
        "description": "It never came",
        "member_id": "m-1",
        "member_tier": None,
        "member_erased": False,
        "priority": "normal",
        "category": "delivery",
        "queue": "service",
    }
    return logic.open_ticket("demo", "web", NOW, CONFIG, **{**base, **fields})  # type: ignore[arg-type]


def test_opening_picks_the_first_matching_policy() -> None:
    assert (_ticket().policy, _ticket().status) == ("default", "new")
    assert _ticket(priority="urgent").policy == "urgent"
    assert _ticket(priority="urgent", member_tier="gold").policy == "vip"  # vip is listed first
    erased = _ticket(member_erased=True)
    assert (erased.subject, erased.description, erased.erased) == ("(erased)", "", True)


def test_loads_follow_the_holder() -> None:
    ticket = replace(_ticket(), assignee="a")
    assert logic.load_moves(None, ticket) == {"a": 1}
    assert logic.load_moves(ticket, replace(ticket, assignee="b")) == {"a": -1, "b": 1}
    assert logic.load_moves(ticket, replace(ticket, status="resolved")) == {"a": -1}
    assert logic.load_moves(replace(ticket, status="resolved"), replace(ticket, status="open")) == {"a": 1}
    assert logic.load_moves(ticket, ticket) == {}


def test_patch_records_each_change_and_rematches_the_policy() -> None:
    revision = logic.patch(_ticket(), CONFIG, "lead-1", NOW, priority="high", category="return", assignee="a")
    assert [(c.field, c.before, c.after) for c in revision.changes] == [
        ("priority", "normal", "high"),
        ("category", "delivery", "return"),
        ("assignee", None, "a"),
        ("policy", "default@1", "high@1"),
    ]
    assert revision.ticket.policy == "high" and revision.loads == {"a": 1}
    same = logic.patch(revision.ticket, CONFIG, "lead-1", NOW, priority="high")
    assert not same.changed


def test_resolving_is_reported_and_closed_takes_nothing() -> None:
    resolved = logic.patch(_ticket(), CONFIG, "lead-1", NOW, status="resolved")
    assert resolved.resolved and resolved.ticket.resolved_at == NOW
    closed = logic.patch(resolved.ticket, CONFIG, "lead-1", NOW, status="closed").ticket
    assert closed.resolved_at == NOW
    with pytest.raises(Conflict) as refused:
        logic.patch(closed, CONFIG, "lead-1", NOW, priority="urgent")
    assert refused.value.code == "invalid_transition"
    with pytest.raises(Conflict) as message:
        logic.add_message(closed, message_id="m", kind="customer", author="c", body="hi", at=NOW)
    assert message.value.code == "ticket_closed"


def test_messages_move_the_status_and_erased_text_is_not_stored() -> None:
    opened = _ticket()
    reply = logic.add_message(opened, message_id="m1", kind="reply", author="a", body="On it", at=NOW)
    assert reply.ticket.status == "open" and reply.changes[0].by == "a"
    note = logic.add_message(reply.ticket, message_id="m2", kind="note", author="a", body="fyi", at=NOW)
    assert note.ticket.status == "open" and note.changes == ()
    erased = replace(note.ticket, erased=True)
    customer = logic.add_message(
        erased, message_id="m3", kind="customer", author="c", body="my address", at=NOW
    )
    assert customer.messages[0].body == "" and customer.ticket.messages[-1].body == ""


def test_auto_close_waits_seven_days() -> None:
    resolved = logic.patch(_ticket(), CONFIG, "lead-1", NOW, status="resolved").ticket
    assert not logic.auto_close(resolved, NOW + timedelta(days=7) - timedelta(seconds=1)).changed
    closed = logic.auto_close(resolved, NOW + timedelta(days=7))
    assert closed.ticket.status == "closed" and closed.changes[0].by == "system"


def test_a_new_policy_version_is_recorded_at_the_next_change() -> None:
    opened = _ticket()
    raised = CONFIG.model_copy(
        update={
            "policies": [
                p.model_copy(update={"version": 2, "first_response": 60}) if p.name == "default" else p
                for p in CONFIG.policies
            ]
        }
    )
    revision = logic.add_message(opened, message_id="m1", kind="note", author="a", body="x", at=NOW)
    synced = logic.with_current_policy(revision, raised, NOW)
    assert synced.ticket.policy_version == 2
    assert [(c.field, c.before, c.after, c.by) for c in synced.changes] == [
        ("policy", "default@1", "default@2", "system")
    ]
    assert logic.with_current_policy(revision, CONFIG, NOW) == revision
