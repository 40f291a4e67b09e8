"""Honest challenges seen from a real Chromium: its navigations still go to the sign-in
page and sign in; a page's ``fetch()`` gets a 401 it can read (no Basic challenge,
which Chromium would answer with a password dialog); curl and pip beside it get 401
with Basic."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from playwright.sync_api import Page, Request, expect

from .live import Site

pytestmark = pytest.mark.slow


def test_a_chromium_navigation_is_redirected_and_signs_in(site: Site, page: Page) -> None:
    sent: list[Request] = []
    page.on("request", lambda request: sent.append(request))

    page.goto(site.url("/reports/q3?year=2026"))

    assert urlsplit(page.url).path == "/_gate/login"
    assert parse_qs(urlsplit(page.url).query)["next"] == ["/reports/q3?year=2026"]
    first = sent[0].all_headers()
    assert first["sec-fetch-mode"] == "navigate"  # what the gate goes by
    site.ask_for_email(page, "nav@example.com")
    site.enter_code(page, site.message("nav@example.com").code or "")
    expect(page.locator("#user")).to_have_text("nav@example.com")
    assert page.url == site.url("/reports/q3?year=2026")


def test_a_chromium_fetch_without_a_session_gets_401_json_without_a_password_dialog(
    make_site: Callable[..., Site], page: Page
) -> None:
    site = make_site(public_paths=("/welcome",))
    page.goto(site.url("/welcome"))  # a page of the app's (the gate's pages forbid scripts)

    answer: dict[str, Any] = page.evaluate(
        """async () => {
            const r = await fetch("/api/items", {headers: {Accept: "application/json"}});
            return {status: r.status, redirected: r.redirected, body: await r.json(),
                    challenge: r.headers.get("WWW-Authenticate")};
        }"""
    )

    assert answer["status"] == 401
    assert answer["redirected"] is False
    assert answer["body"]["error"] == "unauthorized"
    # Not Basic: Chromium would stop the fetch for a username/password dialog of its own
    # (headless, the fetch never ends), and nothing the gate knows fits it.
    assert answer["challenge"] == 'Cookie realm="Acme internal tools"'


@pytest.mark.parametrize(
    "headers",
    [
        {"User-Agent": "curl/8.5.0", "Accept": "*/*"},
        {
            "User-Agent": "pip/24.0",
            "Accept": "application/vnd.pypi.simple.v1+json, "
            "application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01",
        },
    ],
    ids=["curl", "pip"],
)
def test_beside_it_curl_and_pip_get_the_basic_challenge(
    site: Site, headers: dict[str, str]
) -> None:
    answer = requests.get(
        site.url("/simple/reports/"), headers=headers, allow_redirects=False, timeout=10
    )

    assert answer.status_code == 401
    basic = 'Basic realm="Acme internal tools", charset="UTF-8"'
    assert answer.headers["WWW-Authenticate"] == basic
