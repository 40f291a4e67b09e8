"""Email magic links: Auth0's verify_redirect, the Continue page, the code exchange.

Every test runs twice: with the tenant's default authorization-code lifetime
and with a 60-second one (Auth0 does not publish its own).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from pwless_gate import PasswordlessGate
from pwless_gate.devtenant import DevTenant, serve_in_thread

from ..helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    FakeClock,
    Harness,
    RecordingApp,
    gate_config,
    hidden,
)

CALLBACK = "http://localhost/_gate/callback"


@pytest.fixture(params=[None, 60], ids=["code-lifetime-default", "code-lifetime-60s"])
def tenant_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param is None:
        return {}
    return {"authorization_code_lifetime": request.param}


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
    assert "autofocus" not in page  # no key press meant for another page continues
    assert "autofocus" in harness.client.get(landing).get_data(as_text=True)
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
    # The page's language (French), which the message must share.
    assert harness.tenant.last_message().language == "fr"


def test_pausing_on_the_continue_page_past_the_codes_lifetime(
    harness: Harness, clock: FakeClock, tenant_options: dict[str, Any]
) -> None:
    lifetime = tenant_options.get("authorization_code_lifetime", 600)
    start_link(harness, "kim@example.com", next="/reports")
    landing = harness.follow_link(harness.tenant.last_message().link)
    page = harness.client.get(landing).get_data(as_text=True)
    clock.advance(lifetime + 1)  # the person went for coffee, then pressed Continue

    answer = harness.client.post(
        "/_gate/callback",
        data={name: hidden(page, name) for name in ("csrf_token", "code", "state", "shown_at")},
    )

    text = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert "This sign-in link has expired. Please ask for a new one." in text
    assert "Something went wrong" not in text
    assert harness.client.get_cookie("pwless_gate_session") is None


def test_a_second_press_in_the_browser_it_signed_in_leads_on(
    harness: Harness, clock: FakeClock
) -> None:
    """A double click, or Back and Continue: the link is used, the browser is signed in."""
    start_link(harness, "lou@example.com", next="/docs")
    landing = harness.follow_link(harness.tenant.last_message().link)
    assert harness.continue_link(landing).status_code == 303
    cookie = harness.client.get_cookie("pwless_gate_session").value
    clock.advance(5)

    again = harness.continue_link(landing)

    assert again.status_code == 303
    assert again.headers["Location"] == "/docs"
    assert again.headers["Referrer-Policy"] == "no-referrer"
    assert harness.client.get_cookie("pwless_gate_session").value == cookie
    # Signed out since, the same press says what happened.
    harness.client.delete_cookie("pwless_gate_session")
    late = harness.continue_link(landing)
    assert late.status_code == 400
    assert "already used" in late.get_data(as_text=True)


def test_a_second_press_signed_in_as_someone_else_says_already_used(make_harness: Any) -> None:
    harness = make_harness(methods=("email-code", "email-link"))
    start_link(harness, "mo@example.com")
    landing = harness.follow_link(harness.tenant.last_message().link)
    assert harness.continue_link(landing).status_code == 303
    assert harness.login("nat@example.com").status_code == 303  # this browser, another person
    again = harness.continue_link(landing)
    assert again.status_code == 400
    assert "already used" in again.get_data(as_text=True)


def test_check_your_email_shows_the_whole_address(harness: Harness) -> None:
    """As the code page does, so a typo can be spotted."""
    text = start_link(harness, "Bo.Lee@Example.com").get_data(as_text=True)
    assert "<strong>bo.lee@example.com</strong>" in text
    assert "***" not in text


def test_an_internationalised_domain_signs_in_by_link(make_harness: Any) -> None:
    harness = make_harness(methods=("email-link",), allowed_domains=("bücher.example",))
    text = start_link(harness, "ada@bücher.example").get_data(as_text=True)
    assert "<strong>ada@bücher.example</strong>" in text
    message = harness.tenant.last_message()
    assert message.to == "ada@xn--bcher-kva.example"
    landing = harness.follow_link(message.link)
    assert "a***@bücher.example" in harness.client.get(landing).get_data(as_text=True)
    elsewhere = harness.new_browser().get(landing).get_data(as_text=True)
    assert "ada@xn--bcher-kva.example" in elsewhere  # whole, and no look-alike letters
    assert harness.continue_link(landing).status_code == 303
    assert harness.client.get("/").status_code == 200
    assert harness.app.calls[-1]["REMOTE_USER"] == "ada@xn--bcher-kva.example"


@pytest.mark.parametrize("methods", [("email-link",), ("email-code", "email-link")])
def test_check_your_email_says_what_to_do_if_the_link_fails(
    make_harness: Any, methods: tuple[str, ...]
) -> None:
    harness = make_harness(methods=methods)

    text = start_link(harness, "max@example.com").get_data(as_text=True)

    hint = "If the link shows an error page"
    assert (hint in text) == ("email-code" in methods)  # only when a code can be asked for


def test_without_the_tenant_flag_a_link_ends_on_the_tenants_error_page(clock: FakeClock) -> None:
    """A new tenant refuses links a server started: Auth0's page, and no way back to the gate."""
    app = DevTenant(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, clock=clock, allowed_callbacks=[CALLBACK]
    )
    with serve_in_thread(app) as tenant:
        recording = RecordingApp()
        gate = PasswordlessGate(
            recording, gate_config(tenant.url, methods=("email-link",)), clock=clock
        )
        harness = Harness(gate=gate, app=recording, tenant=tenant)
        start_link(harness, "ned@example.com")
        link = tenant.last_message().link
        assert link is not None

        answer = requests.get(link, allow_redirects=False, timeout=10)

    assert answer.status_code == 403
    assert "Location" not in answer.headers
    assert answer.headers["Content-Type"].startswith("text/html")
    assert "same device and browser" in answer.text
    assert recording.calls == []
    assert harness.client.get_cookie("pwless_gate_session") is None


