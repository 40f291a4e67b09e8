"""Audience and refresh, big sessions, public paths, sub-paths and proxies, logout."""

from __future__ import annotations

import io
import logging
import random
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from werkzeug.test import EnvironBuilder

from pwless_gate import PasswordlessGate
from pwless_gate.devtenant.constants import FAULT_RETRY_AFTER
from pwless_gate.sessions import idle_limit

from ..helpers import (
    BROWSER,
    CLIENT_SECRET,
    FakeClock,
    GateClient,
    Harness,
    RecordingApp,
    gate_config,
    hidden,
)

AUDIENCE = "https://api.internal.example/"


def test_audience_access_token_reaches_app(make_harness: Any) -> None:
    harness = make_harness(audience=AUDIENCE)
    assert harness.login("ada@example.com").status_code == 303
    harness.client.get("/")
    token = harness.app.calls[-1]["pwless_gate.access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert AUDIENCE in (claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]])


def test_access_token_is_refreshed_before_it_expires(make_harness: Any, clock: FakeClock) -> None:
    harness = make_harness(
        audience=AUDIENCE,
        scope="openid profile email offline_access",
        session_lifetime=3 * 86400,
        store="cookie",  # a refresh rewrites its cookie
    )
    assert harness.login("bo@example.com").status_code == 303
    harness.client.get("/")
    first = harness.app.calls[-1]["pwless_gate.access_token"]
    clock.advance(86400 - 30)  # inside the refresh margin
    answer = harness.client.get("/")
    assert answer.status_code == 200
    second = harness.app.calls[-1]["pwless_gate.access_token"]
    assert second != first
    assert any(h.startswith("pwless_gate_session=") for h in answer.headers.getlist("Set-Cookie"))
    clock.advance(86400 - 30)
    assert harness.client.get("/").status_code == 200
    assert harness.app.calls[-1]["pwless_gate.access_token"] not in (first, second)


def test_without_refresh_token_user_signs_in_again(make_harness: Any, clock: FakeClock) -> None:
    harness = make_harness(audience=AUDIENCE, session_lifetime=3 * 86400)
    assert harness.login("cy@example.com").status_code == 303
    clock.advance(86400 - 30)
    assert harness.client.get("/").status_code == 200  # still valid for 30 s
    clock.advance(60)
    assert harness.client.get("/").status_code == 302


def test_refresh_with_auth0_down_keeps_a_still_valid_token(
    make_harness: Any, clock: FakeClock, tenant: Any
) -> None:
    harness = make_harness(
        audience=AUDIENCE, scope="openid profile email offline_access", session_lifetime=3 * 86400
    )
    assert harness.login("dee@example.com").status_code == 303
    clock.advance(86400 - 30)
    tenant.app.add_fault("/oauth/token", "500")
    assert harness.client.get("/").status_code == 200
    clock.advance(60)
    tenant.app.add_fault("/oauth/token", "500")
    answer = harness.client.get("/")
    assert answer.status_code == 503
    calls = len(harness.app.calls)
    assert harness.client.get("/").status_code == 200  # Auth0 is back
    assert len(harness.app.calls) == calls + 1


def test_a_refresh_auth0_rate_limits_passes_on_its_wait(
    make_harness: Any, clock: FakeClock, tenant: Any
) -> None:
    """The access token has expired and Auth0 answers the refresh 429 with its wait:
    the request gets 503 (the session is kept) with that wait as ``Retry-After``, not
    the gate's own 30 s."""
    harness = make_harness(
        audience=AUDIENCE, scope="openid profile email offline_access", session_lifetime=3 * 86400
    )
    assert harness.login("fay@example.com").status_code == 303
    clock.advance(86400 + 10)
    tenant.app.add_fault("/oauth/token", "429")
    answer = harness.client.get("/")
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == str(FAULT_RETRY_AFTER)
    for page in ("/_gate/userinfo", "/_gate/sessions"):  # the gate's own pages alike
        tenant.app.add_fault("/oauth/token", "429")
        answer = harness.client.get(page)
        assert (answer.status_code, answer.headers["Retry-After"]) == (503, str(FAULT_RETRY_AFTER))
    assert harness.client.get("/").status_code == 200  # the limit is over: refreshed


def test_large_session_is_split_into_cookies_under_4kb(make_harness: Any) -> None:
    harness = make_harness(
        store="cookie",  # only a signed-cookie session is large
        audience=AUDIENCE,
        scope="openid profile email offline_access "
        + " ".join(f"read:{secrets.token_hex(8)}" for _ in range(200)),
    )
    done = harness.login("eve@example.com")
    assert done.status_code == 303
    cookies = done.headers.getlist("Set-Cookie")
    session_cookies = [c for c in cookies if c.startswith("pwless_gate_session")]
    assert len(session_cookies) >= 2
    assert all(len(c) < 4096 for c in session_cookies)
    assert harness.client.get("/").status_code == 200
    assert "pwless_gate.access_token" in harness.app.calls[-1]


@pytest.mark.parametrize(
    ("path", "public"),
    [
        ("/static/app.css", True),
        ("/static", True),
        ("/staticsecret", False),
        ("/healthz", True),
        ("/healthz/deep", True),
        ("/api/v1/status", True),
        ("/api/v1/status/extra", False),
        ("/static/../admin", False),
        ("/static/./x", False),
        ("//static/x", False),
        ("/static/%2e%2e/admin", False),
        ("/admin?/static/", False),
        ("/admin%3F/static/x", False),
        ("/admin%23/static/x", False),
        ("/static;/../admin", False),
        ("/static\\..\\admin", False),
        ("/admin", False),
    ],
)
def test_public_paths(make_harness: Any, path: str, public: bool) -> None:
    harness = make_harness(public_paths=("/static/", "/healthz", r"^/api/v\d+/status$"))
    answer = harness.client.get(path)
    assert (answer.status_code == 200) is public, (path, answer.status_code)
    assert bool(harness.app.calls) is public


def test_cors_preflight_optionally_public(make_harness: Any) -> None:
    headers = {"Origin": "https://ui.example", "Access-Control-Request-Method": "POST"}
    closed = make_harness()
    assert closed.client.open("/api/x", method="OPTIONS", headers=headers).status_code in (302, 401)
    open_ = make_harness(public_preflight=True)
    assert open_.client.open("/api/x", method="OPTIONS", headers=headers).status_code == 200
    assert open_.client.open("/api/x", method="OPTIONS").status_code in (302, 401)


class Unreadable(io.RawIOBase):
    def read(self, size: int = -1) -> bytes:
        raise AssertionError("the body of an unauthenticated request was read")

    def readable(self) -> bool:
        return True


def test_unauthenticated_body_is_never_read(harness: Harness) -> None:
    for accept in ("text/html", "application/json"):
        environ = EnvironBuilder(
            path="/upload",
            method="POST",
            headers={"Accept": accept},
            content_type="application/octet-stream",
        ).get_environ()
        environ["CONTENT_LENGTH"] = "9"
        environ["wsgi.input"] = Unreadable()
        statuses: list[str] = []

        def start_response(status: str, headers: Any, exc: Any = None, seen: Any = statuses) -> Any:
            seen.append(status)

        body = b"".join(harness.gate(environ, start_response))
        assert statuses[0].split()[0] in ("302", "401"), body
    assert harness.app.calls == []


def test_mounted_under_a_script_name(make_harness: Any, tenant: Any) -> None:
    harness = make_harness(methods=("email-code", "email-link"))
    tenant.app.allow_callback("http://localhost/tools/_gate/callback")
    mounted = {"SCRIPT_NAME": "/tools"}
    client = GateClient(harness.gate)
    first = client.get("/report", environ_overrides=mounted)
    assert first.headers["Location"] == "/tools/_gate/login?next=%2Ftools%2Freport"
    page = client.get(
        "/_gate/login", query_string={"next": "/tools/report"}, environ_overrides=mounted
    ).get_data(as_text=True)
    assert 'action="/tools/_gate/login"' in page
    assert 'href="/tools/_gate/static/gate.css"' in page
    started = client.post(
        "/_gate/login",
        data={
            "csrf_token": hidden(page, "csrf_token"),
            "email": "fay@example.com",
            "send": "link",
            "next": "/tools/report",
        },
        environ_overrides=mounted,
    )
    assert started.status_code == 200
    link = harness.tenant.last_message().link
    assert parse_qs(urlsplit(link).query)["redirect_uri"] == [
        "http://localhost/tools/_gate/callback"
    ]
    landing = harness.follow_link(link)
    assert landing.startswith("/tools/_gate/callback?")
    text = client.get(landing[len("/tools") :], environ_overrides=mounted).get_data(as_text=True)
    done = client.post(
        "/_gate/callback",
        data={k: hidden(text, k) for k in ("csrf_token", "code", "state")},
        environ_overrides=mounted,
    )
    assert done.status_code == 303
    assert done.headers["Location"] == "/tools/report"


def test_behind_a_trusted_proxy(make_harness: Any, tenant: Any) -> None:
    harness = make_harness(
        trusted_proxies=1, methods=("email-link",), public_url="https://tools.example"
    )
    tenant.app.allow_callback("https://tools.example/_gate/callback")
    proxied = {
        "X-Forwarded-For": "198.51.100.7",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "tools.example",
    }
    page = harness.client.get("/_gate/login", headers=proxied)
    cookies = page.headers.getlist("Set-Cookie")
    assert any(c.startswith("__Host-pwless_gate_browser=") and "Secure" in c for c in cookies)
    text = page.get_data(as_text=True)
    started = harness.client.post(
        "/_gate/login",
        data={"csrf_token": hidden(text, "csrf_token"), "email": "gus@example.com", "send": "link"},
        headers={**proxied, "Origin": "https://tools.example"},
    )
    assert started.status_code == 200
    link = harness.tenant.last_message().link
    assert parse_qs(urlsplit(link).query)["redirect_uri"] == [
        "https://tools.example/_gate/callback"
    ]


@pytest.mark.parametrize(
    "named",
    [
        {"X-Forwarded-Host": "tools.example", "X-Forwarded-Port": "443"},
        {"X-Forwarded-Host": "tools.example:443"},
    ],
    ids=["x-forwarded-port", "port-in-host"],
)
def test_a_proxy_naming_the_default_port_is_the_same_origin(
    make_harness: Any, named: dict[str, str]
) -> None:
    """Traefik and AWS load balancers send ``X-Forwarded-Port: 443``; a browser's
    ``Origin`` never names the default port: the two are the same site, and a sign-in
    behind such a proxy (no ``public_url``) is not refused as coming from another."""
    harness = make_harness(trusted_proxies=1)
    proxied = {"X-Forwarded-For": "198.51.100.7", "X-Forwarded-Proto": "https", **named}
    page = harness.client.get("/_gate/login", headers=proxied)
    started = harness.client.post(
        "/_gate/login",
        data={"csrf_token": hidden(page.get_data(as_text=True), "csrf_token"), "email": "a@b.co"},
        headers={**proxied, "Origin": "https://tools.example"},
    )
    assert started.status_code == 200, started.get_data(as_text=True)
    other = harness.client.post(
        "/_gate/login",
        data={"csrf_token": hidden(page.get_data(as_text=True), "csrf_token"), "email": "a@b.co"},
        headers={**proxied, "Origin": "https://tools.example:8443"},
    )
    assert other.status_code == 403


def test_untrusted_forwarded_headers_are_ignored(make_harness: Any) -> None:
    harness = make_harness(methods=("email-link",))
    page = harness.client.get("/_gate/login", headers={"X-Forwarded-Host": "evil.example"})
    text = page.get_data(as_text=True)
    harness.client.post(
        "/_gate/login",
        data={"csrf_token": hidden(text, "csrf_token"), "email": "hal@example.com", "send": "link"},
        headers={"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"},
    )
    link = harness.tenant.last_message().link
    assert parse_qs(urlsplit(link).query)["redirect_uri"] == ["http://localhost/_gate/callback"]


def test_federated_logout(make_harness: Any, tenant: Any) -> None:
    harness = make_harness(federated_logout=True)
    assert harness.login("ivy@example.com").status_code == 303
    page = harness.client.get("/_gate/logout?next=/").get_data(as_text=True)
    done = harness.client.post(
        "/_gate/logout", data={"csrf_token": hidden(page, "csrf_token"), "next": "/"}
    )
    assert done.status_code == 303
    location = done.headers["Location"]
    assert location.startswith(tenant.url + "/v2/logout?")
    query = parse_qs(urlsplit(location).query)
    assert query["returnTo"] == ["http://localhost/"]
    import requests

    back = requests.get(location, allow_redirects=False, timeout=5)
    assert back.status_code == 302
    assert back.headers["Location"] == "http://localhost/"
    assert harness.client.get("/").status_code == 302


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example"])
def test_logout_return_to_is_validated(make_harness: Any, tenant: Any, target: str) -> None:
    harness = make_harness(federated_logout=True)
    assert harness.login("jo@example.com").status_code == 303
    page = harness.client.get("/_gate/logout").get_data(as_text=True)
    done = harness.client.post(
        "/_gate/logout", data={"csrf_token": hidden(page, "csrf_token"), "next": target}
    )
    query = parse_qs(urlsplit(done.headers["Location"]).query)
    assert query["returnTo"] == ["http://localhost/_gate/logout"]


def test_local_logout_redirects_to_validated_next(harness: Harness) -> None:
    assert harness.login("kim@example.com").status_code == 303
    page = harness.client.get("/_gate/logout").get_data(as_text=True)
    done = harness.client.post(
        "/_gate/logout", data={"csrf_token": hidden(page, "csrf_token"), "next": "/bye"}
    )
    assert done.status_code == 303
    assert done.headers["Location"] == "/bye"


def test_auth_request_endpoint_for_nginx(make_harness: Any) -> None:
    harness = make_harness(methods=("sms-code",))
    assert harness.client.get("/_gate/auth").status_code == 401
    started = harness.start_phone("+14155552671")
    assert harness.submit_code(started, harness.tenant.last_message().code).status_code == 303
    answer = harness.client.get("/_gate/auth")
    assert answer.status_code == 202
    assert answer.headers["X-Auth-Request-User"] == "+14155552671"
    assert answer.headers["X-Auth-Request-Phone"] == "+14155552671"
    info = harness.client.get("/_gate/userinfo").json
    assert info is not None
    assert info["sub"].startswith("sms|")


def test_idle_timeout(make_harness: Any, clock: FakeClock) -> None:
    # The cookie store, whose cookie holds the idle deadline (see test_session_checks too).
    harness = make_harness(session_idle_timeout=600, session_lifetime=86400, store="cookie")
    assert harness.login("idle@example.com").status_code == 303
    first = harness.client.get_cookie("pwless_gate_session").value
    for _ in range(5):  # active every 5 minutes for 25 minutes: kept alive
        clock.advance(300)
        assert harness.client.get("/").status_code == 200
    assert harness.client.get_cookie("pwless_gate_session").value != first  # slid forward
    clock.advance(idle_limit(600) + 1)  # then idle for longer than allowed
    assert harness.client.get("/").status_code == 302


def test_idle_timeout_with_redis_keeps_the_cookie(
    make_harness: Any, clock: FakeClock, redis_url: str
) -> None:
    harness = make_harness(session_idle_timeout=600, redis_url=redis_url)
    assert harness.login("idle2@example.com").status_code == 303
    value = harness.client.get_cookie("pwless_gate_session").value
    clock.advance(400)
    answer = harness.client.get("/")
    assert answer.status_code == 200
    assert "Set-Cookie" not in answer.headers
    clock.advance(400)
    assert harness.client.get("/").status_code == 200
    assert harness.client.get_cookie("pwless_gate_session").value == value
    clock.advance(idle_limit(600) + 1)
    assert harness.client.get("/").status_code == 302


@pytest.mark.parametrize("store", [{"store": "cookie"}, {}], ids=["cookie", "sqlite"])
@pytest.mark.parametrize("navigation", [True, False], ids=["browser", "api"])
def test_a_session_ended_by_the_idle_timeout_loses_its_cookie(
    make_harness: Any, clock: FakeClock, store: dict[str, Any], navigation: bool
) -> None:
    """Challenged after the idle timeout (a redirect, or 401 for a script): the answer
    deletes the dead session's cookie, so the browser stops sending it."""
    harness = make_harness(session_idle_timeout=600, session_lifetime=86400, **store)
    assert harness.login("idle4@example.com").status_code == 303
    assert harness.client.get_cookie("pwless_gate_session") is not None
    clock.advance(idle_limit(600) + 1)
    headers = {} if navigation else {"Accept": "application/json"}
    answer = harness.client.get("/reports", headers=headers)
    assert answer.status_code == (302 if navigation else 401)
    deleted = [
        c for c in answer.headers.getlist("Set-Cookie") if c.startswith("pwless_gate_session=")
    ]
    assert deleted
    assert all("Max-Age=0" in c for c in deleted)
    assert harness.client.get_cookie("pwless_gate_session") is None


@pytest.mark.parametrize(
    ("asked", "status"),
    [
        ({"X-Forwarded-Uri": "/reports", "X-Forwarded-Method": "GET", **BROWSER}, 302),
        ({"X-Forwarded-Uri": "/reports", "X-Forwarded-Method": "GET", "Accept": "*/*"}, 401),
        ({"X-Original-URI": "/reports", "X-Original-Method": "GET", **BROWSER}, 401),
    ],
    ids=["traefik-browser", "traefik-script", "nginx"],
)
def test_auth_deletes_the_cookie_of_a_session_ended_by_the_idle_timeout(
    make_harness: Any, clock: FakeClock, asked: dict[str, str], status: int
) -> None:
    """``/_gate/auth`` finding the session ended deletes its cookie, as the gate in front
    of the app does: Traefik hands that answer to the browser as it is (and passes a 202's
    cookies on with ``addAuthCookiesToResponse``)."""
    harness = make_harness(
        session_idle_timeout=600, session_lifetime=86400, trusted_proxies="uri=1"
    )
    assert harness.login("idle5@example.com").status_code == 303
    assert harness.client.get("/_gate/auth", headers=asked).status_code == 202
    clock.advance(idle_limit(600) + 1)
    answer = harness.client.get("/_gate/auth", headers=asked)
    assert answer.status_code == status
    deleted = [
        c for c in answer.headers.getlist("Set-Cookie") if c.startswith("pwless_gate_session=")
    ]
    assert deleted
    assert all("Max-Age=0" in c for c in deleted)
    assert harness.client.get_cookie("pwless_gate_session") is None


#: Gaps between requests, in seconds, with an idle timeout of 20: never 20 s without a
#: request. 9 then 12: the second request comes 21 s after "last seen" was written.
ACTIVE_GAPS = [9, 12, 20, 0.5, 4.9, 5.1, 19.99, 1, 1, 1, 1, 17] + [
    random.Random(20).uniform(0, 20) for _ in range(30)
]


@pytest.mark.parametrize("store", [{"store": "cookie"}, {}], ids=["cookie", "sqlite"])
def test_the_idle_timeout_counts_from_the_last_request(
    make_harness: Any, clock: FakeClock, store: dict[str, Any]
) -> None:
    """Never ended before the timeout passes without a request; always ended once
    ``idle_limit`` passes without one (README: ``session_idle_timeout``)."""
    harness = make_harness(session_idle_timeout=20, session_lifetime=86400, **store)
    assert harness.login("idle3@example.com").status_code == 303
    for gap in ACTIVE_GAPS:
        clock.advance(gap)
        answer = harness.client.get("/")
        assert answer.status_code == 200, f"ended {gap} s after the last request"
    clock.advance(idle_limit(20) + 0.01)
    assert harness.client.get("/").status_code == 302


def test_the_idle_timeout_counts_requests_another_process_saw(
    tenant: Any, clock: FakeClock, tmp_path: Path
) -> None:
    """Two processes share the SQLite file; B cached the session before A's requests
    moved "last seen", and reads the record again before ending it."""
    settings = {
        "session_idle_timeout": 20,
        "session_cache_ttl": 3600,  # B's entry stays as it was
        "store": f"sqlite://{tmp_path / 'gate.sqlite3'}",
    }
    app = RecordingApp()
    gate = PasswordlessGate(app, gate_config(tenant.url, **settings), clock=clock)
    host_a = Harness(gate=gate, app=app, tenant=tenant)
    host_b = PasswordlessGate(RecordingApp(), gate_config(tenant.url, **settings), clock=clock)
    assert host_a.login("idle4@example.com").status_code == 303
    cookie = f"pwless_gate_session={host_a.client.get_cookie('pwless_gate_session').value}"

    def on_b() -> int:
        return (
            GateClient(host_b, use_cookies=False).get("/", headers={"Cookie": cookie}).status_code
        )

    clock.advance(1)
    assert on_b() == 200  # B caches the session as signed in
    for _ in range(4):  # every 6 s on A, each request writing "last seen"
        clock.advance(6)
        assert host_a.client.get("/").status_code == 200
    clock.advance(2)  # 27 s after B's copy of "last seen", 3 s after A's last request
    assert on_b() == 200


def test_refresh_refused_for_the_gates_own_credentials_keeps_the_session(
    make_harness: Any, clock: FakeClock, tenant: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A 401 from Auth0 never refuses a person: a client secret rotated in the dashboard
    but not in the gate makes refreshes fail, and nobody is signed out for it."""
    harness = make_harness(
        audience=AUDIENCE, scope="openid profile email offline_access", session_lifetime=3 * 86400
    )
    assert harness.login("fay@example.com").status_code == 303
    tenant.app.rotate_client_secret("rotated-in-the-dashboard")
    try:
        clock.advance(86400 - 30)  # due, still valid for 30 s
        with caplog.at_level(logging.ERROR, logger="pwless_gate.sessions"):
            assert harness.client.get("/").status_code == 200
        assert "PWLESS_GATE_CLIENT_SECRET" in caplog.text
        clock.advance(60)  # expired: the gate cannot refresh it, and says so
        assert harness.client.get("/").status_code == 503
    finally:
        tenant.app.rotate_client_secret(CLIENT_SECRET)  # the gate's secret is right again
    assert harness.client.get("/").status_code == 200
