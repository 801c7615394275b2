"""The words of the KPI report, in ``zh-CN`` and ``en``: the sections and the figures in
the order the email and the CSV list them, each figure's kind, the headline figures, the
captions of the charts, and how a figure and its change are written
(:func:`format_value`, :func:`change`).

Pure data: every figure of docs/kpis.md has a label in both locales and belongs to one
section (a test holds this); a figure the report carries but this module does not know
is listed under ``other`` with its own name."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

NONE = "—"  # a figure that cannot be computed (null)
SAME = "–"  # no change, or nothing to compare with
LOCALES = ("zh-CN", "en")
DEFAULT_LOCALE = "zh-CN"

# count: an integer; money: a decimal string in the base currency; rate: 0..1 (shown as a
# percentage, compared in percentage points); number: any other number (compared as a
# percentage, or in points for NPS); breakdown: a mapping of key -> count.
Kind = Literal["count", "money", "rate", "number", "score", "breakdown"]

SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("sales", ("orders", "gross_revenue", "refunds", "net_revenue", "average_order_value")),
    (
        "customers",
        (
            "active_customers", "new_customers", "repurchase_rate", "returning_customer_rate",
            "churn_rate", "retention_rate", "clv", "purchase_frequency", "expected_lifetime_years",
            "gross_margin",
        ),
    ),
    ("voice", ("nps", "csat", "nps_responses", "csat_responses")),
    (
        "service",
        (
            "tickets_opened", "tickets_resolved", "sla_first_response", "sla_next_reply", "sla_resolution",
            "median_first_response_business_minutes", "median_first_response_calendar_minutes",
            "one_touch_rate", "reopen_rate", "complaint_rate",
        ),
    ),
    (
        "points",
        (
            "points_issued", "points_redeemed", "points_expired", "points_clawed_back", "points_adjusted",
            "points_outstanding", "point_value", "expected_redemption_rate", "breakage_rate",
            "points_liability", "deferred_revenue", "revenue_released",
        ),
    ),
    (
        "members",
        (
            "members_total", "registrations", "by_lifecycle_stage", "by_tier",
            "tier_upgrades", "tier_downgrades",
        ),
    ),
    ("care", ("care_sent", "care_skipped", "tasks_created", "tasks_completed", "tasks_overdue")),
)  # fmt: skip
OTHER_SECTION = "other"

HEADLINE = (
    "orders", "net_revenue", "active_customers", "repurchase_rate", "churn_rate",
    "nps", "csat", "sla_first_response", "points_liability",
)  # fmt: skip

_MONEY = {
    "gross_revenue", "refunds", "net_revenue", "average_order_value", "clv",
    "point_value", "points_liability", "deferred_revenue", "revenue_released",
}  # fmt: skip
_RATES = {
    "repurchase_rate", "returning_customer_rate", "churn_rate", "retention_rate", "csat",
    "sla_first_response", "sla_next_reply", "sla_resolution", "one_touch_rate", "reopen_rate",
    "complaint_rate", "expected_redemption_rate", "breakage_rate",
}  # fmt: skip
_NUMBERS = {
    "purchase_frequency", "expected_lifetime_years", "gross_margin",
    "median_first_response_business_minutes", "median_first_response_calendar_minutes",
}  # fmt: skip
_BREAKDOWNS = {"by_lifecycle_stage", "by_tier", "care_skipped"}
_KNOWN = {name for _, names in SECTIONS for name in names}


def kind(figure: str) -> Kind:
    """How ``figure`` is formatted and compared (an unknown figure counts as a number)."""
    if figure in _MONEY:
        return "money"
    if figure in _RATES:
        return "rate"
    if figure == "nps":
        return "score"
    if figure in _BREAKDOWNS:
        return "breakdown"
    if figure in _NUMBERS or figure not in _KNOWN:
        return "number"
    return "count"


def _table(text: str) -> dict[str, dict[str, str]]:
    """``key | zh-CN | en`` lines -> {locale: {key: words}}."""
    found: dict[str, dict[str, str]] = {locale: {} for locale in LOCALES}
    for line in text.strip().splitlines():
        key, zh, en = (part.strip() for part in line.split(" | "))
        found["zh-CN"][key], found["en"][key] = zh, en
    return found


SECTION_LABELS = _table(
    """
sales | 销售 | Sales
customers | 顾客 | Customers
voice | 顾客声音 | Voice of the customer
service | 服务 | Service
points | 积分 | Points
members | 会员 | Members
care | 关怀 | Care
other | 其他 | Other
"""
)

FIGURE_LABELS = _table(
    """
