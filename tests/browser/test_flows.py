"""Each sign-in method end to end in Chromium, against the local tenant over loopback HTTP.

The browser asks for a code or a link, the test reads it from the tenant's
outbox as a person would read their email or texts, and the browser must end
up on the page it first asked for, query string and all.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Locator, Page, expect

from pwless_gate.testing import session_cookie

from ..helpers import wrong_code
from .browsing import Shot, Tab
from .live import Site

pytestmark = pytest.mark.slow

DEEP_LINK = "/reports/q3?year=2026&sort=desc"


def heading(page: Page) -> Locator:
    return page.get_by_role("heading", level=1)


def test_email_code_brings_back_the_deep_link(site: Site, page: Page, shot: Shot) -> None:
    page.goto(site.url(DEEP_LINK))
    assert urlsplit(page.url).path == "/_gate/login"
    assert parse_qs(urlsplit(page.url).query)["next"] == [DEEP_LINK]
    expect(page.get_by_label("Email address")).to_be_focused()

    # Keyboard only: type and press Enter, which sends the first button (a code).
    page.keyboard.type("Ada@Example.com")
    page.keyboard.press("Enter")
    expect(heading(page)).to_have_text("Enter your code")
    expect(page.locator("main")).to_contain_text("ada@example.com")  # whole, to spot a typo
    expect(page.get_by_label("Sign-in code")).to_be_focused()

    page.keyboard.type(site.message("ada@example.com").code or "")
    page.keyboard.press("Enter")
    expect(page.locator("#user")).to_have_text("ada@example.com")
    assert page.url == site.url(DEEP_LINK)
    expect(page.locator("#where")).to_have_text(DEEP_LINK)
    shot(page, "email-code-signed-in")


def test_wrong_code_is_announced_then_the_right_one_works(
    site: Site, page: Page, shot: Shot
) -> None:
    site.start_email(page, "bo@example.com", next="/reports")
    right = site.message("bo@example.com").code or ""
    field = page.get_by_label("Sign-in code")
    expect(field).not_to_have_attribute("aria-invalid", "true")

    site.enter_code(page, wrong_code(right))
    error = page.get_by_role("alert")
    expect(error).to_contain_text("not right")
    expect(field).to_have_attribute("aria-invalid", "true")
    described = (field.get_attribute("aria-describedby") or "").split()
    assert error.get_attribute("id") in described
    expect(field).to_be_focused()
    expect(field).to_have_value("")
    shot(page, "wrong-code-announced")

    site.enter_code(page, right)
    expect(page.locator("#user")).to_have_text("bo@example.com")
    assert page.url == site.url("/reports")


def test_three_wrong_codes_then_one_press_sends_a_new_one(
    site: Site, page: Page, shot: Shot
) -> None:
    site.start_email(page, "di@example.com", next="/reports")
    first = site.message("di@example.com").code or ""
    for _ in range(3):
        site.enter_code(page, wrong_code(first))
    expect(heading(page)).to_have_text("Code no longer valid")
    shot(page, "code-dead")

    page.get_by_role("button", name="Send a new code").click()
    expect(heading(page)).to_have_text("Enter your code")
    expect(page.locator("main")).to_contain_text("di@example.com")
    site.enter_code(page, site.message("di@example.com").code or "")
    expect(page.locator("#user")).to_have_text("di@example.com")
    assert page.url == site.url("/reports")


def test_magic_link_continues_in_the_browser(
    make_site: Callable[..., Site], page: Page, shot: Shot
) -> None:
    site = make_site(methods=("email-link",))
    page.goto(site.url(DEEP_LINK))
    expect(page.get_by_role("button", name="Email me a code")).to_have_count(0)
    site.ask_for_email(page, "lin@example.com", "Email me a sign-in link")
    expect(heading(page)).to_have_text("Check your email")
    expect(page.locator("main")).to_contain_text("lin@example.com")
    expect(page.locator("input[name=code]")).to_have_count(0)  # email-code is not enabled

    # The link goes to the tenant, which sends the browser back to the gate.
    page.goto(site.message("lin@example.com").link or "")
    expect(heading(page)).to_have_text("Continue signing in")
    assert urlsplit(page.url).path == "/_gate/callback"
    expect(page.locator("main")).not_to_contain_text("another browser")
    button = page.get_by_role("button", name="Continue as l***@example.com")
    expect(button).to_be_focused()
    shot(page, "link-continue")

    page.keyboard.press("Enter")
    expect(page.locator("#user")).to_have_text("lin@example.com")
    assert page.url == site.url(DEEP_LINK)
    # The link's code and state do not follow the person to the app's page.
    assert page.evaluate("document.referrer") == ""


def test_sms_code_signs_in_with_the_number(
    make_site: Callable[..., Site], page: Page, shot: Shot
) -> None:
    site = make_site(methods=("sms-code",))
    page.goto(site.url("/reports?by=phone"))
    expect(page.get_by_label("Email address")).to_have_count(0)
    phone = page.get_by_label("Mobile number")
    expect(phone).to_be_focused()
    expect(phone).to_have_attribute("autocomplete", "tel")

    site.ask_for_sms(page, "+1 415 555 2671")
    expect(heading(page)).to_have_text("Enter your code")
    expect(page.locator("main")).to_contain_text("text message")
    expect(page.locator("main")).to_contain_text("+1 415-555-2671")
    shot(page, "sms-code")

    site.enter_code(page, site.message("+14155552671").code or "")
    expect(page.locator("#user")).to_have_text("+14155552671")
    assert page.url == site.url("/reports?by=phone")


def test_sign_out_ends_the_session(site: Site, page: Page, shot: Shot) -> None:
    site.sign_in(page, "cy@example.com", next="/reports")
    page.get_by_role("link", name="Sign out").click()
    expect(heading(page)).to_have_text("Sign out")
    expect(page.locator("main")).to_contain_text("cy@example.com")

    page.get_by_role("button", name="Sign out").click()
    expect(heading(page)).to_have_text("You are signed out")
    shot(page, "sign-out-done")
    assert [c for c in page.context.cookies() if c["name"].endswith("_session")] == []

    page.goto(site.url("/reports"))
    assert urlsplit(page.url).path == "/_gate/login"
    expect(heading(page)).to_have_text("Sign in")


def test_federated_sign_out_reaches_auth0_and_comes_back(
    make_site: Callable[..., Site], tab: Tab
) -> None:
    """With ``federated_logout`` the sign-out form's answer sends the browser to the
    tenant's ``/v2/logout``: the page's Content-Security-Policy must let the form's
    redirect go there (``form-action``), or the browser stays, "signed in", on the
    confirm page while the gate's session is already gone."""
    site = make_site(federated_logout=True)
    site.tenant.app.allow_logout_url(site.url("/_gate/logout"))
    page = tab.page
    site.sign_in(page, "fed@example.com", next="/reports")
    page.get_by_role("link", name="Sign out").click()
    with page.expect_request(lambda r: "/v2/logout" in r.url):
        page.get_by_role("button", name="Sign out").click()
    expect(heading(page)).to_have_text("You are signed out")
    assert urlsplit(page.url).netloc == urlsplit(site.origin).netloc
    assert tab.problems == []


