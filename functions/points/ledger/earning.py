"""Earning rules: what an order earns (points per whole currency unit, weighted
by category, campaign and tier multipliers, rounded down once) and which
bonuses go with it. Pure: a quote moves nothing; the book credits it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, Decimal
from zoneinfo import ZoneInfo

from loyalty.program import Points
from loyalty.timeutil import parse_rfc3339
from points.ledger.state import Account


@dataclass(frozen=True)
class OrderLine:
    category: str | None
    amount: Decimal  # quantity x unit price


@dataclass(frozen=True)
class Quote:
    order_points: int  # qualifying points from the order itself
    bonuses: list[tuple[str, int]]
    rules: list[str]

    @property
    def total(self) -> int:
        return self.order_points + sum(points for _, points in self.bonuses)


def quote(
    total: Decimal,
    lines: list[OrderLine],
    placed_day: date,
    tier: str,
    rules: Points,
    *,
    first_order: bool,
    birthday_month: bool,
) -> Quote:
    """What an order earns: points per whole currency unit, each line weighted by
    its category and campaign multipliers (the order total is spread over the
    lines in proportion, so discounts and shipping are shared fairly), times the
    tier multiplier, rounded down once; plus bonuses."""
    if total < 0:
        raise ValueError("order total cannot be negative")
    applied = [f"{rules.points_per_unit} point(s) per whole currency unit of {total}"]
    line_sum = sum((line.amount for line in lines), Decimal(0))
    shares = (
        [(line.category, total * line.amount / line_sum) for line in lines]
        if line_sum > 0
        else [(None, total)]
    )
    weighted = Decimal(0)
    for category, share in shares:
        factor = Decimal(1)
        if category and category in rules.category_multipliers:
            factor *= rules.category_multipliers[category]
            applied.append(f"category {category} x{rules.category_multipliers[category]}")
        for campaign in rules.campaigns:
            if campaign.starts_on <= placed_day <= campaign.ends_on and (
                not campaign.categories or (category in campaign.categories)
            ):
                factor *= campaign.multiplier
                applied.append(f"campaign {campaign.name} x{campaign.multiplier}")
        weighted += share * factor
    tier_rule = next((t for t in rules.tiers if t.name == tier), rules.tiers[0])
    if tier_rule.multiplier != 1:
        applied.append(f"tier {tier_rule.name} x{tier_rule.multiplier}")
    points = int(
        (weighted * rules.points_per_unit * tier_rule.multiplier).to_integral_value(rounding=ROUND_FLOOR)
    )
    bonuses = []
    if first_order and rules.bonuses.first_order:
        bonuses.append(("first_order", rules.bonuses.first_order))
        applied.append(f"first order bonus +{rules.bonuses.first_order}")
    if birthday_month and rules.bonuses.birthday_month:
        bonuses.append(("birthday_month", rules.bonuses.birthday_month))
        applied.append(f"birthday month bonus +{rules.bonuses.birthday_month}")
    return Quote(points, bonuses, list(dict.fromkeys(applied)))


def quote_for(
    account: Account,
    total: Decimal,
    lines: list[OrderLine],
    placed_at: str,
    birthday: str | None,
    rules: Points,
    tz: ZoneInfo,
    *,
    bonuses: bool = True,
) -> Quote:
    """``bonuses`` False: an order that arrives already cancelled or refunded in full
    earns no bonus (and does not count as the first order)."""
    day = parse_rfc3339(placed_at).astimezone(tz).date()
    in_birthday_month = birthday is not None and birthday[-5:-3] == f"{day.month:02d}"
    return quote(
        total,
        lines,
        day,
        account.tier or rules.tiers[0].name,
        rules,
        first_order=bonuses and account.first_order_id is None,
        birthday_month=bonuses and in_birthday_month and str(day.year) not in account.birthday_bonus,
    )
