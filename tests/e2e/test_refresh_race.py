"""Concurrent requests that find the access token due refresh it once.

Auth0 rotates refresh tokens and revokes the whole family when one is used
twice (no reuse interval by default): two refreshes of one session would
sign the person out. These tests send many requests from one browser at the
moment its access token is due and count the refresh-token exchanges at the
local tenant, which runs in the test process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from pwless_gate import PasswordlessGate
from pwless_gate.devtenant import DevTenant, RunningTenant, serve_in_thread

from ..examples.support import TIMEOUT, serving
from ..helpers import (
    BROWSER,
    CLIENT_ID,
    CLIENT_SECRET,
    FakeClock,
    Harness,
    RecordingApp,
    gate_config,
    http_sign_in,
)
from ..procs import gunicorn, until

pytestmark = pytest.mark.slow

AUDIENCE = "https://api.test"
SCOPE = "openid profile email offline_access"
#: Requests sent at once from the one browser.
CONCURRENT = 24
#: An access token this short is due for refresh (60 s ahead) from the start.
DUE_AT_ONCE = 60


def cookie_header(browser: requests.Session) -> dict[str, str]:
    """The browser's cookies as a header, to send from other threads as it would
    (with its navigation's ``Accept``)."""
    return {
        **BROWSER,
        "Cookie": "; ".join(f"{name}={value}" for name, value in browser.cookies.items()),
    }


def burst(url: str, headers: dict[str, str], count: int = CONCURRENT) -> list[requests.Response]:
    """``count`` simultaneous GETs of ``url`` with the same ``headers`` (one browser)."""

    def get(_: int) -> requests.Response:
        return requests.get(url, headers=headers, allow_redirects=False, timeout=TIMEOUT * 3)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(get, range(count)))


@pytest.fixture
def make_tenant(clock: FakeClock) -> Iterator[Callable[..., RunningTenant]]:
    """Serve tenants built with the given settings on ``clock``; stopped after the test."""
    running: list[RunningTenant] = []

    def make(**options: Any) -> RunningTenant:
        app = DevTenant(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, clock=clock, **options)
        running.append(serve_in_thread(app))
        return running[-1]

    yield make
    for tenant in running:
        tenant.stop()


@pytest.fixture
def real_time_tenant() -> Iterator[RunningTenant]:
    """A tenant on the real clock, as the gunicorn workers are."""
    app = DevTenant(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        apis=[AUDIENCE],
        offline_access_apis=[AUDIENCE],
        access_token_lifetime=DUE_AT_ONCE,
    )
    with serve_in_thread(app) as running:
        yield running


@pytest.mark.parametrize(
    "signin_lifetime",
    [
        pytest.param(DUE_AT_ONCE, id="due-still-valid"),
        pytest.param(0, id="expired"),
    ],
)
def test_gunicorn_workers_sharing_redis_refresh_a_session_once(
    real_time_tenant: RunningTenant, redis_url: str, tmp_path: Path, signin_lifetime: int
) -> None:
    """Still valid: the workers that miss the lock go on with the old token. Expired:
    they wait for the lock holder's refresh and read it from Redis."""
    tenant = real_time_tenant
    tenant.app.access_token_lifetime = signin_lifetime
    env = {
        "PWLESS_GATE_AUTH0_DOMAIN": tenant.url,
        "PWLESS_GATE_CLIENT_ID": CLIENT_ID,
        "PWLESS_GATE_CLIENT_SECRET": CLIENT_SECRET,
        "PWLESS_GATE_SECRET_KEY": "refresh-race-secret-key-0123456789",
        "PWLESS_GATE_ALLOWED_DOMAINS": "example.com",
        "PWLESS_GATE_AUDIENCE": AUDIENCE,
        "PWLESS_GATE_SCOPE": SCOPE,
        "PWLESS_GATE_REDIS_URL": redis_url,
    }
    app = 'pwless_gate:gate("tests.apps:whoami")'
    with gunicorn(app, env=env, log=tmp_path / "gunicorn.log", workers=4) as (base, _):
        browser, done = http_sign_in(base, tenant, "ada@example.com")
        assert done.status_code == 303, done.text
        tenant.app.access_token_lifetime = 3600  # refreshed tokens are not due again

        answers = burst(f"{base}/reports?sleep=0.2", cookie_header(browser))

        assert [a.status_code for a in answers] == [200] * CONCURRENT
        assert {a.json()["remote_user"] for a in answers} == {"ada@example.com"}
        assert len({a.json()["pid"] for a in answers}) > 1  # it did cross processes
        assert tenant.app.refresh_exchanges == 1
        assert tenant.app.revoked_refresh_families == 0
        again = browser.get(f"{base}/reports", allow_redirects=False, timeout=TIMEOUT)
        assert again.status_code == 200
        assert tenant.app.refresh_exchanges == 1


