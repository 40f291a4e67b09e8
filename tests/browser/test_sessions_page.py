"""The sessions page in Chromium: what it shows, names, keyboard order, phone width.

The person signs in for real in this browser; two more sessions of theirs
(a phone and a laptop, as if signed in there) are put in the store, so the
page has something to end. Screenshots: ``sessions.png``,
``sessions-phone.png``, ``sessions-ended.png`` and ``sessions-cookie-store.png``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from pwless_gate.sessions import Session, new_handle, new_session_id

from ..helpers import FakeClock
from . import checks
from .browsing import PHONE, Shot, Tab
from .live import Site

pytestmark = pytest.mark.slow


def other_sessions(site: Site, now: float) -> list[Session]:
    """Two more sessions of the person signed in on ``site``: a phone and a laptop."""
    index = site.gate.sessions.index
    assert index is not None
    [here] = index.all_sessions()
    others = [
        dataclasses.replace(
            here,
            sid=new_session_id(),
            handle=new_handle(),
            created_at=now - days * 86400,
            seen_at=now - minutes * 60,
            ip=ip,
            agent=agent,
        )
        for days, minutes, ip, agent in (
            (2, 35, "203.0.113.42", "Safari on iPhone"),
            (9, 3 * 1440, "198.51.100.7", "Firefox on Windows"),
        )
    ]
    for session in others:
        site.gate.sessions.save(session)
    return others


def check_names_and_keyboard(page: Page) -> None:
    assert page.locator("h1").count() == 1
    assert page.locator("html").get_attribute("lang") == "en"
    assert checks.unlabelled_fields(page) == []
    assert checks.unnamed_buttons(page) == []
    assert checks.focused(page).name == "body"  # nothing grabs focus on arrival
    expected = checks.focusables(page)
    visited = checks.tab_through(page, len(expected))
    assert [f.name for f in visited] == expected
    positions = [(round(f.top), round(f.left)) for f in visited]
    assert positions == sorted(positions)
    assert [f.name for f in visited if not f.ring_visible] == []


def check_phone_layout(page: Page) -> None:
    assert checks.page_width(page) <= PHONE["width"], "the page scrolls sideways"
    assert checks.controls_outside(page, PHONE["width"]) == []
    assert checks.small_targets(page) == []


@pytest.fixture
def listing_site(make_site: Callable[..., Site], tmp_path: Path) -> Site:
    return make_site(store=f"sqlite://{tmp_path / 'gate.sqlite3'}")


def test_the_sessions_page_lists_marks_and_ends(
    listing_site: Site, tab: Tab, shot: Shot, clock: FakeClock
) -> None:
    site, page = listing_site, tab.page
    site.sign_in(page, "ada@example.com")
    other_sessions(site, clock())
    page.goto(site.url("/_gate/sessions"))

    expect(page.get_by_role("heading", level=1)).to_have_text("Your sessions")
    items = page.locator("li.session")
    expect(items).to_have_count(3)
    # This browser first, marked; then the others, the most recently seen first.
    expect(items.nth(0).get_by_role("heading", level=2)).to_have_text(
        "Chrome on Linux This browser"
    )
    expect(items.nth(1).get_by_role("heading", level=2)).to_have_text("Safari on iPhone")
    expect(items.nth(1)).to_contain_text("203.0.113.42")
    expect(items.nth(2).get_by_role("heading", level=2)).to_have_text("Firefox on Windows")
    expect(items.nth(0).get_by_role("button")).to_have_count(0)
    # Each "Sign out this session" button is described by the browser it ends.
    button = items.nth(1).get_by_role("button", name="Sign out this session")
    expect(button).to_have_accessible_description("Safari on iPhone")
    shot(page, "sessions")
    check_names_and_keyboard(page)

    page.set_viewport_size(PHONE)
    page.evaluate("document.activeElement && document.activeElement.blur()")
    shot(page, "sessions-phone")
    check_phone_layout(page)

    button.click()
    status = page.get_by_role("status")
    expect(status).to_have_text("Signed out of 1 session.")
    expect(items).to_have_count(2)
    expect(page.locator("main")).not_to_contain_text("Safari on iPhone")
    shot(page, "sessions-ended")
    check_phone_layout(page)

    page.get_by_role("button", name="Sign out everywhere else").click()
    expect(status).to_have_text("Signed out of 1 session.")
    expect(items).to_have_count(1)
    expect(page.get_by_role("button")).to_have_count(0)
    assert tab.problems == []


def test_with_the_cookie_store_the_page_says_what_it_cannot_do(
    make_site: Callable[..., Site], tab: Tab, shot: Shot
) -> None:
    site = make_site(store="cookie")
    page = tab.page
    site.sign_in(page, "ada@example.com")
    page.goto(site.url("/_gate/sessions"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Your sessions")
    expect(page.locator("li.session")).to_have_count(1)
    expect(page.locator("main")).to_contain_text("cannot be listed or ended here")
    expect(page.locator("main")).to_contain_text("PWLESS_GATE_STORE")
    expect(page.get_by_role("button")).to_have_count(0)
    shot(page, "sessions-cookie-store")
    check_names_and_keyboard(page)
    page.set_viewport_size(PHONE)
    check_phone_layout(page)
    assert tab.problems == []
