"""The app tokens page in Chromium, and Chromium still signing in while tools get 401.

With app tokens on, a real browser's navigation is still sent to the sign-in
page (and signs in), while curl- and pip-like requests to the same path get
401 with a Basic challenge. On the tokens page the person makes a token, sees
it once, and revokes one. Screenshots: ``tokens.png``, ``tokens-phone.png``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from pwless_gate.apptokens import well_formed

from ..helpers import FakeClock
from . import checks
from .browsing import PHONE, Shot, Tab
from .live import Site
from .test_sessions_page import check_names_and_keyboard, check_phone_layout

pytestmark = pytest.mark.slow


@pytest.fixture
def tokens_site(make_site: Callable[..., Site], tmp_path: Path) -> Site:
    return make_site(store=f"sqlite://{tmp_path / 'gate.sqlite3'}", app_tokens=True)


def test_chromium_signs_in_while_tools_get_401(tokens_site: Site, tab: Tab) -> None:
    page = tab.page
    page.goto(tokens_site.url("/reports"))
    expect(page).to_have_url(re.compile(r"/_gate/login\?next="))
    tokens_site.ask_for_email(page, "ada@example.com")
    tokens_site.enter_code(page, tokens_site.message("ada@example.com").code or "")
    expect(page.locator("#user")).to_have_text("ada@example.com")
    for headers in (
        {"User-Agent": "curl/8.5.0", "Accept": "*/*"},
        {"User-Agent": "pip/24.2", "Accept": "application/vnd.pypi.simple.v1+json"},
    ):
        answer = requests.get(
            tokens_site.url("/reports"), headers=headers, allow_redirects=False, timeout=10
        )
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"].startswith('Basic realm="Acme internal tools"')
    assert tab.problems == []


def test_the_tokens_page_makes_shows_once_and_revokes(
    tokens_site: Site, tab: Tab, shot: Shot, clock: FakeClock
) -> None:
    site, page = tokens_site, tab.page
    site.sign_in(page, "ada@example.com")
    # Two tokens made earlier (one used from the build server), through the gate's store.
    [session] = site.gate.sessions.index.all_sessions()  # type: ignore[union-attr]
    assert site.gate.tokens is not None
    older, _ = site.gate.tokens.create(session, "git on the build server", 90)
    site.gate.tokens.create(session, "calendar on my phone", 30)
    clock.advance(3600)
    assert (
        requests.get(
            site.url("/"), headers={"Authorization": f"Bearer {older}"}, timeout=10
        ).status_code
        == 200
    )
    clock.advance(600)

    page.goto(site.url("/_gate/tokens"))
    expect(page.get_by_role("heading", level=1)).to_have_text("App tokens")
    expect(page.locator("li.token")).to_have_count(2)
    # Signed in over an hour ago: making a token asks for a new sign-in first.
    expect(page.get_by_label("Name")).to_have_count(0)
    again = page.get_by_role("link", name="Sign in again to make a token")
    expect(again).to_have_accessible_description(
        re.compile("needs a sign-in within the last 1 hour")
    )
    again.click()
    expect(page.locator("main")).to_contain_text("You are signed in as ada@example.com")
    site.ask_for_email(page, "ada@example.com")
    site.enter_code(page, site.message("ada@example.com").code or "")
    expect(page.get_by_role("heading", level=1)).to_have_text("App tokens")
    page.get_by_label("Name").fill("pip on my laptop")
    page.get_by_label("Valid for (days)").fill("30")
    page.get_by_role("button", name="Make token").click()

    field = page.get_by_label(re.compile(r"^Token, valid until"))
    token = field.input_value()
    assert well_formed(token)
    expect(page.get_by_role("status")).to_contain_text("shown only this once")
    expect(page.locator("li.token")).to_have_count(3)
    expect(page.locator("li.token h3").first).to_have_text("pip on my laptop")
    used = page.locator("li.token", has_text="git on the build server")
    expect(used).to_contain_text("Last used")
    expect(used.locator("time")).to_have_count(3)  # made, expires, last used
    shot(page, "tokens")
    check_names_and_keyboard(page)

    answer = requests.get(site.url("/"), headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 200
    page.goto(site.url("/_gate/tokens"))
    expect(page.locator("#new-token")).to_have_count(0)  # shown once: not on the next visit
    assert token not in page.content()

    page.set_viewport_size(PHONE)
    page.evaluate("document.activeElement && document.activeElement.blur()")
    shot(page, "tokens-phone")
    check_phone_layout(page)

    button = page.locator("li.token", has_text="pip on my laptop").get_by_role(
        "button", name="Revoke this token"
    )
    expect(button).to_have_accessible_description("pip on my laptop")
    button.click()
    expect(page.get_by_role("status")).to_have_text("Revoked 1 token.")
    expect(page.locator("li.token")).to_have_count(2)
    clock.advance(10)  # past the cache TTL
    answer = requests.get(site.url("/"), headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 401
    assert checks.unlabelled_fields(page) == []
    assert tab.problems == []


def test_a_bad_form_is_explained_next_to_its_fields(tokens_site: Site, tab: Tab) -> None:
    page = tab.page
    tokens_site.sign_in(page, "ada@example.com")
    page.goto(tokens_site.url("/_gate/tokens"))
    page.get_by_label("Valid for (days)").fill("400")
    page.get_by_role("button", name="Make token").click()
    expect(page.get_by_role("alert")).to_contain_text("not made")
    expect(page.get_by_label("Name")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Valid for (days)")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Name")).to_have_accessible_description(
        re.compile(r"Give the token a name")
    )
    assert tab.problems == [] or all("400" in p for p in tab.problems)