@pytest.mark.parametrize(
    "advance",
    [
        pytest.param(86400 - 30, id="due-still-valid"),
        pytest.param(86400 + 1, id="expired"),
    ],
)
def test_threads_of_one_process_refresh_a_cookie_session_once(
    tenant: RunningTenant, clock: FakeClock, advance: int
) -> None:
    """The cookie store has no shared state: one refresh per session per process."""
    app = RecordingApp()
    settings = {
        "audience": AUDIENCE,
        "scope": SCOPE,
        "session_lifetime": 3 * 86400,
        "store": "cookie",
    }
    gate = PasswordlessGate(app, gate_config(tenant.url, **settings), clock=clock)
    with serving(gate) as base:
        browser, done = http_sign_in(base, tenant, "bo@example.com")
        assert done.status_code == 303, done.text
        first = browser.get(base + "/reports", timeout=TIMEOUT)
        assert first.status_code == 200
        before = tenant.app.refresh_exchanges
        clock.advance(advance)

        answers = burst(base + "/reports", cookie_header(browser))

        assert [a.status_code for a in answers] == [200] * CONCURRENT
        assert tenant.app.refresh_exchanges == before + 1
        assert tenant.app.revoked_refresh_families == 0
        renewed = {tuple(sorted(a.cookies.items())) for a in answers if a.cookies}
        assert len(renewed) == 1  # every answer that renews hands back the same session
        browser.cookies.update(dict(renewed.pop()))
        assert browser.get(base + "/reports", timeout=TIMEOUT).status_code == 200
        assert tenant.app.refresh_exchanges == before + 1


def test_an_api_without_offline_access_signs_in_again_at_expiry(
    make_tenant: Callable[..., RunningTenant], clock: FakeClock
) -> None:
    """The gate asks for offline_access; this API grants none, and nothing breaks."""
    tenant = make_tenant(apis=[AUDIENCE])
    app = RecordingApp()
    settings = {"audience": AUDIENCE, "scope": SCOPE, "session_lifetime": 3 * 86400}
    gate = PasswordlessGate(app, gate_config(tenant.url, **settings), clock=clock)
    with serving(gate) as base:
        browser, done = http_sign_in(base, tenant, "cy@example.com")
        assert done.status_code == 303, done.text
        clock.advance(86400 - 30)
        assert browser.get(base + "/reports", timeout=TIMEOUT).status_code == 200
        clock.advance(60)
        expired = browser.get(base + "/reports", allow_redirects=False, timeout=TIMEOUT)
        assert expired.status_code == 302
        assert tenant.app.refresh_exchanges == 0