def test_code_in_a_link_email_works_on_the_check_your_email_page(
    site: Site, page: Page, shot: Shot
) -> None:
    page.goto(site.url("/_gate/login?next=/reports"))
    site.ask_for_email(page, "kai@example.com", "Email me a sign-in link")
    expect(heading(page)).to_have_text("Check your email")
    field = page.get_by_label("Or enter the code from the email")
    expect(field).to_be_focused()
    expect(field).to_have_attribute("autocomplete", "one-time-code")
    expect(field).to_have_attribute("inputmode", "numeric")
    shot(page, "link-sent-code")

    site.enter_code(page, site.message("kai@example.com").code or "", "Sign in with the code")
    expect(page.locator("#user")).to_have_text("kai@example.com")
    assert page.url == site.url("/reports")


def test_a_session_planted_inside_another_cookie_is_not_read(site: Site, page: Page) -> None:
    """A sibling subdomain can plant a cookie whose value reads ``x <session name>=…``;
    Chromium sends it before the real session when its path is longer. The gate reads
    the real one."""
    mallory = session_cookie(site.gate, email="mallory@example.com")
    site.sign_in(page, "victim@example.com", next="/reports")
    page.context.add_cookies(
        [{"name": "tossed", "value": f"x {mallory}", "url": site.url("/reports/")}]
    )
    page.goto(site.url("/reports/q3"))
    expect(page.locator("#user")).to_have_text("victim@example.com")
    page.goto(site.url("/"))
    expect(page.locator("#user")).to_have_text("victim@example.com")
