"""A care rule as a manager writes it, and the checks every stored rule has passed.
Pure: no AWS here.

``validate_rule`` is the one way in: the API's PUT, the default rule set
(``config/care_rules.yaml``) and anything else that takes a rule from outside go
through it. A rule it returns

* has exactly the documented shape (unknown fields are errors): a ``trigger``
  (``event``, ``date``, ``inactivity`` or ``delay``), optional ``conditions``
  (``all`` / ``any`` / ``not`` over ``{field, op, value}`` leaves), at least one
  action (``email``, ``task``, ``points``, ``event``) and ``guards``;
* names only event types the event log can hold (every storefront event type and
  ``SYSTEM_EVENT_TYPES``), and only condition fields of the member 360 view (plus
  ``event.data.*`` for an ``event`` trigger), with a value that fits the operator;
* cannot trigger itself: no action causes (``ACTION_CAUSES``) the event its
  trigger waits for.

Refusals are :class:`InvalidRule` with the dotted path of the first problem
(``trigger.event_type``, ``conditions.all.0.field``). Durations are ISO 8601
(``PT4H``, ``P14D``) and are kept as written; ``duration()`` reads them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
)

from loyalty.events.models import EVENT_TYPES

SYSTEM_EVENT_TYPES = frozenset(
    {"points.tier_changed", "points.expiring", "member.stage_changed", "ticket.resolved"}
)
TRIGGER_EVENT_TYPES = EVENT_TYPES | SYSTEM_EVENT_TYPES

# What each action can cause in the event log: loop protection refuses a rule whose
# trigger waits for one of them. Points move the tier and, later, expire.
ACTION_CAUSES: dict[str, frozenset[str]] = {
    "email": frozenset(),
    "task": frozenset(),
    "points": frozenset({"points.tier_changed", "points.expiring"}),
    "event": frozenset(),  # published to the event bus, never written to the event log
}

# Fields of the member 360 view a condition may read (``stats.*`` and ``points.*``
# name the view's scalar figures).
PLAIN_FIELDS = frozenset({"tier", "lifecycle_stage", "tags", "rfm.segment", "profile.locale"})
STATS_FIELDS = frozenset(
    {
        "orders_count",
        "total_spend",
        "average_order_value",
        "first_order_at",
        "last_order_at",
        "orders_last_30_days",
    }
)
POINTS_FIELDS = frozenset({"available", "pending", "held", "lifetime_earned"})
EVENT_DATA_PREFIX = "event.data."
_DATA_PATH = re.compile(r"^[A-Za-z0-9_-]{1,64}(\.[A-Za-z0-9_-]{1,64}){0,7}$")

Operator = Literal["eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "contains"]
ORDERING = frozenset({"gt", "gte", "lt", "lte"})
LISTS = frozenset({"in", "not_in"})
MAX_DURATION = timedelta(days=366)
_DURATION = re.compile(r"^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")
# Union branches appear in pydantic's error locations under these tags; they are not fields.
TAG_PREFIX = "~"
TYPE_ERROR = "unknown_type"
CONDITION_ERROR = "unknown_condition"


class InvalidRule(ValueError):
    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def duration(text: str) -> timedelta:
    """An ISO 8601 duration in weeks, days, hours, minutes and seconds (``P3D``, ``PT4H``,
    ``P1DT12H``); years and months are refused (their length varies)."""
    found = _DURATION.match(text)
    if not found or text in ("P", "PT") or text.endswith("T"):
        raise ValueError("an ISO 8601 duration such as PT4H, P3D or P1DT12H (no years or months)")
    weeks, days, hours, minutes, seconds = (int(g or 0) for g in found.groups())
    return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)


def _positive_duration(text: str) -> str:
    span = duration(text)
    if not timedelta(0) < span <= MAX_DURATION:
        raise ValueError(f"a duration above zero and at most {MAX_DURATION.days} days")
    return text


def _known_event(name: str) -> str:
    if name not in TRIGGER_EVENT_TYPES:
        raise ValueError(f"unknown event type {name!r}")
    return name


Duration = Annotated[str, AfterValidator(_positive_duration), Field(examples=["PT4H", "P3D"])]
EventType = Annotated[
    str, AfterValidator(_known_event), Field(json_schema_extra={"enum": sorted(TRIGGER_EVENT_TYPES)})
]
RULE_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
Slug = Annotated[str, Field(pattern=RULE_ID_PATTERN)]
StaffId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@+\-]+$")]
Text = Annotated[str, Field(min_length=1, max_length=200)]
Scalar = str | bool | int | float
Value = Scalar | list[Scalar] | None


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# Triggers -----------------------------------------------------------------------


class EventTrigger(Strict):
    type: Literal["event"]
    event_type: EventType


class DateTrigger(Strict):
    """Once a year on the member's ``field`` date, ``offset_days`` before (negative) or
    after, at ``at`` in the member's local time (the tenant's when the member has none)."""

    type: Literal["date"]
    field: Literal["birthday", "registered_at"]
    offset_days: int = Field(default=0, ge=-365, le=365)
    at: str = Field(default="09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    leap_day: Literal["feb28", "mar1"] = Field(
        default="feb28", description="where a 29 February date falls in other years"
    )


class InactivityTrigger(Strict):
    """``days`` after the member's last ``event_type``, none having followed."""

    type: Literal["inactivity"]
    event_type: EventType
    days: int = Field(ge=1, le=3650)


