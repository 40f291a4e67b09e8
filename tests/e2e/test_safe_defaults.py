"""Safe by default: what a careless setting, a forged Host or a patient attacker cannot do."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

import pytest
import requests

from pwless_gate import PasswordlessGate
from pwless_gate.auth0 import Auth0Client
from pwless_gate.errors import Auth0Unavailable
from pwless_gate.testing import session_cookie

from ..examples.support import TIMEOUT, serving
from ..helpers import CLIENT_SECRET, RecordingApp, gate_config
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
        assert tricked.status_code == 302
        assert len(app.calls) == 1
        # Signed in, the same path reaches the app as the signed-in person only.
        cookie = session_cookie(gate, email="ada@example.com")
        assert requests.get(base + path, headers={"Cookie": cookie}, timeout=TIMEOUT).ok
        assert app.calls[-1]["REMOTE_USER"] == "ada@example.com"
