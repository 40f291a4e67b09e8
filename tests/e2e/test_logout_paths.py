"""The app's own logout paths (``logout_paths``): they end the gate's session too.

A small app with a session cookie of its own and a ``/logout`` that clears
it stands in for any app with a Logout link, served over loopback HTTP. The
gate must let the request reach the app as the user (so the app's logout
runs), end its own session (revoked in the store), and delete its cookie in
the app's answer. Trac itself behind gunicorn is in ``test_trac.py``.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pytest
import requests

from pwless_gate import PasswordlessGate, User
from pwless_gate.errors import StoreUnavailable
from pwless_gate.stores import CookieStore
from pwless_gate.testing import session_cookie

from ..examples.support import TIMEOUT, serving
from ..helpers import (
    BROWSER,
    FakeClock,
    browser_session,
    gate_config,
    http_app_token,
    http_sign_in,
)
from ..procs import RedisServer

LOGOUT_PATHS = ("/logout", "/cgi/logout")


class ToolWithLogout:
    """An app with its own ``tool_session`` cookie, set on any page and cleared by ``/logout``."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path, user = environ["PATH_INFO"], environ.get("REMOTE_USER")
        self.calls.append((path, user))
        if path in ("/logout", "/cgi/logout"):
            start_response(
                "303 See Other",
                [
                    ("Location", "/"),
                    ("Set-Cookie", "tool_session=; Max-Age=0; Path=/"),
                    ("Content-Length", "0"),
                ],
            )
            return [b""]
        body = f"tool page for {user}".encode()
        start_response(
            "200 OK",
            [
                ("Content-Type", "text/plain"),
                ("Content-Length", str(len(body))),
                ("Set-Cookie", f"tool_session={user}; Path=/"),
            ],
        )
        return [body]


@contextmanager
def served(
    tenant: Any, clock: FakeClock | None = None, **kwargs: Any
) -> Iterator[tuple[str, ToolWithLogout, PasswordlessGate]]:
    hooks = {
        k: kwargs.pop(k)
        for k in ("on_logout", "store")
        if k in kwargs and not isinstance(kwargs[k], str)
    }
    app = ToolWithLogout()
    kwargs.setdefault("logout_paths", LOGOUT_PATHS)
    config = gate_config(tenant.url, **kwargs)
    gate = PasswordlessGate(app, config, clock=clock or FakeClock(), **hooks)
    with serving(gate) as base:
        yield base, app, gate


def gate_cookies(answer: requests.Response) -> list[str]:
    """The ``Set-Cookie`` values of ``answer`` for the gate's session (chunks included)."""
    raw = answer.raw.headers.getlist("Set-Cookie")
    return [value for value in raw if value.startswith("pwless_gate_session")]


def is_deleted(set_cookie: str) -> bool:
    return "=;" in set_cookie.replace('=""', "=") and "Max-Age=0" in set_cookie


