"""Email magic links: Auth0's verify_redirect, the Continue page, the code exchange."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from ..helpers import FakeClock, Harness, hidden


@pytest.fixture
def harness(make_harness: Any) -> Harness:
    return make_harness(methods=("email-link",))


def start_link(harness: Harness, email: str, next: str = "/", client: Any = None) -> Any:
    answer = harness.start(email, send="link", next=next, client=client)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer


def test_same_browser(harness: Harness) -> None:
    page = start_link(harness, "ada@example.com", next="/docs?page=2")
    text = page.get_data(as_text=True)
    assert "Check your email" in text
    assert 'name="code"' not in text  # email-code is not enabled
    message = harness.tenant.last_message()
    query = parse_qs(urlsplit(message.link).query)
    assert query["redirect_uri"] == ["http://localhost/_gate/callback"]
    assert query["response_type"] == ["code"]
    assert query["nonce"][0]
    landing = harness.follow_link(message.link)
    continued = harness.continue_link(landing)
    assert continued.status_code == 303
    assert continued.headers["Location"] == "/docs?page=2"
    assert harness.client.get("/docs").status_code == 200
    assert harness.app.calls[-1]["REMOTE_USER"] == "ada@example.com"


def test_landing_page_names_the_account_and_consumes_nothing(harness: Harness) -> None:
    start_link(harness, "bo@example.com")
    landing = harness.follow_link(harness.tenant.last_message().link)
    for _ in range(3):
        page = harness.client.get(landing)
        assert page.status_code == 200
        assert "b***@example.com" in page.get_data(as_text=True)
    assert harness.client.get_cookie("pwless_gate_session") is None
    assert harness.continue_link(landing).status_code == 303


def test_other_browser(harness: Harness) -> None:
    start_link(harness, "cy@example.com")
    landing = harness.follow_link(harness.tenant.last_message().link)
    phone = harness.new_browser()
    page = phone.get(landing).get_data(as_text=True)
    assert "another browser" in page
    assert "cy@example.com" in page  # the whole address: no login CSRF unawares
    done = harness.continue_link(landing, client=phone)
    assert done.status_code == 303
    assert phone.get("/").status_code == 200
    assert harness.client.get("/").status_code == 302


def test_scanner_get_then_real_click(harness: Harness) -> None:
    start_link(harness, "dee@example.com")
    landing = harness.follow_link(harness.tenant.last_message().link)
    scanner = harness.new_browser()
    scanned = scanner.get(landing)
    assert scanned.status_code == 200
    assert scanner.get_cookie("pwless_gate_session") is None
    assert harness.app.calls == []
    assert harness.continue_link(landing).status_code == 303
    assert harness.client.get("/").status_code == 200


def test_reused_link(harness: Harness) -> None:
    start_link(harness, "eve@example.com")
    link = harness.tenant.last_message().link
    landing = harness.follow_link(link)
    assert harness.continue_link(landing).status_code == 303
    # The same authorization code again, in another browser.
    other = harness.new_browser()
    again = harness.continue_link(landing, client=other)
    assert again.status_code == 400
    assert "already used" in again.get_data(as_text=True)
    assert other.get_cookie("pwless_gate_session") is None
    # The link itself again: Auth0 refuses it and says so to the callback.
    landing_again = harness.follow_link(link)
    page = other.get(landing_again)
    assert page.status_code == 400
    assert "already used" in page.get_data(as_text=True)


def test_expired_link(harness: Harness, clock: FakeClock) -> None:
    start_link(harness, "fay@example.com")
    link = harness.tenant.last_message().link
    clock.advance(181)
    landing = harness.follow_link(link)
    page = harness.client.get(landing)
    assert page.status_code == 400
    assert "expired" in page.get_data(as_text=True)
    assert harness.client.get_cookie("pwless_gate_session") is None


def test_forged_state(harness: Harness) -> None:
    start_link(harness, "gus@example.com")
    landing = harness.follow_link(harness.tenant.last_message().link)
    code = parse_qs(urlsplit(landing).query)["code"][0]
    page = harness.client.get(f"/_gate/callback?code={code}&state=forged.state.value")
    assert page.status_code == 400
    # A genuine state from another sign-in paired with this code: the nonce differs.
    start_link(harness, "gus@example.com")
    other_state = parse_qs(urlsplit(harness.tenant.last_message().link).query)["state"][0]
    text = harness.client.get("/_gate/login").get_data(as_text=True)
    forged = harness.client.post(
        "/_gate/callback",
        data={"csrf_token": hidden(text, "csrf_token"), "code": code, "state": other_state},
    )
    assert forged.status_code == 400
    assert harness.client.get_cookie("pwless_gate_session") is None


def test_callback_post_needs_csrf(harness: Harness) -> None:
    start_link(harness, "hal@example.com")
    landing = harness.follow_link(harness.tenant.last_message().link)
    query = parse_qs(urlsplit(landing).query)
    answer = harness.client.post(
        "/_gate/callback", data={"code": query["code"][0], "state": query["state"][0]}
    )
    assert answer.status_code == 403


def test_link_page_offers_a_code_when_both_methods_are_enabled(make_harness: Any) -> None:
    harness = make_harness(methods=("email-code", "email-link"))
    login = harness.client.get("/_gate/login").get_data(as_text=True)
    assert 'value="code"' in login
    assert 'value="link"' in login
    page = harness.start("ivy@example.com", send="link")
    assert 'name="code"' in page.get_data(as_text=True)
    code = harness.tenant.last_message().code
    assert harness.submit_code(page, code).status_code == 303


def test_language_reaches_the_tenant(harness: Harness) -> None:
    page = harness.client.get("/_gate/login").get_data(as_text=True)
    harness.client.post(
        "/_gate/login",
        data={"csrf_token": hidden(page, "csrf_token"), "email": "jo@example.com", "send": "link"},
        headers={"Accept-Language": "fr-CH, fr;q=0.9, en;q=0.8"},
    )
    assert harness.tenant.last_message().language == "fr-CH"
