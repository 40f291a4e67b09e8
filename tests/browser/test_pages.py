"""Every gate page in Chromium: names, focus, keyboard order, errors, and phone width.

Each case drives a fresh browser context to one page state (the sign-in
form, a wrong code, a magic link's Continue page, each kind of error…) and
checks it as a keyboard or screen-reader user would meet it, then narrows the
window to 360 px and checks the layout. Each case saves a screenshot named
after the state, and one with ``-phone`` for the narrow window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from ..helpers import wrong_code
from . import checks
from .browsing import PHONE, Shot, Tab
from .live import Site

pytestmark = pytest.mark.slow

SUPPORT = "the IT desk (it-help@example.com)"


def _login(site: Site, page: Page) -> None:
    page.goto(site.url("/reports/q3?year=2026"))


def _login_bad_email(site: Site, page: Page) -> None:
    _login(site, page)
    site.ask_for_email(page, "ada.example.com")


def _login_bad_phone(site: Site, page: Page) -> None:
    _login(site, page)
    site.ask_for_sms(page, "020 7946 0958")


def _code(site: Site, page: Page) -> None:
    site.start_email(page, "ada@example.com")


def _code_wrong(site: Site, page: Page) -> None:
    site.start_email(page, "ada@example.com")
    site.enter_code(page, wrong_code(site.message("ada@example.com").code or ""))


def _code_dead(site: Site, page: Page) -> None:
    site.start_email(page, "ada@example.com")
    wrong = wrong_code(site.message("ada@example.com").code or "")
    for _ in range(3):
        site.enter_code(page, wrong)


def _code_sms(site: Site, page: Page) -> None:
    page.goto(site.url("/_gate/login"))
    site.ask_for_sms(page, "+14155552671")


def _link_sent(site: Site, page: Page) -> None:
    page.goto(site.url("/_gate/login"))
    site.ask_for_email(page, "lin@example.com", "Email me a sign-in link")


def _continue(site: Site, page: Page) -> None:
    site.open_link(page, "lin@example.com")


def _continue_other_browser(site: Site, page: Page) -> None:
    browser = page.context.browser
    assert browser is not None
    other = Tab(browser)
    try:
        other.page.goto(site.url("/_gate/login"))
        site.ask_for_email(other.page, "lin@example.com", "Email me a sign-in link")
        expect(other.page.get_by_role("heading", level=1)).to_have_text("Check your email")
    finally:
        other.close()
    page.goto(site.message("lin@example.com").link or "")


def _logout(site: Site, page: Page) -> None:
    site.sign_in(page, "ada@example.com")
    page.goto(site.url("/_gate/logout"))


def _signed_out(site: Site, page: Page) -> None:
    _logout(site, page)
    page.get_by_role("button", name="Sign out").click()


def _too_many(site: Site, page: Page) -> None:
    site.start_email(page, "ada@example.com")
    page.goto(site.url("/_gate/login"))
    site.ask_for_email(page, "ada@example.com")


def _not_allowed(site: Site, page: Page) -> None:
    site.tenant.app.block_user("mallory@example.com")
    site.start_email(page, "mallory@example.com")
    site.enter_code(page, site.message("mallory@example.com").code or "")


def _unavailable(site: Site, page: Page) -> None:
    site.tenant.app.add_fault("/passwordless/start", "500")
    page.goto(site.url("/_gate/login"))
    site.ask_for_email(page, "ada@example.com")


def _link_used(site: Site, page: Page) -> None:
    site.open_link(page, "lin@example.com")
    page.get_by_role("button", name="Continue as").click()
    expect(page.locator("#user")).to_have_text("lin@example.com")
    page.goto(site.message("lin@example.com").link or "")


def _not_found(site: Site, page: Page) -> None:
    page.goto(site.url("/_gate/nowhere"))


@dataclass(frozen=True)
class State:
    """A page as someone meets it: how to get there and what it must show."""

    name: str
    reach: Callable[[Site, Page], None]
    heading: str
    says: str  # text the page must show
    focus: str | None = None  # focused on arrival (the first field, or the one to correct)
    invalid: str | None = None  # the field marked invalid, with its error announced


STATES = [
    State("login", _login, "Sign in", "No password needed", "#email"),
    State("login-bad-email", _login_bad_email, "Sign in", "needs an @", "#email", "#email"),
    State(
        "login-bad-phone",
        _login_bad_phone,
        "Sign in",
        "country code",
        "#phone_number",
        "#phone_number",
    ),
    State("code", _code, "Enter your code", "ada@example.com", "#code"),
    State("code-wrong", _code_wrong, "Enter your code", "not right", "#code", "#code"),
    State("code-sms", _code_sms, "Enter your code", "+1 415-555-2671", "#code"),
    State("code-dead", _code_dead, "Code no longer valid", "Send a new code"),
    State("link-sent", _link_sent, "Check your email", "lin@example.com", "#code"),
    State("continue", _continue, "Continue signing in", "Continue as l***@example.com", "button"),
    # Nothing focused: a key press meant for the page that opened the link must not
    # sign this browser in to someone else's account.
    State(
        "continue-other-browser",
        _continue_other_browser,
        "Continue signing in",
        "another browser",
    ),
    State("logout", _logout, "Sign out", "ada@example.com", "button"),
    State("signed-out", _signed_out, "You are signed out", "Sign in again"),
    State("too-many", _too_many, "Too many attempts", "You can try again in about"),
    State("not-allowed", _not_allowed, "Not allowed", SUPPORT),
    State("unavailable", _unavailable, "Sign-in is unavailable", "try again in a minute"),
    State("link-used", _link_used, "Link no longer valid", "already used"),
    State("not-found", _not_found, "Not found", "no such page"),
]


@pytest.fixture
def brand_site(make_site: Callable[..., Site]) -> Site:
    """All three methods, a logo, a support contact, and one send per address per 15 minutes."""
    return make_site(
        brand_logo_url="/_gate/static/icon.svg",
        support_contact=SUPPORT,
        throttle_send_per_identifier="1/900",
    )


def _check_names_and_keyboard(page: Page, state: State) -> None:
    assert page.locator("h1").count() == 1
    assert page.locator("html").get_attribute("lang") == "en"
    assert checks.unlabelled_fields(page) == []
    assert checks.unnamed_buttons(page) == []

    if state.invalid:
        field = page.locator(state.invalid)
        expect(field).to_have_attribute("aria-invalid", "true")
        described = (field.get_attribute("aria-describedby") or "").split()
        alerts = [i for i in described if page.locator(f"#{i}[role=alert]").is_visible()]
        assert len(alerts) == 1, described
    else:
        assert page.locator("[aria-invalid=true]").count() == 0

    # Focus starts on the first field (or the one to correct), and the browser shows it.
    if state.focus is None:
        assert checks.focused(page).name == "body"
    else:
        expect(page.locator(state.focus).first).to_be_focused()
        arrived = checks.focused(page)
        if state.invalid is None:
            assert arrived.name == checks.first_field(page)
        assert arrived.ring_visible, arrived

    # Tab visits every control once, in reading order, each with a visible ring.
    expected = checks.focusables(page)
    assert expected, "nothing on the page can be reached with the keyboard"
    visited = checks.tab_through(page, len(expected))
    assert [f.name for f in visited] == expected
    positions = [(round(f.top), round(f.left)) for f in visited]
    assert positions == sorted(positions)
    assert [f.name for f in visited if not f.ring_visible] == []


def _focus_as_on_arrival(page: Page, state: State) -> None:
    """Undo the tour with Tab, so the narrow screenshot shows the page as it first looks."""
    if state.focus is None:
        page.evaluate("document.activeElement && document.activeElement.blur()")
    else:
        page.locator(state.focus).first.focus()


def _check_phone_layout(page: Page) -> None:
    assert checks.page_width(page) <= PHONE["width"], "the page scrolls sideways"
    assert checks.controls_outside(page, PHONE["width"]) == []
    assert checks.small_targets(page) == []


@pytest.mark.parametrize("state", STATES, ids=[s.name for s in STATES])
def test_page_is_accessible_and_fits_a_phone(
    state: State, brand_site: Site, tab: Tab, shot: Shot
) -> None:
    page = tab.page
    state.reach(brand_site, page)
    expect(page.get_by_role("heading", level=1)).to_have_text(state.heading)
    expect(page.locator("main")).to_contain_text(state.says)
    shot(page, state.name)
    _check_names_and_keyboard(page, state)

    page.set_viewport_size(PHONE)
    _focus_as_on_arrival(page, state)
    shot(page, f"{state.name}-phone")
    _check_phone_layout(page)

    assert tab.problems == []


@pytest.mark.parametrize("region", ["GB", "BR"])
def test_the_regional_example_number_reads_and_fits_a_phone(
    region: str, make_site: Callable[..., Site], tab: Tab, shot: Shot
) -> None:
    """The hint names a number of the region, is read with the field, and fits at 360 px."""
    site = make_site(methods=("sms-code",), default_region=region)
    page = tab.page
    page.set_viewport_size(PHONE)
    page.goto(site.url("/_gate/login"))
    field = page.get_by_label("Mobile number")
    expect(field).to_be_focused()
    hint = page.locator("#phone-hint")
    expect(hint).to_contain_text("Like ")
    assert (field.get_attribute("aria-describedby") or "").split() == ["phone-hint"]
    shot(page, f"login-sms-{region.lower()}-phone")
    _check_phone_layout(page)

    # The example, typed as the hint writes it, is accepted.
    example = (hint.text_content() or "").removeprefix("Like ").split(". ")[0]
    site.ask_for_sms(page, example)
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your code")
    assert tab.problems == []