orders | 订单数 | Orders
gross_revenue | 总收入 | Gross revenue
refunds | 退款 | Refunds
net_revenue | 净收入 | Net revenue
average_order_value | 客单价 | Average order value
active_customers | 活跃顾客 | Active customers
new_customers | 新顾客 | New customers
repurchase_rate | 复购率 | Repurchase rate
returning_customer_rate | 回头客占比 | Returning customer rate
churn_rate | 流失率 | Churn rate
retention_rate | 留存率 | Retention rate
clv | 顾客终身价值 | Customer lifetime value
purchase_frequency | 购买频次（近 365 天） | Purchase frequency (365 days)
expected_lifetime_years | 预期生命周期（年） | Expected lifetime (years)
gross_margin | 毛利率 | Gross margin
nps | 净推荐值 NPS | NPS
csat | 满意度 CSAT | CSAT
nps_responses | NPS 答卷数 | NPS responses
csat_responses | CSAT 答卷数 | CSAT responses
tickets_opened | 新建工单 | Tickets opened
tickets_resolved | 已解决工单 | Tickets resolved
sla_first_response | 首次响应达标率 | SLA: first response
sla_next_reply | 后续回复达标率 | SLA: next reply
sla_resolution | 解决时效达标率 | SLA: resolution
median_first_response_business_minutes | 首次响应中位数（工作分钟） | Median first response (business minutes)
median_first_response_calendar_minutes | 首次响应中位数（自然分钟） | Median first response (calendar minutes)
one_touch_rate | 一次解决率 | One-touch resolution
reopen_rate | 重开率 | Reopen rate
complaint_rate | 投诉率 | Complaint rate
points_issued | 发放积分 | Points issued
points_redeemed | 兑换积分 | Points redeemed
points_expired | 过期积分 | Points expired
points_clawed_back | 追回积分 | Points clawed back
points_adjusted | 调整积分 | Points adjusted
points_outstanding | 未兑积分 | Points outstanding
point_value | 每积分价值 | Point value
expected_redemption_rate | 预期兑换率 | Expected redemption rate
breakage_rate | 沉淀率 | Breakage rate
points_liability | 积分负债 | Points liability
deferred_revenue | 递延收入 | Deferred revenue
revenue_released | 已确认收入 | Revenue released
members_total | 会员总数 | Members
registrations | 新注册 | Registrations
by_lifecycle_stage | 按生命周期阶段 | By lifecycle stage
by_tier | 按等级 | By tier
tier_upgrades | 升级 | Tier upgrades
tier_downgrades | 降级 | Tier downgrades
care_sent | 已发关怀 | Care messages sent
care_skipped | 跳过的关怀 | Care skipped
tasks_created | 新建任务 | Tasks created
tasks_completed | 完成任务 | Tasks completed
tasks_overdue | 逾期任务 | Tasks overdue
"""
)

# The keys of breakdowns (lifecycle stages, tiers, skip reasons); an unknown key shows as itself.
KEY_LABELS = _table(
    """
new | 新客 | New
active | 活跃 | Active
at_risk | 有流失风险 | At risk
lapsed | 已流失 | Lapsed
member | 普通会员 | Member
bronze | 铜卡 | Bronze
silver | 银卡 | Silver
gold | 金卡 | Gold
black | 黑卡 | Black
consent | 未同意接收 | No consent
quiet_hours | 免打扰时段 | Quiet hours
frequency_cap | 频次上限 | Frequency cap
unsubscribed | 已退订 | Unsubscribed
no_address | 无联系方式 | No address
"""
)

# Charts: name -> the series field it draws (points flow draws three figures instead).
CHARTS: tuple[tuple[str, str], ...] = (
    ("revenue", "gross_revenue"),
    ("orders", "orders"),
    ("active_customers", "active_customers"),
    ("sla_first_response", "sla_first_response"),
    ("points_flow", ""),
)
POINTS_FLOW = ("points_issued", "points_redeemed", "points_expired")

WORDS = _table(
    """