def test_a_blocked_user_or_an_actions_refusal_is_not_called_a_used_link(
    harness: Harness,
) -> None:
    """A link for a blocked user comes back with ``error=unauthorized`` ("user is
    blocked"), an Action's refusal with ``error=access_denied``: both say the person
    may not sign in (403), as the code flow does; asking for a new link would not help."""
    start_link(harness, "blocked@example.com")
    harness.tenant.app.block_user("blocked@example.com")
    landing = harness.follow_link(harness.tenant.last_message().link)
    assert parse_qs(urlsplit(landing).query)["error"] == ["unauthorized"]
    page = harness.client.get(landing)
    assert page.status_code == 403
    assert "This account may not sign in here." in page.get_data(as_text=True)

    start_link(harness, "ok@example.com")
    state = parse_qs(urlsplit(harness.tenant.last_message().link).query)["state"][0]
    query = urlencode(
        {"error": "access_denied", "error_description": "Access restricted", "state": state}
    )
    page = harness.client.get(f"/_gate/callback?{query}")
    assert page.status_code == 403
    assert "This account may not sign in here." in page.get_data(as_text=True)
    assert harness.client.get_cookie("pwless_gate_session") is None


def test_an_audience_the_tenant_does_not_have_is_the_gates_misconfiguration(
    make_harness: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The link comes back with ``error=access_denied`` ("Service not found: …"): the
    gate's setting is wrong, not the person refused; the log names the setting."""
    harness = make_harness(methods=("email-link",), audience="https://api.typo.test")
    start_link(harness, "ada@example.com")
    landing = harness.follow_link(harness.tenant.last_message().link)
    assert parse_qs(urlsplit(landing).query)["error"] == ["access_denied"]
    with caplog.at_level(logging.WARNING, logger="pwless_gate"):
        page = harness.client.get(landing)
    assert page.status_code == 502
    assert "Please tell the administrator." in page.get_data(as_text=True)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("PWLESS_GATE_AUDIENCE" in message for message in errors), errors
    assert harness.client.get_cookie("pwless_gate_session") is None


@pytest.mark.parametrize("audience", [None, "https://api.test"], ids=["no-audience", "another"])
def test_a_callback_that_names_another_audience_is_a_refusal_not_a_misconfiguration(
    make_harness: Any, caplog: pytest.LogCaptureFixture, audience: str | None
) -> None:
    """Anyone can open the callback with a valid ``state`` (one sign-in away) and any
    description: "Service not found" for an API the gate does not name is Auth0's
    refusal (403), with no ERROR log that would send the operator chasing a setting."""
    harness = make_harness(methods=("email-link",), audience=audience)
    start_link(harness, "ada@example.com")
    state = parse_qs(urlsplit(harness.tenant.last_message().link).query)["state"][0]
    query = urlencode(
        {
            "state": state,
            "error": "access_denied",
            "error_description": "Service not found: https://attacker.example/",
        }
    )
    with caplog.at_level(logging.WARNING, logger="pwless_gate"):
        page = harness.client.get(f"/_gate/callback?{query}")
    assert page.status_code == 403
    assert "This account may not sign in here." in page.get_data(as_text=True)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []
    assert harness.client.get_cookie("pwless_gate_session") is None
