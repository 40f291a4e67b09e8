"""The sign-in page in every shipped language, in Chromium: names, keyboard order, phone width.

The browser's locale is its ``Accept-Language``; each page must say which
language it is in (``<html lang>``), read right to left in Arabic, and pass
the checks every gate page passes, at a desktop width and at 360 px. The
German, Japanese and Arabic pages at 360 px are the README's screenshots.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from pwless_gate.languages import SHIPPED

from . import checks
from .browsing import PHONE, Shot, Tab
from .live import Site

pytestmark = pytest.mark.slow

HEADINGS = {
    "en": "Sign in",
    "de": "Anmelden",
    "fr": "Se connecter",
    "es": "Iniciar sesión",
    "it": "Accedi",
    "nl": "Inloggen",
    "pt-BR": "Entrar",
    "pl": "Zaloguj się",
    "sv": "Logga in",
    "ja": "サインイン",
    "ar": "تسجيل الدخول",
}
#: The screenshots the README shows.
SHOWN = {"de", "ja", "ar"}


def _reading_order(page: Page, rtl: bool) -> None:
    """Tab visits every control once, in reading order (right to left in Arabic)."""
    expected = checks.focusables(page)
    visited = checks.tab_through(page, len(expected))
    assert [f.name for f in visited] == expected
    positions = [(round(f.top), -round(f.left) if rtl else round(f.left)) for f in visited]
    assert positions == sorted(positions)
    assert [f.name for f in visited if not f.ring_visible] == []


@pytest.mark.parametrize("tag", list(SHIPPED))
def test_sign_in_page_in_each_language(
    tag: str, make_site: Callable[..., Site], open_tab: Callable[..., Tab], shot: Shot
) -> None:
    site = make_site(support_contact="it-help@example.com")
    tab = open_tab(locale=tag)
    page = tab.page
    page.goto(site.url("/reports/q3?year=2026"))
    rtl = tag == "ar"
    html = page.locator("html")
    expect(html).to_have_attribute("lang", tag)
    expect(html).to_have_attribute("dir", "rtl" if rtl else "ltr")
    expect(page.get_by_role("heading", level=1)).to_have_text(HEADINGS[tag])
    expect(page.locator("#email")).to_be_focused()
    assert checks.unlabelled_fields(page) == []
    assert checks.unnamed_buttons(page) == []
    _reading_order(page, rtl)

    page.set_viewport_size(PHONE)
    page.locator("#email").focus()
    if tag in SHOWN:
        shot(page, f"login-{tag}-phone")
    assert checks.page_width(page) <= PHONE["width"], "the page scrolls sideways"
    assert checks.controls_outside(page, PHONE["width"]) == []
    assert checks.small_targets(page) == []
    assert tab.problems == []


def test_the_switcher_changes_the_language_and_keeps_it(
    site: Site, open_tab: Callable[..., Tab], shot: Shot
) -> None:
    tab = open_tab(locale="en-GB")
    page = tab.page
    page.goto(site.url("/reports/q3?year=2026"))
    page.get_by_label("Language").select_option("ar")
    page.get_by_role("button", name="Change").click()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    assert parse_qs(urlsplit(page.url).query)["next"] == ["/reports/q3?year=2026"]

    # Kept in the cookie: the next pages, the code page included, are Arabic too.
    page.goto(site.url("/_gate/login?next=/reports"))
    expect(page.locator("html")).to_have_attribute("lang", "ar")
    page.locator("#email").fill("ada@example.com")
    page.get_by_role("button", name="أرسل لي رمزًا بالبريد الإلكتروني").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("أدخل الرمز")
    assert site.message("ada@example.com").language == "ar"
    page.set_viewport_size(PHONE)
    shot(page, "code-ar-phone")
    assert checks.page_width(page) <= PHONE["width"]
    assert checks.controls_outside(page, PHONE["width"]) == []

    page.locator("#code").fill(site.message("ada@example.com").code or "")
    page.get_by_role("button", name="تسجيل الدخول", exact=True).click()
    expect(page.locator("#user")).to_have_text("ada@example.com")
    assert tab.problems == []