class DelayTrigger(Strict):
    """``delay`` after an ``after`` event, unless one of ``cancel_on`` comes first."""

    type: Literal["delay"]
    after: EventType
    delay: Duration
    cancel_on: list[EventType] = Field(default_factory=list, max_length=10)


def _tag_of(value: Any) -> str | None:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return f"{TAG_PREFIX}{kind}" if isinstance(kind, str) else None


def _discriminated(what: str) -> Discriminator:
    return Discriminator(
        _tag_of, custom_error_type=TYPE_ERROR, custom_error_message=f"unknown or missing {what} type"
    )


Trigger = Annotated[
    Annotated[EventTrigger, Tag("~event")]
    | Annotated[DateTrigger, Tag("~date")]
    | Annotated[InactivityTrigger, Tag("~inactivity")]
    | Annotated[DelayTrigger, Tag("~delay")],
    _discriminated("trigger"),
]


# Conditions ---------------------------------------------------------------------


class Leaf(Strict):
    field: str = Field(min_length=1, max_length=200, examples=["tier", "stats.orders_count"])
    op: Operator
    value: Value = None


class AllOf(Strict):
    all: list[Condition] = Field(min_length=1, max_length=20)


class AnyOf(Strict):
    any: list[Condition] = Field(min_length=1, max_length=20)


class NotOf(Strict):
    not_: Condition = Field(alias="not")


def _condition_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        for key in ("all", "any", "not"):
            if key in value:
                return f"{TAG_PREFIX}{key}"
        return f"{TAG_PREFIX}leaf"
    if isinstance(value, BaseModel):
        return {AllOf: "~all", AnyOf: "~any", NotOf: "~not"}.get(type(value), "~leaf")
    return None


Condition = Annotated[
    Annotated[AllOf, Tag("~all")]
    | Annotated[AnyOf, Tag("~any")]
    | Annotated[NotOf, Tag("~not")]
    | Annotated[Leaf, Tag("~leaf")],
    Discriminator(
        _condition_tag,
        custom_error_type=CONDITION_ERROR,
        custom_error_message="a condition is an object: all, any, not or {field, op, value}",
    ),
]


# Actions and guards -------------------------------------------------------------


class EmailAction(Strict):
    type: Literal["email"]
    template: Slug
    marketing: bool = Field(description="marketing email needs consent and counts against the frequency cap")


class TaskAction(Strict):
    type: Literal["task"]
    assignee: Literal["owner"] = "owner"
    fallback: StaffId = Field(description="the staff id when the member's owner is unknown or inactive")
    title: Text
    due: Duration


class PointsAction(Strict):
    type: Literal["points"]
    points: int = Field(gt=0, le=100_000)
    reason: Text


class EventAction(Strict):
    type: Literal["event"]
    detail_type: (
        Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:\- ]+$")] | None
    ) = None


Action = Annotated[
    Annotated[EmailAction, Tag("~email")]
    | Annotated[TaskAction, Tag("~task")]
    | Annotated[PointsAction, Tag("~points")]
    | Annotated[EventAction, Tag("~event")],
    _discriminated("action"),
]


class Guards(Strict):
    once_per: Literal["day", "week", "month", "year", "ever", "match"] | None = Field(
        default=None,
        description="null: every trigger; match: once each time the member starts matching",
    )


class CareRule(Strict):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    enabled: bool = True
    trigger: Trigger
    conditions: Condition | None = None
    actions: list[Action] = Field(min_length=1, max_length=10)
    guards: Guards = Guards()

    def document(self) -> dict[str, Any]:
        """The rule as stored and answered: every field, ``not`` by its name."""
        return self.model_dump(mode="json", by_alias=True)


