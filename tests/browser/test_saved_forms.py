"""A long form whose session ends before Save, kept by the gate and sent after a new sign-in.

Chromium fills the notes tool's form (text, long texts, a select, checkboxes
and a file), the session ends (the clock passes its lifetime, or the person
signs out in another tab), Save leads to the sign-in page, a code from the
local tenant's outbox signs in again, and Send delivers every field and the
file to the tool.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from ..apps import NOTE_FIELDS, notes
from ..helpers import FakeClock
from . import checks
from .browsing import PHONE, Shot, Tab
from .live import Site

pytestmark = pytest.mark.slow

LIFETIME = 3600
EMAIL = "ada@example.com"
CSV = "item,amount\nvenue,1200\ncatering,830\n"


def values() -> dict[str, str]:
    typed = {name: f"{label} for the Q3 board meeting" for name, label, _ in NOTE_FIELDS}
    typed["meeting_date"] = "2026-09-14"
    typed["budget"] = "2030"
    typed["minutes"] = "Line one of the minutes.\nLine two: «quoted», 100 % sure, ü ñ 日本."
    return typed


def fill(page: Page) -> None:
    page.goto(page.url)  # the form, freshly loaded
    for name, typed in values().items():
        page.locator(f"#{name}").fill(typed)
    page.locator("#team").select_option("Board")
    page.locator("#confidential").check()
    page.locator("#final").check()
    page.locator("#attachment").set_input_files(
        {"name": "budget.csv", "mimeType": "text/csv", "buffer": CSV.encode()}
    )


def received(page: Page) -> dict[str, Any]:
    expect(page.locator("#received")).to_be_visible()
    result: dict[str, Any] = json.loads(page.locator("#received").text_content() or "{}")
    return result


def expected_fields() -> list[list[str]]:
    typed = values()
    minutes = typed["minutes"].replace("\n", "\r\n")  # as browsers send a textarea
    fields = [["csrfmiddlewaretoken", "legacy-csrf-4711"]]
    fields += [[name, minutes if name == "minutes" else typed[name]] for name, _, _ in NOTE_FIELDS]
    fields += [["team", "Board"], ["flags", "confidential"], ["flags", "final"]]
    return fields


def sign_in_again(site: Site, page: Page) -> None:
    """From the sign-in page the Save press led to, through a new code."""
    assert urlsplit(page.url).path == "/_gate/login"
    expect(page.get_by_role("status")).to_contain_text("It is kept")
    site.ask_for_email(page, EMAIL)
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your code")
    site.enter_code(page, site.message(EMAIL).code or "")


def send(page: Page, shot: Shot | None = None) -> dict[str, Any]:
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text("Send the form you were submitting to /notes/save?")
    expect(page.locator("main")).to_contain_text("budget.csv")
    send_button = page.get_by_role("button", name="Send the form")
    expect(send_button).to_be_focused()
    if shot is not None:
        shot(page, "saved-form")
    send_button.click()
    return received(page)


@pytest.fixture
def notes_site(make_site: Callable[..., Site]) -> Site:
    return make_site(app=notes, session_lifetime=LIFETIME)


def test_a_long_form_survives_an_expired_session(
    notes_site: Site, tab: Tab, clock: FakeClock, shot: Shot
) -> None:
    page = tab.page
    site = notes_site
    site.sign_in(page, EMAIL, next="/notes/new")
    fill(page)
    clock.advance(LIFETIME + 1)  # the session ends while the person types

    page.get_by_role("button", name="Save").click()
    sign_in_again(site, page)
    got = send(page, shot)

    assert got["remote_user"] == EMAIL
    assert got["path"] == "/notes/save?draft=1"
    assert got["fields"] == expected_fields()
    assert got["files"] == [["attachment", "budget.csv", "text/csv", CSV]]

    # Used once: back to the offer, there is nothing left to send.
    page.goto(site.url("/_gate/form"))
    expect(page.get_by_role("heading", level=1)).to_have_text("No form to send")
    assert tab.problems == []


def test_signed_out_in_another_tab_then_save(notes_site: Site, tab: Tab, shot: Shot) -> None:
    page = tab.page
    site = notes_site
    site.sign_in(page, EMAIL, next="/notes/new")
    fill(page)

    other = tab.context.new_page()  # the same browser, another tab
    other.goto(site.url("/_gate/logout"))
    other.get_by_role("button", name="Sign out").click()
    expect(other.get_by_role("heading", level=1)).to_have_text("You are signed out")
    other.close()

    page.get_by_role("button", name="Save").click()
    sign_in_again(site, page)
    got = send(page)
    assert got["fields"] == expected_fields()
    assert got["files"] == [["attachment", "budget.csv", "text/csv", CSV]]
    assert tab.problems == []


def test_the_offer_is_accessible_and_fits_a_phone(
    notes_site: Site, open_tab: Callable[..., Tab], clock: FakeClock, shot: Shot
) -> None:
    tab = open_tab(PHONE)
    page = tab.page
    site = notes_site
    site.sign_in(page, EMAIL, next="/notes/new")
    fill(page)
    clock.advance(LIFETIME + 1)
    page.get_by_role("button", name="Save").click()
    shot(page, "saved-form-kept-phone")
    sign_in_again(site, page)
    expect(page.get_by_role("button", name="Send the form")).to_be_focused()
    shot(page, "saved-form-phone")

    assert checks.unnamed_buttons(page) == []
    expected = checks.focusables(page)
    visited = checks.tab_through(page, len(expected))
    assert [f.name for f in visited] == expected
    assert [f.name for f in visited if not f.ring_visible] == []
    assert checks.page_width(page) <= PHONE["width"]
    assert checks.controls_outside(page, PHONE["width"]) == []
    assert checks.small_targets(page) == []

    page.get_by_role("button", name="Discard it").click()
    assert urlsplit(page.url).path == "/notes/save"  # its page, by GET: nothing sent
    page.goto(site.url("/_gate/form"))
    expect(page.get_by_role("heading", level=1)).to_have_text("No form to send")
    assert tab.problems == []
