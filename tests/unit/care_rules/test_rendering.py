"""Care email rendering: every shipped template in both locales, escaping, the sandbox,
strict variables, tenant overrides, override validation naming the line, inlined CSS,
a one-line subject, and the choice of locale."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from care_rules import rendering
from care_rules.rendering import LOCALES, SAMPLE_VARIABLES, TEMPLATE_IDS, TemplateError

pytestmark = pytest.mark.unit

EVERY = [(t, loc) for t in sorted(TEMPLATE_IDS) for loc in LOCALES]
MINIMAL = (
    "{% block subject %}Hello {{ member.name }}{% endblock %}\n"
    "{% block html %}<p>Hi {{ member.name }}</p>{% endblock %}\n"
    "{% block text %}Hi {{ member.name }}{% endblock %}\n"
)
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def _vars(**member: Any) -> dict[str, Any]:
    variables = copy.deepcopy(dict(SAMPLE_VARIABLES))
    variables["member"].update(member)
    return variables


def test_the_shipped_set() -> None:
    assert {
        "birthday-greeting",
        "first-order-thanks",
        "cart-abandoned",
        "points-expiring",
        "tier-changed",
        "ticket-csat",
        "nps-after-order",
        "care-task-assigned",
    } == TEMPLATE_IDS
    shipped = {p.name for p in rendering.TEMPLATES_DIR.glob("*.jinja") if not p.name.startswith("_")}
    assert shipped == {rendering.template_name(t, loc) for t, loc in EVERY}


@pytest.mark.parametrize(("template_id", "locale"), EVERY)
def test_every_template_renders_in_both_locales(template_id: str, locale: str) -> None:
    out = rendering.render(template_id, locale, SAMPLE_VARIABLES)
    assert out.subject and "\n" not in out.subject
    assert out.html.startswith("<!DOCTYPE html>") and f'lang="{locale}"' in out.html
    assert out.text.strip()
    name = SAMPLE_VARIABLES["member"]["name"] if template_id != "care-task-assigned" else "m-1001"
    assert name in out.html and name in out.text
    # the copy is in the locale's language (the layout's footer too)
    body = re.sub(r"<[^>]+>|林晓|星享会|尺码不合适，申请换货", "", out.text)
    if locale == "zh-CN":
        assert CHINESE.search(body) and "此邮件由" in out.text
    else:
        assert not CHINESE.search(body) and "This email was sent" in out.text


@pytest.mark.parametrize(("template_id", "locale"), EVERY)
def test_css_is_inlined_and_the_style_kept_for_media_queries(template_id: str, locale: str) -> None:
    html = rendering.render(template_id, locale, SAMPLE_VARIABLES).html
    assert re.search(r'<div class="container" style="[^"]*max-width: 600px', html)
    assert "<style>" in html and "@media" in html


@pytest.mark.parametrize("template_id", sorted(rendering.MARKETING_TEMPLATES))
@pytest.mark.parametrize("locale", LOCALES)
def test_marketing_email_carries_the_unsubscribe_link_and_needs_it(template_id: str, locale: str) -> None:
    url = SAMPLE_VARIABLES["unsubscribe_url"]
    out = rendering.render(template_id, locale, SAMPLE_VARIABLES)
    assert f'href="{url}"' in out.html and url in out.text
    without = {k: v for k, v in SAMPLE_VARIABLES.items() if k != "unsubscribe_url"}
    with pytest.raises(TemplateError, match="unsubscribe_url"):
        rendering.render(template_id, locale, without)


@pytest.mark.parametrize("locale", LOCALES)
def test_transactional_email_shows_the_link_only_when_given(locale: str) -> None:
    without = {k: v for k, v in SAMPLE_VARIABLES.items() if k != "unsubscribe_url"}
    out = rendering.render("first-order-thanks", locale, without)
    assert "unsubscribe" not in out.html.lower() and "退订" not in out.html
    given = rendering.render("first-order-thanks", locale, SAMPLE_VARIABLES)
    assert SAMPLE_VARIABLES["unsubscribe_url"] in given.html


@pytest.mark.parametrize("locale", LOCALES)
def test_a_member_without_a_name_gets_a_polite_greeting(locale: str) -> None:
    out = rendering.render("birthday-greeting", locale, _vars(name=""))
    greeting = "尊敬的会员，您好！" if locale == "zh-CN" else "Hello,"
    assert out.text.startswith(greeting)
    assert ", !" not in out.subject and "，生日" not in out.subject


def test_a_member_name_is_escaped_in_html_and_left_alone_in_subject_and_text() -> None:
    out = rendering.render("birthday-greeting", "en", _vars(name="<script>alert(1)</script>"))
    assert "<script>" not in out.html and "&lt;script&gt;alert(1)&lt;/script&gt;" in out.html
    assert "<script>alert(1)</script>" in out.subject and "<script>alert(1)</script>" in out.text


def test_money_points_and_dates_in_the_locale_style() -> None:
    zh = rendering.render("points-expiring", "zh-CN", SAMPLE_VARIABLES)
    en = rendering.render("points-expiring", "en", SAMPLE_VARIABLES)
    assert "2026年3月31日" in zh.subject and "March 31, 2026" in en.subject
    assert "1,280" in zh.text and "1,280" in en.text
    order = rendering.render("first-order-thanks", "zh-CN", SAMPLE_VARIABLES)
    assert "¥1,299.00" in order.text
    usd = copy.deepcopy(dict(SAMPLE_VARIABLES))
    usd["order"]["currency"] = "USD"
    assert "$1,299.00" in rendering.render("first-order-thanks", "en", usd).text
    task = rendering.render("care-task-assigned", "en", SAMPLE_VARIABLES)
    assert "March 4, 2026, 09:00" in task.subject and "¥8,640.50" in task.text


def test_the_subject_is_one_line() -> None:
    source = MINIMAL.replace("Hello {{ member.name }}", "  Hello\n\n   {{ member.name }}\t! \n")
    out = rendering.validate_source("tier-changed", "en", source)
    assert out.subject == "Hello 林晓 !"


@pytest.mark.parametrize(
    "expression",
    [
        "''.__class__.__mro__",
        "''.__class__",
        "member.__class__.__init__.__globals__",
        "cycler.__init__.__globals__",
        "[].append(1)",
        "member.update({'x': 1})",
        "'a' * 10000000",
        "2 ** 1000000",
    ],
)
def test_the_sandbox_refuses(expression: str) -> None:
    source = MINIMAL.replace("<p>Hi {{ member.name }}</p>", "<p>{{ " + expression + " }}</p>")
    with pytest.raises(TemplateError) as err:
        rendering.validate_source("tier-changed", "en", source)
    assert err.value.field == "source" and "line 2" in err.value.message


def test_an_override_replaces_the_shipped_file_and_can_use_the_layout() -> None:
    source = (
        "{% block subject %}Tenant subject {{ member.tier | tier_name }}{% endblock %}\n"
        "{% block html %}{% from '_layout.html.jinja' import page with context %}"
        "{% call page('Our own words') %}<p class='x'>Custom {{ member.name }}</p>{% endcall %}"
        "{% endblock %}\n"
        "{% block text %}Custom text{% endblock %}\n"
    )
    overrides = {"tier-changed.en": source, "tier-changed.zh-CN": MINIMAL}
    en = rendering.render("tier-changed", "en", SAMPLE_VARIABLES, overrides)
    assert en.subject == "Tenant subject Gold"
    assert "Our own words" in en.html and 'style="' in en.html and en.text == "Custom text\n"
    zh = rendering.render("tier-changed", "zh-CN", SAMPLE_VARIABLES, overrides)
    assert zh.subject == "Hello 林晓"
    # another template of the same tenant keeps the shipped file
    shipped = rendering.render("points-expiring", "en", SAMPLE_VARIABLES, overrides)
    assert shipped == rendering.render("points-expiring", "en", SAMPLE_VARIABLES)


@pytest.mark.parametrize(
    ("source", "line", "what"),
    [
        (MINIMAL + "\n{% if %}\n", 5, "syntax error"),
        (MINIMAL.replace("<p>Hi {{ member.name }}</p>", "<p>\n{{ member.nickname }}</p>"), 3, "undefined"),
        (MINIMAL.replace("Hi {{ member.name }}{% endblock", "\n\n{{ nope.x }}{% endblock"), 5, "nope"),
        (MINIMAL + "{{ x | no_such_filter }}\n", 4, "no_such_filter"),
    ],
)
def test_validate_source_names_the_field_and_line(source: str, line: int, what: str) -> None:
    with pytest.raises(TemplateError) as err:
        rendering.validate_source("points-expiring", "en", source)
    assert err.value.field == "source"
    assert err.value.message.startswith(f"line {line}:") and what in err.value.message


def test_validate_source_wants_every_block() -> None:
    with pytest.raises(TemplateError, match=r"block text") as err:
        rendering.validate_source("points-expiring", "en", MINIMAL.split("{% block text")[0])
    assert err.value.field == "source"


def test_an_optional_variable_is_tested_with_is_defined() -> None:
    link = "{% if survey_url is defined %}<a href='{{ survey_url }}'>go</a>{% endif %}"
    source = MINIMAL.replace("<p>Hi", link + "<p>Hi")
    assert "go</a>" not in rendering.validate_source("ticket-csat", "en", source).html
    given = {**SAMPLE_VARIABLES, "survey_url": "https://example.com/s"}
    out = rendering.render("ticket-csat", "en", given, {"ticket-csat.en": source})
    assert "https://example.com/s" in out.html


def test_unknown_template_or_locale() -> None:
    with pytest.raises(TemplateError) as err:
        rendering.render("no-such", "en", SAMPLE_VARIABLES)
    assert err.value.field == "template_id"
    with pytest.raises(TemplateError) as err:
        rendering.render("tier-changed", "fr", SAMPLE_VARIABLES)
    assert err.value.field == "locale"


def test_a_remote_stylesheet_is_not_fetched() -> None:
    source = MINIMAL.replace("<p>Hi", "<link rel='stylesheet' href='https://203.0.113.1/x.css'><p>Hi")
    assert "Hi 林晓" in rendering.validate_source("tier-changed", "en", source).html


@pytest.mark.parametrize(
    ("member", "tenant", "expected"),
    [
        ("en", "zh-CN", "en"),
        ("en-US", "zh-CN", "en"),
        ("en_GB", "zh-CN", "en"),
        ("zh", "en", "zh-CN"),
        ("zh_CN", "en", "zh-CN"),
        ("zh-Hans-CN", "en", "zh-CN"),
        ("fr-FR", "en", "en"),
        ("zh-TW", "en", "en"),
        (None, "en-US", "en"),
        ("", "zh-CN", "zh-CN"),
        ("de", "fr", "zh-CN"),
    ],
)
def test_pick_locale(member: str | None, tenant: str, expected: str) -> None:
    assert rendering.pick_locale(member, tenant) == expected