@pytest.mark.slow
def test_the_apps_logout_ends_the_session_everywhere(tenant: Any, redis_url: str) -> None:
    logouts: list[str | None] = []

    def on_logout(user: User, environ: Mapping[str, Any]) -> None:
        logouts.append(user.email)

    with served(tenant, redis_url=redis_url, on_logout=on_logout) as (base, app, _gate):
        browser, done = http_sign_in(base, tenant, "ada@example.com")
        assert done.status_code == 303
        page = browser.get(base + "/reports", timeout=TIMEOUT)
        assert page.status_code == 200
        assert gate_cookies(page) == []  # an ordinary request sets no gate cookie
        old = browser.cookies.get("pwless_gate_session")
        assert old

        answer = browser.post(base + "/logout", allow_redirects=False, timeout=TIMEOUT)
        assert answer.status_code == 303
        assert answer.headers["Location"] == "/"
        assert app.calls[-1] == ("/logout", "ada@example.com")  # the app's own logout ran
        assert "tool_session=; Max-Age=0; Path=/" in answer.raw.headers.getlist("Set-Cookie")
        deleted = gate_cookies(answer)
        assert len(deleted) == 1
        assert is_deleted(deleted[0])
        control = [d.strip() for d in answer.headers["Cache-Control"].split(",")]
        assert control[:2] == ["private", "no-store"]
        assert logouts == ["ada@example.com"]

        again = browser.get(base + "/reports", allow_redirects=False, timeout=TIMEOUT)
        assert again.status_code == 302
        assert again.headers["Location"].startswith("/_gate/login")
        replay = requests.get(
            base + "/reports",
            cookies={"pwless_gate_session": old},
            headers=BROWSER,
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        assert replay.status_code == 302  # revoked in the store, not only forgotten here
        assert app.calls[-1] == ("/logout", "ada@example.com")


def test_the_logout_is_audited_with_its_reason(
    tenant: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with served(tenant) as (base, _app, _gate):
        browser, _ = http_sign_in(base, tenant, "bo@example.com")
        with caplog.at_level(logging.INFO, logger="pwless_gate.audit"):
            browser.get(base + "/cgi/logout/", allow_redirects=False, timeout=TIMEOUT)
    events = [
        (r.event, r.who, r.reason)  # type: ignore[attr-defined]
        for r in caplog.records
        if r.name == "pwless_gate.audit"
    ]
    assert events == [("logout", "b***@example.com", "logout_path")]


def test_without_a_session_a_logout_path_asks_for_a_sign_in_that_leads_home(
    tenant: Any,
) -> None:
    with served(tenant) as (base, app, _gate):
        browser = browser_session()
        answer = browser.get(base + "/logout?x=1", allow_redirects=False, timeout=TIMEOUT)
        assert answer.status_code == 302
        assert answer.headers["Location"] == "/_gate/login?next=%2F"
        api = browser.post(
            base + "/logout",
            headers={"Accept": "application/json"},
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        assert api.status_code == 401
        assert app.calls == []


def test_a_chunked_session_is_deleted_chunk_by_chunk(tenant: Any) -> None:
    with served(tenant, store="cookie") as (base, app, gate):  # only signed cookies are chunked
        cookie = session_cookie(
            gate, email="cy@example.com", claims={"notes": secrets.token_urlsafe(3500)}
        )
        assert "pwless_gate_session_1=" in cookie  # two cookies carry it
        headers = {"Cookie": cookie}
        assert requests.get(base + "/", headers=headers, timeout=TIMEOUT).status_code == 200
        answer = requests.post(
            base + "/logout", headers=headers, allow_redirects=False, timeout=TIMEOUT
        )
        assert answer.status_code == 303
        deleted = gate_cookies(answer)
        assert sorted(d.split("=", 1)[0] for d in deleted) == [
            "pwless_gate_session",
            "pwless_gate_session_1",
        ]
        assert all(is_deleted(d) for d in deleted)
        assert app.calls[-1] == ("/logout", "cy@example.com")


def test_a_session_renewed_on_the_way_is_ended_too(tenant: Any, clock: FakeClock) -> None:
    """Its "last seen" is due: the session is renewed first, then both values end."""
    with served(tenant, clock, session_idle_timeout=600) as (base, app, gate):
        cookie = session_cookie(gate, email="dee@example.com", now=clock())
        clock.advance(301)
        answer = requests.get(
            base + "/logout", headers={"Cookie": cookie}, allow_redirects=False, timeout=TIMEOUT
        )
        assert answer.status_code == 303
        assert app.calls[-1] == ("/logout", "dee@example.com")
        set_cookies = gate_cookies(answer)
        assert len(set_cookies) == 1
        assert is_deleted(set_cookies[0])  # no renewed session handed back


def test_an_on_logout_that_raises_fails_closed_and_still_deletes_the_cookie(
    tenant: Any,
) -> None:
    def on_logout(user: User, environ: Mapping[str, Any]) -> None:
        raise RuntimeError("the user table is down")

    with served(tenant, on_logout=on_logout) as (base, app, _gate):
        browser, _ = http_sign_in(base, tenant, "eve@example.com")
        answer = browser.post(base + "/logout", allow_redirects=False, timeout=TIMEOUT)
        assert answer.status_code == 500
        assert "Traceback" not in answer.text
        assert all(is_deleted(d) for d in gate_cookies(answer))
        assert gate_cookies(answer)
        assert ("/logout", "eve@example.com") not in app.calls


class UnrevokableStore(CookieStore):
    """A store whose revocation cannot reach its backend (Redis down, say)."""

    def revoke(self, cookie_value: str) -> None:
        raise StoreUnavailable("down")


def test_a_store_that_cannot_revoke_answers_503_without_calling_the_app(tenant: Any) -> None:
    config = gate_config(tenant.url)
    with served(tenant, store=UnrevokableStore(config.signing_keys)) as (base, app, _gate):
        browser, _ = http_sign_in(base, tenant, "flo@example.com")
        answer = browser.post(base + "/logout", allow_redirects=False, timeout=TIMEOUT)
        assert answer.status_code == 503
        assert ("/logout", "flo@example.com") not in app.calls


def test_a_due_session_on_a_logout_path_with_redis_down_answers_503(
    tenant: Any, clock: FakeClock, redis_server: RedisServer, redis_url: str
) -> None:
    """The session is cached and due for "last seen" when Redis stops: its logout can
    neither be recorded nor skipped, so 503 and the app is not called."""
    settings = {"redis_url": redis_url, "session_idle_timeout": 600, "session_cache_ttl": 3600}
    with served(tenant, clock, **settings) as (base, app, _gate):
        browser, _ = http_sign_in(base, tenant, "gus@example.com")
        assert browser.get(base + "/page", timeout=TIMEOUT).status_code == 200
        clock.advance(100)
        redis_server.stop()
        try:
            answer = browser.get(base + "/logout", allow_redirects=False, timeout=TIMEOUT)
        finally:
            redis_server.start()
        assert answer.status_code == 503, answer.text
        assert answer.headers["Retry-After"].isdigit()
        assert ("/logout", "gus@example.com") not in app.calls


def test_a_logout_path_a_rule_keeps_from_the_app_still_signs_out(
    tenant: Any, clock: FakeClock, tmp_path: Any
) -> None:
    """``/admin/logout`` under a rule with ``max_age``, past it: the app's logout is not
    called, but the gate's session ends all the same, and the sign-in page it sends to
    leads home, not back to the logout (which would end the new session at once). A rule
    that refuses the person outright answers 403 and ends nothing, as ``authorize``."""
    rules = tmp_path / "rules.toml"
    rules.write_text(
        '[[rules]]\npath = "/admin"\nmax_age = 900\n\n'
        '[[rules]]\npath = "/boss"\nallow = ["boss@example.com"]\n'
    )
    logouts: list[str | None] = []

    def on_logout(user: User, environ: Mapping[str, Any]) -> None:
        logouts.append(user.email)

    with served(
        tenant,
        clock,
        rules_file=str(rules),
        logout_paths=("/admin/logout", "/boss/logout"),
        on_logout=on_logout,
    ) as (base, app, _gate):
        for path, wait in (("/admin/logout", 901), ("/admin/logout", 1800)):
            browser, done = http_sign_in(base, tenant, "ada@example.com")
            assert done.status_code == 303
            clock.advance(wait)
            calls = len(app.calls)
            old = browser.cookies["pwless_gate_session"]
            answer = browser.get(
                base + path, headers=BROWSER, allow_redirects=False, timeout=TIMEOUT
            )
            assert answer.status_code == 302, path
            assert answer.headers["Location"] == "/_gate/login?next=%2F", path
            assert [is_deleted(c) for c in gate_cookies(answer)] == [True], path
            assert len(app.calls) == calls  # the rule keeps the app's logout from running
            after = requests.get(
                base + "/reports",
                cookies={"pwless_gate_session": old},
                headers=BROWSER,
                allow_redirects=False,
                timeout=TIMEOUT,
            )
            assert after.status_code == 302, path  # the old cookie is no session any more
        assert logouts == ["ada@example.com", "ada@example.com"]
        browser, _ = http_sign_in(base, tenant, "ada@example.com")
        refused = browser.get(base + "/boss/logout", headers=BROWSER, timeout=TIMEOUT)
        assert refused.status_code == 403
        assert browser.get(base + "/reports", timeout=TIMEOUT).status_code == 200


def test_a_logout_path_with_non_ascii_characters_signs_out(tenant: Any) -> None:
    # PATH_INFO carries the path's UTF-8 bytes read as latin-1 (PEP 3333); the setting is
    # written as text.
    with served(tenant, logout_paths=("/abmelden-ä",)) as (base, app, _gate):
        browser, _ = http_sign_in(base, tenant, "ada@example.com")
        answer = browser.get(base + "/abmelden-%C3%A4", allow_redirects=False, timeout=TIMEOUT)
        assert answer.status_code == 200
        assert app.calls[-1] == ("/abmelden-Ã¤", "ada@example.com")
        deleted = gate_cookies(answer)
        assert len(deleted) == 1
        assert is_deleted(deleted[0])
        again = browser.get(base + "/reports", allow_redirects=False, timeout=TIMEOUT)
        assert again.status_code == 302


def test_a_logout_path_asked_about_by_a_proxy_ends_the_session(
    tenant: Any, clock: FakeClock, tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Behind nginx's ``auth_request`` or Traefik's ``forwardAuth`` the gate never sees
    the app's requests, only ``{prefix}/auth``'s questions about them: one about a logout
    path ends the session there, as in front of the app. The 202 names the person (the
    app's own logout runs for them) and deletes the cookie; the session is revoked in
    the store, so its cookie signs nobody in again. Without a session, Traefik's
    browser is sent to a sign-in that leads home; past a rule's ``max_age`` the session
    ends without the app being asked; a rule that refuses the person ends nothing, nor
    does an app token."""
    rules = tmp_path / "rules.toml"
    rules.write_text(
        '[[rules]]\npath = "/admin"\nmax_age = 900\n\n'
        '[[rules]]\npath = "/boss"\nallow = ["boss@example.com"]\n'
    )
    logouts: list[tuple[str | None, str]] = []

    def on_logout(user: User, environ: Mapping[str, Any]) -> None:
        logouts.append((user.email, environ["PATH_INFO"]))

    nginx = ("X-Original-URI", "X-Original-Method")
    traefik = ("X-Forwarded-Uri", "X-Forwarded-Method")

    def ask(browser: Any, uri: str, pair: tuple[str, str] = nginx) -> requests.Response:
        headers = {pair[0]: uri, pair[1]: "GET"}
        return browser.get(
            base + "/_gate/auth", headers=headers, allow_redirects=False, timeout=TIMEOUT
        )

    with served(
        tenant,
        clock,
        rules_file=str(rules),
        logout_paths=("/logout", "/admin/logout", "/boss/logout"),
        trusted_proxies="uri=1",
        app_tokens=True,
        on_logout=on_logout,
    ) as (base, app, _gate):
        for pair in (nginx, traefik):
            browser, _ = http_sign_in(base, tenant, "ada@example.com")
            old = browser.cookies["pwless_gate_session"]
            assert ask(browser, "/reports", pair).status_code == 202
            with caplog.at_level(logging.INFO, logger="pwless_gate.audit"):
                answer = ask(browser, "/logout?from=menu", pair)
            assert answer.status_code == 202
            assert answer.headers["X-Auth-Request-User"] == "ada@example.com"
            assert [is_deleted(c) for c in gate_cookies(answer)] == [True]
            events = [r.event for r in caplog.records if r.name == "pwless_gate.audit"]
            assert events == ["logout"]
            caplog.clear()
            replay = requests.get(
                base + "/_gate/auth",
                headers={pair[0]: "/reports", pair[1]: "GET"},
                cookies={"pwless_gate_session": old},
                timeout=TIMEOUT,
            )
            assert replay.status_code == 401  # revoked in the store
        assert logouts == [("ada@example.com", "/logout")] * 2
        assert app.calls == []  # only asked about: the proxy calls the app

        # No session: the sign-in leads home, not back to the logout.
        signed_out = ask(browser_session(), "/logout", traefik)
        assert signed_out.headers["Location"] == f"{base}/_gate/login?next=%2F"
        # Nor does a logout's own form read as a form lost on the way (Trac posts one).
        posted = browser_session().get(
            base + "/_gate/auth",
            headers={traefik[0]: "/logout", traefik[1]: "POST", "Origin": base},
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        assert posted.headers["Location"] == f"{base}/_gate/login?next=%2F"

        # Past a rule's max_age: the session ends; no new sign-in comes back here.
        browser, _ = http_sign_in(base, tenant, "ada@example.com")
        clock.advance(901)
        stale = ask(browser, "/admin/logout", traefik)
        assert stale.status_code == 302
        assert stale.headers["Location"] == f"{base}/_gate/login?next=%2F"
        assert [is_deleted(c) for c in gate_cookies(stale)] == [True]
        assert ask(browser, "/reports").status_code == 401

        # Refused by a rule: 403, and the session lives on.
        browser, _ = http_sign_in(base, tenant, "ada@example.com")
        assert ask(browser, "/boss/logout").status_code == 403
        assert ask(browser, "/reports").status_code == 202

        # An app token is no session: nothing to end, and nothing ended.
        token = http_app_token(base, browser)
        by_token = requests.get(
            base + "/_gate/auth",
            headers={nginx[0]: "/logout", nginx[1]: "GET", "Authorization": f"Bearer {token}"},
            timeout=TIMEOUT,
        )
        assert by_token.status_code == 202
        assert gate_cookies(by_token) == []
        assert ask(browser, "/reports").status_code == 202
        assert logouts == [("ada@example.com", "/logout")] * 2 + [
            ("ada@example.com", "/admin/logout")
        ]