daily | 日报 | Daily report
weekly | 周报 | Weekly report
monthly | 月报 | Monthly report
headline | 核心指标 | Headline
charts | 趋势 | Trends
previous | 上期 | Previous
change | 变化 | Change
figure | 指标 | Figure
value | 本期 | This period
chart_revenue | 每日收入 | Revenue by day
chart_orders | 每日订单数 | Orders by day
chart_active_customers | 每日活跃顾客 | Active customers by day
chart_sla_first_response | 每日首次响应达标率 | SLA first-response compliance by day
chart_points_flow | 积分流动（发放、兑换、过期） | Points flow (issued, redeemed, expired)
no_data | 本期无数据 | No data this period
total | 合计 | total
highest | 最高 | highest
lowest | 最低 | lowest
days | 天 | days
cohorts | 同期群留存 | Cohort retention
cohort | 首购月 | First order month
size | 人数 | Size
retention | 第 k 月留存 | Retention by month k
restated | 更正的历史数据 | Restated figures
generated | 生成时间 | Generated
time_zone | 时区 | Time zone
currency | 币种 | Currency
attached | 完整数据见附件 CSV。 | Every figure is in the attached CSV.
subject_orders | 订单 {orders} | {orders} orders
subject_net | 净收入 {net} | {net} net
"""
)
WORDS["zh-CN"].update(
    subject_sep="，",
    colon="：",
    legend=(
        "变化与上期相比：订单、金额等为百分比，比率为百分点（pp），NPS 为分值；"
        "– 表示持平或无上期数据，— 表示无法计算。"
    ),
)
WORDS["en"].update(
    subject_sep=", ",
    colon=": ",
    legend=(
        "Change against the previous period: percent for counts and money, percentage points (pp) for "
        "rates, points for NPS; – means unchanged or no previous period, — means not computable."
    ),
)


def locale_of(value: str | None) -> str:
    """``en``, ``en-US``, ``en_GB`` -> ``en``; anything else -> ``zh-CN``."""
    return "en" if (value or "").strip().lower().replace("_", "-").split("-")[0] == "en" else DEFAULT_LOCALE


def figure_label(figure: str, locale: str) -> str:
    return FIGURE_LABELS[locale].get(figure, figure)


def key_label(key: str, locale: str) -> str:
    return KEY_LABELS[locale].get(key, key)


def section_of(figure: str) -> str:
    for section, names in SECTIONS:
        if figure in names:
            return section
    return OTHER_SECTION


# Formats -----------------------------------------------------------------------------


def number(value: Any) -> Decimal | None:
    """``value`` as a Decimal, or None when it is no number (None, a mapping, text)."""
    if value is None or isinstance(value, bool | Mapping):
        return None
    try:
        found = Decimal(str(value))
    except InvalidOperation:
        return None
    return found if found.is_finite() else None


def plain(amount: Decimal) -> str:
    """``12``, ``2.5``, ``0.33``: at most two decimals, no trailing zeros."""
    if amount == amount.to_integral_value():
        return str(amount.quantize(Decimal(1)))
    return f"{amount.quantize(Decimal('0.01')).normalize():f}"


def _money(amount: Decimal, currency: str) -> str:
    exponent = amount.as_tuple().exponent
    exact = amount if isinstance(exponent, int) and exponent < -2 else amount.quantize(Decimal("0.01"))
    return f"{exact:f} {currency}"


def format_value(figure: str, value: Any, currency: str, locale: str) -> str:
    """``value`` of ``figure`` as the email shows it (``—`` when it is null or no number)."""
    if isinstance(value, Mapping):
        return ", ".join(f"{key_label(str(k), locale)} {v}" for k, v in value.items()) or NONE
    amount = number(value)
    if amount is None:
        return NONE
    how = kind(figure)
    if how == "money":
        return _money(amount, currency)
    if how == "rate":
        return f"{amount * 100:.1f}%"
    if how == "score":
        return f"{amount:.1f}"
    return plain(amount)


def change(figure: str, current: Any, before: Any) -> str:
    """The change from ``before`` to ``current`` (``▲ +12.5%``, ``▼ −3``, ``▲ +2.1 pp``, ``–``):
    percent for counts, money and numbers (the difference itself when ``before`` is 0),
    percentage points for rates, points for NPS; ``–`` when unchanged or either is missing."""
    now, then = number(current), number(before)
    if now is None or then is None or now == then:
        return SAME
    delta = now - then
    how = kind(figure)
    if how == "rate":
        size = f"{abs(delta) * 100:.1f} pp"
    elif how == "score":
        size = f"{abs(delta):.1f}"
    elif then == 0:
        size = f"{abs(delta).quantize(Decimal('0.01')):f}" if how == "money" else plain(abs(delta))
    else:
        size = f"{abs(delta) / abs(then) * 100:.1f}%"
    return f"▲ +{size}" if delta > 0 else f"▼ −{size}"
