"""Safe by default: what a careless setting, a forged Host or a patient attacker cannot do."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from pwless_gate import PasswordlessGate
from pwless_gate.auth0 import Auth0Client
from pwless_gate.errors import Auth0Unavailable, ConfigError
from pwless_gate.testing import session_cookie

from ..examples.support import TIMEOUT, serving
from ..helpers import CLIENT_SECRET, RecordingApp, gate_config, hidden, http_sign_in
from ..test_cli import run

SECRET_KEY = "test-secret-key-0123456789"


# -- small ones (item 10) -----------------------------------------------------------------


def test_no_repr_shows_a_secret(tenant: Any) -> None:
    gate = PasswordlessGate(
        RecordingApp(),
        gate_config(tenant.url, previous_secret_keys=("an-older-secret-key-42",)),
    )
    for shown in (repr(gate.config), repr(gate.views.deps), repr(gate), str(gate.config)):
        for secret in (CLIENT_SECRET, SECRET_KEY, "an-older-secret-key-42"):
            assert secret not in shown


class Redirecting:
    """An 'Auth0' that answers every POST with a 307 to a trap on itself."""

    def __init__(self) -> None:
        self.trapped = 0
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/trap":
            with self.lock:
                self.trapped += 1
            start_response("200 OK", [("Content-Type", "application/json")])
            return [b"{}"]
        start_response("307 Temporary Redirect", [("Location", "/trap")])
        return [b""]


def test_calls_to_auth0_never_follow_a_redirect() -> None:
    auth0 = Redirecting()
    with serving(auth0) as base:
        client = Auth0Client(base, "client", CLIENT_SECRET, timeout=TIMEOUT)
        with pytest.raises(Auth0Unavailable):
            client.start(connection="email", identifier="ada@example.com")
        with pytest.raises(Auth0Unavailable):
            client.exchange_otp(
                realm="email", username="ada@example.com", otp="123456", scope="openid"
            )
    assert auth0.trapped == 0


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "example.com"])  # noqa: S104
def test_the_local_tenant_refuses_to_listen_beyond_loopback(host: str) -> None:
    result = run(["dev-tenant", "--host", host, "--port", "9"], {})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "--unsafe-listen-anywhere" in lines[0]


@pytest.mark.parametrize(
    "path",
    [
        "/static/%252e%252e/admin",
        "/static/%252E%252E/admin",
        "/static/%2e%2e/admin",
        "/static/..%252fadmin",
    ],
    ids=["double-encoded", "double-encoded-upper", "encoded", "double-encoded-slash"],
)
def test_encoded_dot_segments_are_not_public(tenant: Any, path: str) -> None:
    app = RecordingApp()
    gate = PasswordlessGate(app, gate_config(tenant.url, public_paths=("/static/",)))
    with serving(gate) as base:
        public = requests.get(base + "/static/app.css", allow_redirects=False, timeout=TIMEOUT)
        assert public.status_code == 200
        tricked = requests.get(base + path, allow_redirects=False, timeout=TIMEOUT)
        assert tricked.status_code == 401  # challenged, as a script is
        assert len(app.calls) == 1
        # Signed in, the same path reaches the app as the signed-in person only.
        cookie = session_cookie(gate, email="ada@example.com")
        assert requests.get(base + path, headers={"Cookie": cookie}, timeout=TIMEOUT).ok
        assert app.calls[-1]["REMOTE_USER"] == "ada@example.com"


# -- a client's Host cannot steer any URL (item 3) ---------------------------------------


def _start_link(
    base: str, headers: dict[str, str], post_headers: dict[str, str] | None = None
) -> requests.Response:
    """Open the sign-in page with ``headers``, then ask for a link with ``post_headers``."""
    browser = requests.Session()
    page = browser.get(base + "/_gate/login", headers=headers, timeout=TIMEOUT)
    form = {"csrf_token": hidden(page.text, "csrf_token"), "email": "gus@example.com"}
    return browser.post(
        base + "/_gate/login",
        data={**form, "send": "link"},
        headers=headers if post_headers is None else post_headers,
        timeout=TIMEOUT,
    )


def test_with_a_public_url_every_absolute_url_comes_from_it(tenant: Any) -> None:
    tenant.app.allow_callback("https://tools.acme.example/tools/_gate/callback")
    gate = PasswordlessGate(
        RecordingApp(),
        gate_config(
            tenant.url,
            methods=("email-link",),
            public_url="https://tools.acme.example/tools/",
            trusted_proxies=1,
            cookie_secure="false",  # the test client speaks plain http to the gate
        ),
    )
    proxied = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "tools.acme.example",
        "Origin": "https://tools.acme.example",
    }
    # Served under public_url's path, as its address says.
    with serving(DispatcherMiddleware(RecordingApp(), {"/tools": gate})) as site:
        base = site + "/tools"
        assert _start_link(base, proxied).status_code == 200
        link = tenant.last_message().link
        assert parse_qs(urlsplit(link).query)["redirect_uri"] == [
            "https://tools.acme.example/tools/_gate/callback"
        ]
        sent = len(tenant.outbox())
        forged = {**proxied, "X-Forwarded-Host": "evil.example", "Origin": "https://evil.example"}
        answer = _start_link(base, proxied, forged)
        assert answer.status_code == 400
        assert len(tenant.outbox()) == sent  # nothing was sent to Auth0
        assert (
            requests.get(base + "/_gate/login", headers=forged, timeout=TIMEOUT).status_code == 400
        )


def test_without_a_public_url_links_are_built_only_for_loopback(
    tenant: Any, caplog: pytest.LogCaptureFixture
) -> None:
    tenant.app.allow_callback("http://127.0.0.1/_gate/callback")
    gate = PasswordlessGate(
        RecordingApp(), gate_config(tenant.url, methods=("email-link",), trusted_proxies=1)
    )
    with serving(gate) as base:
        local = _start_link(base, {})
        assert local.status_code == 200
        port = urlsplit(base).port
        assert parse_qs(urlsplit(tenant.last_message().link).query)["redirect_uri"] == [
            f"http://127.0.0.1:{port}/_gate/callback"
        ]
        sent = len(tenant.outbox())
        other = {"X-Forwarded-Host": "tools.acme.example", "Origin": "http://tools.acme.example"}
        answer = _start_link(base, other)
        assert answer.status_code == 400
        assert "not configured" in answer.text
        assert len(tenant.outbox()) == sent
    assert any("PWLESS_GATE_PUBLIC_URL" in r.getMessage() for r in caplog.records)


def test_federated_logout_returns_to_the_public_url(tenant: Any) -> None:
    tenant.app.allow_logout_url("https://tools.acme.example/_gate/logout")
    gate = PasswordlessGate(
        RecordingApp(),
        gate_config(
            tenant.url,
            federated_logout=True,
            public_url="https://tools.acme.example",
            cookie_secure="false",
        ),
    )
    with serving(gate) as base:
        headers = {"Host": "tools.acme.example", "Origin": "https://tools.acme.example"}
        browser, _ = http_sign_in(base, tenant, "ada@example.com", headers=headers)
        page = browser.get(base + "/_gate/logout", headers=headers, timeout=TIMEOUT)
        out = browser.post(
            base + "/_gate/logout",
            data={"csrf_token": hidden(page.text, "csrf_token")},
            headers=headers,
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        assert out.status_code == 303
        location = urlsplit(out.headers["Location"])
        assert parse_qs(location.query)["returnTo"] == ["https://tools.acme.example/_gate/logout"]


def test_an_internationalised_public_url_is_served_as_browsers_name_it(tenant: Any) -> None:
    # A browser sends the host in its xn-- form (Host, Origin), whichever way it was typed.
    tenant.app.allow_logout_url("https://xn--bcher-kva.example/_gate/logout")
    gate = PasswordlessGate(
        RecordingApp(),
        gate_config(
            tenant.url,
            federated_logout=True,
            public_url="https://Bücher.example",
            cookie_secure="false",
        ),
    )
    with serving(gate) as base:
        headers = {"Host": "xn--bcher-kva.example", "Origin": "https://xn--bcher-kva.example"}
        browser, done = http_sign_in(base, tenant, "ada@example.com", headers=headers)
        assert done.status_code == 303
        page = browser.get(base + "/_gate/logout", headers=headers, timeout=TIMEOUT)
        assert page.status_code == 200
        out = browser.post(
            base + "/_gate/logout",
            data={"csrf_token": hidden(page.text, "csrf_token")},
            headers=headers,
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        assert out.status_code == 303
        location = urlsplit(out.headers["Location"])
        assert parse_qs(location.query)["returnTo"] == [
            "https://xn--bcher-kva.example/_gate/logout"
        ]


def test_a_public_url_whose_host_is_no_host_name_is_refused() -> None:
    with pytest.raises(ConfigError, match="PWLESS_GATE_PUBLIC_URL"):
        gate_config("https://tenant.example", public_url="https://bücher-.example")


def test_cookies_of_a_mounted_gate_are_scoped_to_its_path(tenant: Any) -> None:
    app = RecordingApp()
    gate = PasswordlessGate(app, gate_config(tenant.url))

    def mounted(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith("/tools/") and path != "/tools":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not here"]
        environ["SCRIPT_NAME"], environ["PATH_INFO"] = "/tools", path[len("/tools") :] or "/"
        return gate(environ, start_response)

    with serving(mounted) as base:
        browser, done = http_sign_in(base + "/tools", tenant, "ada@example.com")
        assert done.status_code == 303
        set_cookies = done.raw.headers.getlist("Set-Cookie")
        session = [c for c in set_cookies if c.startswith("pwless_gate_session=")]
        assert session
        assert all("Path=/tools" in c for c in session)
        assert browser.get(base + "/tools/reports", timeout=TIMEOUT).status_code == 200
        assert app.calls[-1]["REMOTE_USER"] == "ada@example.com"
    assert gate.config.cookie_names(True, mounted=True)[0] == "__Secure-pwless_gate_session"
    assert gate.config.cookie_names(True)[0] == "__Host-pwless_gate_session"