@pytest.mark.parametrize(
    ("reuse_interval", "second"),
    [
        pytest.param(0, 302, id="auth0-default-signs-out"),
        pytest.param(10, 200, id="with-a-reuse-interval"),
    ],
)
def test_two_processes_with_the_cookie_store_both_refresh(
    make_tenant: Callable[..., RunningTenant], clock: FakeClock, reuse_interval: int, second: int
) -> None:
    """The cookie store's limit, stated in its docstring and the README: two processes
    refresh the same session. Without a reuse interval Auth0 revokes the family and the
    second one signs the person out; a reuse interval of a few seconds lets both through."""
    tenant = make_tenant(
        apis=[AUDIENCE], offline_access_apis=[AUDIENCE], refresh_reuse_interval=reuse_interval
    )
    settings = {
        "audience": AUDIENCE,
        "scope": SCOPE,
        "session_lifetime": 3 * 86400,
        "store": "cookie",
    }
    hosts = [
        PasswordlessGate(RecordingApp(), gate_config(tenant.url, **settings), clock=clock)
        for _ in range(2)
    ]
    with serving(hosts[0]) as one, serving(hosts[1]) as two:
        browser, _ = http_sign_in(one, tenant, "dee@example.com")
        headers = cookie_header(browser)
        clock.advance(86400 - 30)

        answers = [
            requests.get(base + "/reports", headers=headers, allow_redirects=False, timeout=TIMEOUT)
            for base in (one, two)
        ]

        assert [a.status_code for a in answers] == [200, second]
        assert tenant.app.refresh_exchanges == 2
        assert tenant.app.revoked_refresh_families == (1 if second == 302 else 0)


#: The gate's ``auth0_timeout`` in the lost-refresh test, and how long the tenant sits
#: on the refresh before carrying it out (longer: the gate has given up by then).
LOST_TIMEOUT = 0.5
LOST_DELAY = 2.0
#: The Rotation Overlap Period the README suggests.
SUGGESTED_OVERLAP = 300


@pytest.mark.parametrize(
    ("reuse_interval", "then"),
    [
        pytest.param(SUGGESTED_OVERLAP, 200, id="suggested-overlap-keeps-the-session"),
        pytest.param(0, 302, id="auth0-default-signs-out"),
    ],
)
def test_a_refresh_whose_answer_was_lost(
    make_tenant: Callable[..., RunningTenant],
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    reuse_interval: int,
    then: int,
) -> None:
    """The tenant carries out a refresh after the gate stopped waiting for it: the
    token rotated, and the gate's next refresh reuses the old one. The overlap period
    the README suggests lets it through; without one the person is signed out, and the
    log says the refusal most likely comes from the lost refresh."""
    tenant = make_tenant(
        apis=[AUDIENCE],
        offline_access_apis=[AUDIENCE],
        refresh_reuse_interval=reuse_interval,
        fault_delay=LOST_DELAY,
    )
    settings = {
        "audience": AUDIENCE,
        "scope": SCOPE,
        "session_lifetime": 3 * 86400,
        "auth0_timeout": LOST_TIMEOUT,
    }
    app = RecordingApp()
    gate = PasswordlessGate(app, gate_config(tenant.url, **settings), clock=clock)
    harness = Harness(gate=gate, app=app, tenant=tenant)
    assert harness.login("eve@example.com").status_code == 303
    clock.advance(86400 - 30)  # due, and the access token still valid for 30 s
    tenant.app.add_fault("/oauth/token", "timeout", times=1)
    caplog.set_level(logging.INFO, logger="pwless_gate.sessions")

    assert harness.client.get("/").status_code == 200  # the old token, still valid
    assert [r.levelno for r in caplog.records if r.name == "pwless_gate.sessions"] == [
        logging.WARNING
    ]
    assert until(lambda: tenant.app.refresh_exchanges == 1, 10)  # carried out, late

    caplog.clear()
    clock.advance(10)  # the person's next request
    answer = harness.client.get("/")

    assert answer.status_code == then
    assert tenant.app.refresh_exchanges == 2
    assert tenant.app.revoked_refresh_families == (1 if then == 302 else 0)
    said = [r for r in caplog.records if r.name == "pwless_gate.sessions"]
    if then == 302:
        assert [r.levelno for r in said] == [logging.WARNING]
        assert "Rotation Overlap Period" in said[0].getMessage()
    else:
        assert said == []
