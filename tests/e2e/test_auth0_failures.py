"""Auth0 failing or slow: clear 502/503/429 pages in time, nobody let in, signed-in users kept."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

import pytest

from pwless_gate import PasswordlessGate
from pwless_gate.devtenant import DevTenant, RunningTenant, serve_in_thread

from ..helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    FakeClock,
    Harness,
    RecordingApp,
    gate_config,
    hidden,
    wrong_code,
)
from ..procs import free_port

TIMEOUT = 0.5


def answer_bound(gate: PasswordlessGate) -> float:
    """How long an answer may take while Auth0 stalls, from the gate's own ``auth0_timeout``.

    One call to Auth0 is a connect and a read, each bounded by the timeout; half
    a second more covers everything else the gate does.
    """
    return gate.config.auth0_timeout * 2 + 0.5


@pytest.fixture
def slow_tenant(clock: FakeClock) -> Iterator[RunningTenant]:
    app = DevTenant(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, clock=clock, fault_delay=3)
    with serve_in_thread(app) as running:
        yield running


@pytest.fixture
def harness(slow_tenant: RunningTenant, clock: FakeClock) -> Harness:
    app = RecordingApp()
    gate = PasswordlessGate(app, gate_config(slow_tenant.url, auth0_timeout=TIMEOUT), clock=clock)
    return Harness(gate=gate, app=app, tenant=slow_tenant)


@pytest.mark.parametrize(
    ("mode", "status"),
    [("500", 502), ("garbage", 502), ("timeout", 503), ("429", 429)],
)
@pytest.mark.parametrize("path", ["/passwordless/start", "/oauth/token"])
def test_failures_become_pages_within_the_timeout(
    harness: Harness, mode: str, status: int, path: str
) -> None:
    signed_in = harness.new_browser()
    assert harness.login("ok@example.com", client=signed_in).status_code == 303
    calls = len(harness.app.calls)

    started = harness.start("ada@example.com")
    if path == "/oauth/token":
        assert started.status_code == 200
    harness.tenant.app.add_fault(path, mode, times=5)
    began = time.monotonic()
    if path == "/passwordless/start":
        answer = harness.start("ada@example.com")
    else:
        answer = harness.submit_code(started, harness.tenant.last_message().code)
    elapsed = time.monotonic() - began
    assert answer.status_code == status
    assert elapsed < answer_bound(harness.gate)
    if status in (502, 503, 429):
        assert "Retry-After" in answer.headers
    page = answer.get_data(as_text=True)
    assert "Traceback" not in page
    assert 'role="alert"' in page
    assert harness.client.get_cookie("pwless_gate_session") is None
    assert harness.client.get("/").status_code == 302
    assert len(harness.app.calls) == calls
    # The already signed-in browser is served all along.
    assert signed_in.get("/").status_code == 200
    harness.tenant.app.clear_faults()


def test_connection_refused(clock: FakeClock) -> None:
    app = RecordingApp()
    gate = PasswordlessGate(
        app, gate_config(f"http://127.0.0.1:{free_port()}", auth0_timeout=TIMEOUT), clock=clock
    )
    harness = Harness(gate=gate, app=app, tenant=None)
    answer = harness.start("ada@example.com")
    assert answer.status_code == 503
    assert app.calls == []


def test_jwks_unavailable_lets_nobody_in(harness: Harness) -> None:
    started = harness.start("bo@example.com")
    harness.tenant.app.add_fault("/.well-known/jwks.json", "500", times=5)
    answer = harness.submit_code(started, harness.tenant.last_message().code)
    assert answer.status_code == 502
    assert harness.client.get_cookie("pwless_gate_session") is None
    assert harness.client.get("/").status_code == 302
    assert harness.app.calls == []


def test_jwks_timeout_is_503_within_the_timeout(harness: Harness) -> None:
    started = harness.start("cy@example.com")
    harness.tenant.app.add_fault("/.well-known/jwks.json", "timeout", times=5)
    began = time.monotonic()
    answer = harness.submit_code(started, harness.tenant.last_message().code)
    assert answer.status_code == 503
    assert time.monotonic() - began < answer_bound(harness.gate)
    assert harness.app.calls == []


def test_jwks_is_cached_so_a_later_outage_does_not_matter(harness: Harness) -> None:
    assert harness.login("dee@example.com").status_code == 303
    harness.tenant.app.add_fault("/.well-known/jwks.json", "500", times=5)
    other = harness.new_browser()
    assert harness.login("eve@example.com", client=other).status_code == 303


def test_misconfigured_secret_is_a_clear_502(slow_tenant: RunningTenant, clock: FakeClock) -> None:
    app = RecordingApp()
    gate = PasswordlessGate(
        app, gate_config(slow_tenant.url, client_secret="not-the-secret"), clock=clock
    )
    harness = Harness(gate=gate, app=app, tenant=slow_tenant)
    answer = harness.start("fay@example.com")
    assert answer.status_code == 502
    assert "administrator" in answer.get_data(as_text=True)


def test_an_audience_the_tenant_does_not_have_is_a_clear_502(
    make_harness: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    """Auth0 answers ``403 access_denied`` "Service not found: …": the gate's setting is
    wrong, not the person refused; the log names the setting."""
    harness = make_harness(audience="https://api.typo.test")
    started = harness.start("fay@example.com")
    with caplog.at_level(logging.WARNING, logger="pwless_gate"):
        answer = harness.submit_code(started, harness.tenant.last_message().code)
    assert answer.status_code == 502
    assert "Please tell the administrator." in answer.get_data(as_text=True)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("PWLESS_GATE_AUDIENCE" in message for message in errors), errors
    assert harness.client.get_cookie("pwless_gate_session") is None


def test_json_clients_get_json_errors(harness: Harness) -> None:
    harness.tenant.app.add_fault("/passwordless/start", "500")
    page = harness.client.get("/_gate/login").get_data(as_text=True)
    answer = harness.client.post(
        "/_gate/login",
        data={"csrf_token": hidden(page, "csrf_token"), "email": "gus@example.com"},
        headers={"Accept": "application/json"},
    )
    assert answer.status_code == 502
    assert answer.json is not None
    assert answer.json["error"]


def test_a_start_whose_answer_is_lost_counts_as_the_latest(harness: Harness) -> None:
    """Auth0 may have carried out a start whose answer never came (and its new code
    replaced the earlier one): wrong codes typed on the earlier sign-in's page count
    against that start, as Auth0 counts them against its latest code."""
    first = harness.start("ada@example.com")
    wrong = wrong_code(harness.tenant.last_message().code)
    page = first
    for _ in range(2):
        page = harness.submit_code(page, wrong)
        assert "not right" in page.get_data(as_text=True)
    harness.tenant.app.add_fault("/passwordless/start", "timeout", times=1)
    assert harness.start("ada@example.com").status_code == 503
    harness.tenant.app.interrupt_stalls()
    # Counted against the earlier start, this third wrong code would kill it.
    third = harness.submit_code(page, wrong)
    assert third.status_code == 400
    assert "not right" in third.get_data(as_text=True)
