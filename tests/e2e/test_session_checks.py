"""One check of a session everywhere, and revocation that stays final.

The app's paths, ``{prefix}/auth`` (nginx ``auth_request``) and
``{prefix}/userinfo`` apply the same idle timeout, token refresh and
allow-list; a renewal racing a logout on another host cannot bring the
session back.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from pwless_gate import PasswordlessGate
from pwless_gate.sessions import idle_limit

from ..examples.support import TIMEOUT, serving
from ..helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    FakeClock,
    RecordingApp,
    browser_session,
    gate_config,
    hidden,
    http_sign_in,
)
from ..procs import gunicorn

AUDIENCE = "https://api.test"
#: A gate whose sessions hold a refresh token (offline access), due daily, kept 3 days.
REFRESHING: dict[str, Any] = {
    "audience": AUDIENCE,
    "scope": "openid profile email offline_access",
    "session_lifetime": 3 * 86400,
}
SECRET_KEY = "test-secret-key-0123456789"


@contextmanager
def served(
    tenant: Any, clock: FakeClock, *, authorize: Any = None, **settings: Any
) -> Iterator[tuple[str, RecordingApp]]:
    app = RecordingApp()
    config = gate_config(tenant.url, **settings)
    gate = PasswordlessGate(app, config, clock=clock, authorize=authorize)
    with serving(gate) as base:
        yield base, app


def statuses(base: str, browser: requests.Session) -> dict[str, int]:
    """What the app's path, /auth and /userinfo answer this browser."""
    return {
        path: browser.get(base + path, allow_redirects=False, timeout=TIMEOUT).status_code
        for path in ("/reports", "/_gate/auth", "/_gate/userinfo")
    }


SIGNED_IN = {"/reports": 200, "/_gate/auth": 202, "/_gate/userinfo": 200}
SIGNED_OUT = {"/reports": 302, "/_gate/auth": 401, "/_gate/userinfo": 401}


#: The stateless store rewrites the cookie on a renewal; the default store, its record.
STORES = [{"store": "cookie"}, {}]
STORE_IDS = ["cookie", "sqlite"]


def rewrites_cookie(answer: requests.Response, settings: dict[str, Any]) -> bool:
    """Whether ``answer`` sets the session cookie, as a renewal does only with the cookie store."""
    sets = "pwless_gate_session=" in answer.headers.get("Set-Cookie", "")
    return sets == (settings.get("store") == "cookie")


@pytest.mark.parametrize("store", STORES, ids=STORE_IDS)
@pytest.mark.parametrize("where", ["/reports", "/_gate/auth", "/_gate/userinfo"])
def test_the_idle_timeout_is_the_same_everywhere(
    tenant: Any, clock: FakeClock, where: str, store: dict[str, Any]
) -> None:
    with served(tenant, clock, session_idle_timeout=600, **store) as (base, _app):
        browser, _ = http_sign_in(base, tenant, "ada@example.com")
        assert statuses(base, browser) == SIGNED_IN
        clock.advance(400)  # "last seen" is due (every 60 s): this request slides it
        slid = browser.get(base + where, allow_redirects=False, timeout=TIMEOUT)
        assert slid.status_code < 400
        assert rewrites_cookie(slid, store)
        clock.advance(400)  # 800 s after sign-in, 400 s after the slide
        assert statuses(base, browser) == SIGNED_IN
        clock.advance(idle_limit(600) + 1)
        assert statuses(base, browser) == SIGNED_OUT


@pytest.mark.parametrize("store", STORES, ids=STORE_IDS)
@pytest.mark.parametrize("where", ["/reports", "/_gate/auth", "/_gate/userinfo"])
def test_a_due_token_refresh_happens_everywhere(
    tenant: Any, clock: FakeClock, where: str, store: dict[str, Any]
) -> None:
    settings = {**REFRESHING, **store}
    with served(tenant, clock, **settings) as (base, app):
        browser, _ = http_sign_in(base, tenant, "bo@example.com")
        browser.get(base + "/reports", timeout=TIMEOUT)
        first = app.calls[-1]["pwless_gate.access_token"]
        clock.advance(86400 - 30)  # inside the refresh margin
        refreshed = browser.get(base + where, allow_redirects=False, timeout=TIMEOUT)
        assert refreshed.status_code < 400
        assert rewrites_cookie(refreshed, store)
        clock.advance(60)  # the first access token has expired now
        assert statuses(base, browser) == SIGNED_IN
        assert app.calls[-1]["pwless_gate.access_token"] != first


def test_a_due_refresh_with_auth0_down_is_503_on_auth(tenant: Any, clock: FakeClock) -> None:
    settings = REFRESHING
    with served(tenant, clock, **settings) as (base, _app):
        browser, _ = http_sign_in(base, tenant, "cy@example.com")
        clock.advance(86400 + 1)  # expired and due
        tenant.app.add_fault("/oauth/token", "500", times=0)
        try:
            answer = browser.get(base + "/_gate/auth", timeout=TIMEOUT)
            assert answer.status_code in (502, 503)
            assert "Retry-After" in answer.headers
        finally:
            tenant.app.clear_faults()


