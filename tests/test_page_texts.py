"""Fixed page texts are translated when templates compile, and pages read as before."""

from __future__ import annotations

from typing import Any

import pytest
from jinja2 import Environment
from jinja2.ext import InternationalizationExtension

from pwless_gate.languages import SHIPPED, Languages
from pwless_gate.page_texts import TranslatedTexts
from pwless_gate.pages import _environment

EMAIL_SENDS = [
    {"send": "code", "label": "Email me a code"},
    {"send": "link", "label": "Email me a sign-in link"},
]
CODE = {
    "csrf_token": "CSRF",
    "tx": "TX",
    "channel": "email",
    "destination": "a***@example.com",
    "identifier": "ann@example.com",
    "next": "/wiki?a=<b>&c=%",
    "code_form": True,
    "resend": {"field": "email", "value": "ann@example.com", "send": "code"},
}
PAGES: dict[str, dict[str, Any]] = {
    "login.html": {
        "csrf_token": "CSRF",
        "next": "/wiki?a=<b>",
        "email_sends": EMAIL_SENDS,
        "sms": True,
        "phone_example": "+1 201-555-0123",
        "notice": "You are signed in as <ann>.",
    },
    "login.html, an error": {
        "csrf_token": "CSRF",
        "next": "/",
        "email_sends": EMAIL_SENDS[:1],
        "sms": False,
        "error": "Enter an email address like name@example.com.",
        "error_field": "email",
        "value": "<script>",
    },
    "code.html": {**CODE, "error": "That code is not right. Check it and try again."},
    "code.html, a text message": {**CODE, "channel": "sms"},
    "link_sent.html": CODE,
    "error.html": {"title": "Not found", "message": "There is no such page.", "next": "/"},
    "signed_out.html": {},
    "logout.html": {"user": "ann@example.com", "next": "/"},
}
LANGUAGES = Languages(tuple(SHIPPED), None)


def environment(tag: str, i18n: type[InternationalizationExtension]) -> Environment:
    env = _environment(None, LANGUAGES.translator(tag), i18n)
    env.globals.update(languages=LANGUAGES.names(), language_options="")
    return env


@pytest.mark.parametrize("tag", list(SHIPPED))
def test_every_page_reads_as_jinja2s_own_i18n_renders_it(tag: str) -> None:
    """The same bytes in every language as gettext called on every page: the
    extension changes when texts are translated, not what the pages say."""
    compiled = environment(tag, TranslatedTexts)
    plain = environment(tag, InternationalizationExtension)
    context = {"brand": {"name": "Acme <Tools>", "support": "help@acme.example"}, "gate": "/_g"}
    for page, values in PAGES.items():
        name = page.split(",")[0]
        ours = compiled.get_template(name).render(**context, **values)
        reference = plain.get_template(name).render(**context, **values)
        assert ours == reference, page


def compiled_source(tag: str, source: str) -> str:
    return str(environment(tag, TranslatedTexts).compile(source, raw=True))


def test_fixed_texts_are_written_into_the_template() -> None:
    code = compiled_source("de", '{{ _("Sign in") }}|{% trans %}Enter your code{% endtrans %}')
    assert "Anmelden" in code
    assert "Code eingeben" in code
    assert "Sign in" not in code  # no msgid left to look up
    assert "Enter your code" not in code


@pytest.mark.parametrize(
    ("source", "msgid"),
    [
        ('{{ _("Need help? Contact %(contact)s.", contact=who) }}', "Need help? Contact"),
        ("{% trans %}We sent it to {{ who }}.{% endtrans %}", "We sent it to"),
    ],
    ids=["placeholder", "trans-with-variable"],
)
def test_texts_with_placeholders_are_still_translated_per_page(source: str, msgid: str) -> None:
    assert msgid in compiled_source("de", source)


def test_a_text_from_a_variable_is_translated_per_page() -> None:
    env = environment("de", TranslatedTexts)
    assert env.from_string("{{ _(text) }}").render(text="Sign in") == "Anmelden"


@pytest.mark.parametrize(
    "source",
    [
        '{{ _("100%% sure") }}',
        '{{ _("100% sure") }}',
        "{% trans %}50% done{% endtrans %}",
        "{% trans %}50%% done{% endtrans %}",
        '{{ _("<b>bold</b>") }}',
        '{{ _("<b>bold</b>") | upper }}',
        '{{ _("Sign in") ~ "<" }}',
    ],
)
def test_a_fixed_text_reads_as_gettext_makes_it(source: str) -> None:
    """Percent signs, markup (new-style gettext treats a translation as markup:
    translators may write ``<strong>``) and filters come out as the runtime call
    gives them."""
    ours = environment("en", TranslatedTexts)
    plain = environment("en", InternationalizationExtension)
    assert ours.from_string(source).render() == plain.from_string(source).render()