# Validation ---------------------------------------------------------------------


def error_field(loc: tuple[Any, ...], error_type: str = "") -> str | None:
    """The dotted field path of a pydantic error location, without union tags; an
    unknown trigger or action type is reported on its ``type``."""
    parts = [str(p) for p in loc if not str(p).startswith(TAG_PREFIX)]
    if error_type == TYPE_ERROR:
        parts.append("type")
    return ".".join(parts) or None


def validate_rule(data: Any) -> CareRule:
    """``data`` as a rule, or :class:`InvalidRule` naming the first problem."""
    try:
        rule = CareRule.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        raise InvalidRule(error_field(tuple(first["loc"]), first["type"]), first["msg"]) from err
    check(rule)
    return rule


def validate_rule_set(data: Any) -> dict[str, CareRule]:
    """A rule set (``{"rules": {<rule id>: <rule>}}``, the form of the default rule set)
    with every rule validated; problems are named ``rules.<id>.<field>``."""
    rules = data.get("rules") if isinstance(data, dict) else None
    if not isinstance(rules, dict) or set(data) != {"rules"}:
        raise InvalidRule("rules", "a rule set is {rules: {<rule id>: <rule>}}")
    found: dict[str, CareRule] = {}
    for rule_id, rule in rules.items():
        if not isinstance(rule_id, str) or not re.match(RULE_ID_PATTERN, rule_id):
            raise InvalidRule(f"rules.{rule_id}", f"a rule id matches {RULE_ID_PATTERN}")
        try:
            found[rule_id] = validate_rule(rule)
        except InvalidRule as err:
            raise InvalidRule(f"rules.{rule_id}.{err.field}", err.message) from err
    return found


def check(rule: CareRule) -> None:
    """What the shape alone cannot say: condition fields and values, and loop protection."""
    if rule.conditions is not None:
        for path, leaf in _leaves(rule.conditions, "conditions"):
            _check_leaf(leaf, path, event_trigger=rule.trigger.type == "event")
    waits_for = _trigger_event(rule.trigger)
    for n, action in enumerate(rule.actions):
        if waits_for is not None and waits_for[1] in ACTION_CAUSES[action.type]:
            raise InvalidRule(
                waits_for[0],
                f"actions.{n} ({action.type}) can cause {waits_for[1]}, which triggers this rule again",
            )


def _trigger_event(trigger: Any) -> tuple[str, str] | None:
    if isinstance(trigger, EventTrigger):
        return "trigger.event_type", trigger.event_type
    if isinstance(trigger, DelayTrigger):
        return "trigger.after", trigger.after
    return None


def _leaves(condition: Any, path: str) -> Iterator[tuple[str, Leaf]]:
    if isinstance(condition, Leaf):
        yield path, condition
    elif isinstance(condition, NotOf):
        yield from _leaves(condition.not_, f"{path}.not")
    else:
        key = "all" if isinstance(condition, AllOf) else "any"
        for n, inner in enumerate(getattr(condition, key)):
            yield from _leaves(inner, f"{path}.{key}.{n}")


def known_field(name: str, *, event_trigger: bool) -> bool:
    if name in PLAIN_FIELDS:
        return True
    group, _, rest = name.partition(".")
    if group == "stats":
        return rest in STATS_FIELDS
    if group == "points":
        return rest in POINTS_FIELDS
    if name.startswith(EVENT_DATA_PREFIX):
        return event_trigger and bool(_DATA_PATH.match(name.removeprefix(EVENT_DATA_PREFIX)))
    return False


def _check_leaf(leaf: Leaf, path: str, *, event_trigger: bool) -> None:
    if not known_field(leaf.field, event_trigger=event_trigger):
        hint = " (event.data.* only with an event trigger)" if leaf.field.startswith("event.") else ""
        raise InvalidRule(f"{path}.field", f"unknown condition field {leaf.field!r}{hint}")
    value = leaf.value
    if leaf.op in LISTS:
        if not isinstance(value, list) or not value:
            raise InvalidRule(f"{path}.value", f"{leaf.op} needs a non-empty list")
    elif isinstance(value, list):
        raise InvalidRule(f"{path}.value", f"{leaf.op} takes one value, not a list")
    elif leaf.op in ORDERING and (value is None or isinstance(value, bool)):
        raise InvalidRule(f"{path}.value", f"{leaf.op} needs a number, a decimal string or a time")
    elif leaf.op == "contains" and value is None:
        raise InvalidRule(f"{path}.value", "contains needs a value")