#: The idle timeout, a refresh and the ``authorize`` hook on a public path (``/docs``).
PUBLIC = {"public_paths": ("/docs",), "trusted_proxies": "uri=1"}
CURL = {"Accept": "*/*", "User-Agent": "curl/8.5.0"}


def _ask(base: str, browser: requests.Session, path: str, how: str) -> int:
    """What ``path`` answers a browser's navigation (``page``), a tool's request
    (``tool``) or nginx asking ``/auth`` about it (``auth``), with this browser's cookie."""
    if how == "auth":
        url, headers = base + "/_gate/auth", {"X-Original-URI": path, "X-Original-Method": "GET"}
    else:
        url, headers = base + path, CURL if how == "tool" else {}
    return browser.get(url, headers=headers, allow_redirects=False, timeout=TIMEOUT).status_code


def _on_public(base: str, browser: requests.Session, path: str) -> dict[str, int]:
    return {how: _ask(base, browser, path, how) for how in ("page", "tool", "auth")}


ANYONE = {"page": 200, "tool": 200, "auth": 202}


@pytest.mark.parametrize("store", STORES, ids=STORE_IDS)
def test_a_session_that_goes_idle_on_a_public_path_gets_the_public_page(
    tenant: Any, clock: FakeClock, store: dict[str, Any]
) -> None:
    """The request that finds the session idle is answered as anyone's on a public path
    (not sent to sign in), and the ended session's cookie is deleted."""
    with served(tenant, clock, session_idle_timeout=600, **PUBLIC, **store) as (base, app):
        browser, _ = http_sign_in(base, tenant, "ada@example.com")
        cookie = browser.cookies["pwless_gate_session"]
        clock.advance(idle_limit(600) + 1)
        ended = browser.get(base + "/docs/intro", allow_redirects=False, timeout=TIMEOUT)
        assert ended.status_code == 200
        assert app.calls[-1].get("REMOTE_USER") is None
        assert "pwless_gate_session=;" in ended.headers["Set-Cookie"]
        assert "no-store" in ended.headers["Cache-Control"]
        assert "pwless_gate_session" not in browser.cookies
        # The same cookie again, from a browser, a tool and through /auth.
        idle = _cookie(cookie)
        assert _on_public(base, idle, "/docs/intro") == ANYONE
        assert app.calls[-1].get("REMOTE_USER") is None
        assert statuses(base, _cookie(cookie)) == SIGNED_OUT


def test_a_person_the_hook_refuses_gets_the_public_page_when_the_session_is_renewed(
    tenant: Any, clock: FakeClock
) -> None:
    """On a public path the ``authorize`` hook's refusal gets the anonymous page, the
    request that renews the session ("last seen" due) too; the session lives on."""

    def authorize(environ: Any, user: Any) -> bool:
        return not environ["PATH_INFO"].startswith("/docs/hooked")

    settings = {"session_idle_timeout": 600, **PUBLIC}
    with served(tenant, clock, authorize=authorize, **settings) as (base, app):
        browser, _ = http_sign_in(base, tenant, "ada@example.com")
        assert _on_public(base, browser, "/docs/hooked") == ANYONE
        assert app.calls[-1].get("REMOTE_USER") is None
        for how, status in ANYONE.items():
            clock.advance(61)  # "last seen" is due every 60 s: this request renews
            assert _ask(base, browser, "/docs/hooked", how) == status
        assert app.calls[-1].get("REMOTE_USER") is None
        assert statuses(base, browser) == SIGNED_IN  # the session lives on


def test_a_refresh_auth0_cannot_make_leaves_a_public_path_public(
    tenant: Any, clock: FakeClock
) -> None:
    """A refresh due while Auth0 is down: 503 off the public path (fail closed), the
    anonymous page on it; the session is kept for when Auth0 is back."""
    settings = {**REFRESHING, **PUBLIC}
    with served(tenant, clock, **settings) as (base, app):
        browser, _ = http_sign_in(base, tenant, "cy@example.com")
        clock.advance(86400 + 1)  # expired and due
        tenant.app.add_fault("/oauth/token", "500", times=0)
        try:
            down = browser.get(base + "/docs/intro", allow_redirects=False, timeout=TIMEOUT)
            assert down.status_code == 200
            assert "Set-Cookie" not in down.headers
            assert app.calls[-1].get("REMOTE_USER") is None
            assert _on_public(base, browser, "/docs/intro") == ANYONE
            assert _status(browser, base + "/reports") == 503
        finally:
            tenant.app.clear_faults()
        assert statuses(base, browser) == SIGNED_IN
        assert app.calls[-1]["REMOTE_USER"] == "cy@example.com"


