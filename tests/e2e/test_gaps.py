"""Checks no other test would miss: each fails if the defence it names is taken out.

- the allow-list is checked again when a code is verified, not only when it is sent;
- a sign-in transaction older than ``login_lifetime`` is refused, even with the right code;
- ``public_preflight`` lets through real CORS preflights only, not any OPTIONS;
- signing in again revokes the browser's old Redis session.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from werkzeug.test import Client, TestResponse

from pwless_gate import PasswordlessGate

from ..helpers import FakeClock, Harness, RecordingApp

MakeHarness = Callable[..., Harness]
SESSION = "pwless_gate_session"
BROWSER = "pwless_gate_browser"


def assert_refused_without_session(harness: Harness, browser: Client) -> None:
    """No session cookie was set, a protected page is still challenged, the app never ran."""
    assert browser.get_cookie(SESSION) is None
    assert browser.get("/").status_code == 302
    assert harness.app.calls == []


def browser_of(harness: Harness, like: Client) -> Client:
    """A browser on ``harness``'s gate carrying the browser id cookie of ``like``."""
    browser = harness.new_browser()
    browser_id = like.get_cookie(BROWSER)
    assert browser_id is not None
    browser.set_cookie(BROWSER, browser_id.value)
    return browser


# -- the allow-list is checked again at sign-in ------------------------------------------------


@pytest.mark.parametrize(
    ("verifier_allows", "status"),
    [
        pytest.param(("alice@example.com",), 303, id="twin-gate-allowing-alice-signs-in"),
        pytest.param(("bob@example.com",), 400, id="gate-allowing-only-bob-refuses"),
    ],
)
def test_the_allow_list_is_checked_again_when_the_code_is_verified(
    make_harness: MakeHarness, verifier_allows: tuple[str, ...], status: int
) -> None:
    # Gate A sends the code; gate B (same secret_key, same tenant) receives it. The
    # twin that allows alice too shows B accepts A's CSRF token and transaction, so
    # a refusal from the other one can only come from its own allow-list. That one asks
    # Auth0 about a pseudonym, never a refused address, so the code reads as not right,
    # as any code typed for an address it refuses does.
    gate_a = make_harness(allowed_emails=("alice@example.com",))
    gate_b = make_harness(allowed_emails=verifier_allows)
    started = gate_a.start("alice@example.com")
    assert started.status_code == 200
    code = gate_a.tenant.last_message(to="alice@example.com").code
    browser = browser_of(gate_b, gate_a.client)

    answer = gate_b.submit_code(started, code, client=browser)

    assert answer.status_code == status, answer.get_data(as_text=True)
    if status == 400:
        assert answer.mimetype == "text/html"
        assert "That code is not right" in answer.get_data(as_text=True)
        assert_refused_without_session(gate_b, browser)
    else:
        assert browser.get_cookie(SESSION) is not None
        assert browser.get("/").status_code == 200
        assert gate_b.app.calls[-1]["REMOTE_USER"] == "alice@example.com"
    assert gate_a.app.calls == []


def test_the_gate_that_sent_the_code_signs_in(make_harness: MakeHarness) -> None:
    gate_a = make_harness(allowed_emails=("alice@example.com",))
    started = gate_a.start("alice@example.com")
    code = gate_a.tenant.last_message(to="alice@example.com").code

    answer = gate_a.submit_code(started, code)

    assert answer.status_code == 303
    assert gate_a.client.get("/").status_code == 200
    assert gate_a.app.calls[-1]["REMOTE_USER"] == "alice@example.com"


# -- an expired sign-in transaction -------------------------------------------------------------


LOGIN_LIFETIME = 60


@pytest.mark.parametrize(
    ("waited", "status"),
    [
        pytest.param(LOGIN_LIFETIME - 1, 303, id="within-login-lifetime"),
        pytest.param(LOGIN_LIFETIME + 1, 400, id="past-login-lifetime"),
    ],
)
def test_a_sign_in_older_than_login_lifetime_is_refused(
    make_harness: MakeHarness, clock: FakeClock, waited: int, status: int
) -> None:
    # Both waits are well inside the tenant's 180 s code lifetime: only the
    # gate's own transaction can have expired.
    harness = make_harness(login_lifetime=LOGIN_LIFETIME)
    started = harness.start("carol@example.com")
    code = harness.tenant.last_message(to="carol@example.com").code
    clock.advance(waited)

    answer = harness.submit_code(started, code)

    assert answer.status_code == status, answer.get_data(as_text=True)
    if status == 400:
        assert "expired" in answer.get_data(as_text=True).lower()
        assert_refused_without_session(harness, harness.client)
    else:
        assert harness.client.get("/").status_code == 200


# -- only a real preflight is public ------------------------------------------------------------


def options(harness: Harness, **headers: str) -> TestResponse:
    return harness.client.options(
        "/api/items", headers={"Origin": "https://app.example", **headers}
    )


def test_options_with_only_an_origin_is_challenged(make_harness: MakeHarness) -> None:
    harness = make_harness(public_preflight=True)

    answer = options(harness)

    assert answer.status_code in (302, 401)
    assert harness.app.calls == []


def test_a_real_preflight_reaches_the_app_without_a_user(make_harness: MakeHarness) -> None:
    harness = make_harness(public_preflight=True)

    answer = options(harness, **{"Access-Control-Request-Method": "PUT"})

    assert answer.status_code == 200
    assert len(harness.app.calls) == 1
    assert harness.app.calls[0]["REQUEST_METHOD"] == "OPTIONS"
    assert "REMOTE_USER" not in harness.app.calls[0]


# -- signing in again revokes the old Redis session ---------------------------------------------


@pytest.mark.slow
def test_signing_in_again_revokes_the_old_redis_session(
    make_harness: MakeHarness, redis_url: str, tenant: Any, clock: FakeClock
) -> None:
    harness = make_harness(redis_url=redis_url)
    assert harness.login("dee@example.com").status_code == 303
    old = harness.client.get_cookie(SESSION)
    assert old is not None
    old_value = old.value

    assert harness.login("dee@example.com").status_code == 303
    new = harness.client.get_cookie(SESSION)
    assert new is not None
    assert new.value != old_value
    assert harness.client.get("/").status_code == 200
    assert harness.app.calls[-1]["REMOTE_USER"] == "dee@example.com"

    # A second gate process with the same config: no cache of its own can hide the store.
    app = RecordingApp()
    elsewhere = Harness(
        gate=PasswordlessGate(app, harness.gate.config, clock=clock), app=app, tenant=tenant
    )
    replayed = elsewhere.new_browser()
    replayed.set_cookie(SESSION, old_value)
    assert replayed.get("/").status_code == 302
    assert app.calls == []
    current = elsewhere.new_browser()
    current.set_cookie(SESSION, new.value)
    assert current.get("/").status_code == 200
    assert app.calls[-1]["REMOTE_USER"] == "dee@example.com"