def _gunicorn_env(tenant: Any, **env: str) -> dict[str, str]:
    return {
        "PWLESS_GATE_AUTH0_DOMAIN": tenant.url,
        "PWLESS_GATE_CLIENT_ID": CLIENT_ID,
        "PWLESS_GATE_CLIENT_SECRET": CLIENT_SECRET,
        "PWLESS_GATE_SECRET_KEY": SECRET_KEY,
        **env,
    }


@pytest.mark.parametrize("store", ["cookie", "sqlite", "redis"])
def test_removed_from_the_allow_list_is_refused_after_a_restart(
    tenant: Any, tmp_path: Path, store: str, request: pytest.FixtureRequest
) -> None:
    extra = {
        "cookie": lambda: {"PWLESS_GATE_STORE": "cookie"},
        "sqlite": lambda: {"PWLESS_GATE_STATE_DIR": str(tmp_path / "state")},  # the default
        "redis": lambda: {"PWLESS_GATE_REDIS_URL": request.getfixturevalue("redis_url")},
    }[store]()
    app = 'pwless_gate:gate("tests.apps:whoami")'
    before = _gunicorn_env(tenant, PWLESS_GATE_ALLOWED_DOMAINS="example.com", **extra)
    with gunicorn(app, env=before, log=tmp_path / "before.log", workers=2) as (base, _):
        ada, done = http_sign_in(base, tenant, "ada@example.com")
        bo, _ = http_sign_in(base, tenant, "bo@example.com")
        assert done.status_code == 303
        assert statuses(base, ada) == SIGNED_IN
    after = _gunicorn_env(
        tenant,
        PWLESS_GATE_ALLOWED_DOMAINS="",
        PWLESS_GATE_ALLOWED_EMAILS="bo@example.com",
        **extra,
    )
    with gunicorn(app, env=after, log=tmp_path / "after.log", workers=2) as (base, _):
        assert statuses(base, ada) == SIGNED_OUT
        assert statuses(base, bo) == SIGNED_IN


def _cookie(base_value: str) -> requests.Session:
    browser = browser_session()
    browser.cookies.set("pwless_gate_session", base_value)
    return browser


def _status(browser: requests.Session, url: str) -> int:
    return browser.get(url, allow_redirects=False, timeout=TIMEOUT).status_code


def test_a_renewal_on_another_host_cannot_undo_a_logout(
    tenant: Any, clock: FakeClock, redis_url: str
) -> None:
    """Host B holds the session in its cache, due for renewal, when host A signs out."""
    settings = {"redis_url": redis_url, "session_idle_timeout": 600, "session_cache_ttl": 3600}
    with (
        served(tenant, clock, **settings) as (host_a, _),
        served(tenant, clock, **settings) as (host_b, _),
    ):
        browser, _ = http_sign_in(host_a, tenant, "ada@example.com")
        on_b = _cookie(browser.cookies["pwless_gate_session"])
        assert _status(on_b, host_b + "/reports") == 200  # B caches it
        clock.advance(400)  # B's next request renews (slides the idle timeout)
        page = browser.get(host_a + "/_gate/logout", timeout=TIMEOUT)
        out = browser.post(
            host_a + "/_gate/logout",
            data={"csrf_token": hidden(page.text, "csrf_token")},
            timeout=TIMEOUT,
        )
        assert out.status_code == 200
        assert _status(on_b, host_b + "/reports") == 302  # the renewal found it ended
        assert redis.Redis.from_url(redis_url).keys("pwless_gate:session:*") == []


def test_renewals_racing_sign_out_everywhere_leave_nothing_behind(
    tenant: Any, clock: FakeClock, redis_url: str
) -> None:
    """Many renewals on host B while host A signs the person out everywhere."""
    settings = {"redis_url": redis_url, "session_idle_timeout": 600, "session_cache_ttl": 1}
    app = RecordingApp()
    host_a_gate = PasswordlessGate(app, gate_config(tenant.url, **settings), clock=clock)
    with serving(host_a_gate) as host_a, served(tenant, clock, **settings) as (host_b, _):
        browser, _ = http_sign_in(host_a, tenant, "ada@example.com")
        on_b = _cookie(browser.cookies["pwless_gate_session"])
        entry = host_a_gate.sessions.lookup(browser.cookies["pwless_gate_session"])
        assert entry is not None
        sub = entry.user.sub
        answers: list[int] = []
        started = threading.Event()

        def keep_renewing() -> None:
            for _ in range(100):  # bounded: 100 renewals, each 301 s after the last
                clock.advance(301)
                answers.append(_status(on_b, host_b + "/reports"))
                started.set()
                if answers[-1] != 200:
                    return

        racer = threading.Thread(target=keep_renewing)
        racer.start()
        started.wait(TIMEOUT)
        ended = host_a_gate.sign_out_everywhere(sub)
        racer.join(TIMEOUT * 10)
        assert ended == 1
        assert 200 in answers
        assert answers[-1] == 302
        assert redis.Redis.from_url(redis_url).keys("pwless_gate:session:*") == []
        clock.advance(2)  # past every cache entry
        assert _status(on_b, host_b + "/reports") == 302
        assert _status(on_b, host_a + "/reports") == 302
