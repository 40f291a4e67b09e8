"""``pwless_gate.testing.session_cookie``: a signed-in client with no tenant, over real HTTP."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client

from pwless_gate import PasswordlessGate
from pwless_gate.errors import SessionTooLarge
from pwless_gate.testing import session_cookie, session_cookies, sign_in

from ..examples.support import TIMEOUT, serving
from ..helpers import FakeClock, RecordingApp, gate_config

README = Path(__file__).resolve().parents[2] / "README.md"

#: Nothing listens here: the helper must not need a tenant.
NO_TENANT = "http://127.0.0.1:9"


def make_gate(**settings: Any) -> tuple[PasswordlessGate, RecordingApp]:
    app = RecordingApp()
    return PasswordlessGate(app, gate_config(NO_TENANT, **settings)), app


@pytest.mark.parametrize("store", ["cookie", "redis"])
def test_the_cookie_signs_in_an_email_user(store: str, request: pytest.FixtureRequest) -> None:
    settings = {"redis_url": request.getfixturevalue("redis_url")} if store == "redis" else {}
    gate, app = make_gate(**settings)
    cookie = session_cookie(gate, email="Ada@Example.com", claims={"name": "Ada Lovelace"})
    with serving(gate) as base:
        answer = requests.get(
            base + "/reports", headers={"Cookie": cookie}, allow_redirects=False, timeout=TIMEOUT
        )
        assert answer.status_code == 200
        seen = app.calls[-1]
        assert seen["REMOTE_USER"] == "ada@example.com"
        assert seen["pwless_gate.user"].name == "Ada Lovelace"
        assert seen["pwless_gate.claims"]["email_verified"] is True
        assert "HTTP_COOKIE" not in seen  # the gate's cookie never reaches the app
        anonymous = requests.get(base + "/reports", allow_redirects=False, timeout=TIMEOUT)
        assert anonymous.status_code == 401  # a script is challenged, not redirected


def test_the_cookie_signs_in_a_phone_user() -> None:
    gate, app = make_gate()
    with serving(gate) as base:
        cookie = session_cookie(gate, phone_number="+14155550123")
        answer = requests.get(base + "/", headers={"Cookie": cookie}, timeout=TIMEOUT)
        assert answer.status_code == 200
        assert app.calls[-1]["REMOTE_USER"] == "+14155550123"
        assert app.calls[-1]["pwless_gate.user"].phone_number == "+14155550123"


def test_a_tampered_or_expired_cookie_is_refused() -> None:
    clock = FakeClock()
    app = RecordingApp()
    gate = PasswordlessGate(app, gate_config(NO_TENANT), clock=clock)
    cookie = session_cookie(gate, email="ada@example.com", lifetime=60, now=clock())
    with serving(gate) as base:
        tampered = cookie[:-3] + ("AAA" if not cookie.endswith("AAA") else "BBB")
        for value in (tampered, cookie):
            if value is cookie:
                clock.advance(61)
            answer = requests.get(
                base + "/", headers={"Cookie": value}, allow_redirects=False, timeout=TIMEOUT
            )
            assert answer.status_code == 401
        assert app.calls == []


def test_https_picks_the_host_prefixed_name() -> None:
    gate, _app = make_gate()
    assert session_cookie(gate, email="a@example.com", https=True).startswith(
        "__Host-pwless_gate_session="
    )
    assert session_cookie(gate, email="a@example.com").startswith("pwless_gate_session=")


@pytest.mark.parametrize(
    "who", [{}, {"email": "a@example.com", "phone_number": "+14155550123"}], ids=["none", "both"]
)
def test_exactly_one_identifier(who: dict[str, str]) -> None:
    gate, _app = make_gate()
    with pytest.raises(ValueError, match="exactly one"):
        session_cookie(gate, **who)


def readme_example() -> str:
    """The code of the README's "Testing your app behind the gate", exactly as printed."""
    section = README.read_text().split("### Testing your app behind the gate", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found is not None
    return found.group(1)


def test_the_readme_example_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # its gate keeps the default SQLite file there
    app = RecordingApp()
    exec(compile(readme_example(), str(README), "exec"), {"my_app": app})  # noqa: S102
    assert [call["REMOTE_USER"] for call in app.calls] == [
        "ada@acme.example",
        "a@acme.example",
        "ada@acme.example",
    ]
    assert app.calls[0]["pwless_gate.user"].name == "Ada"


def test_sign_in_fills_a_werkzeug_clients_cookie_jar() -> None:
    gate, app = make_gate()
    client = Client(gate)
    sign_in(client, gate, email="ada@example.com")
    assert client.get("/reports").status_code == 200
    assert app.calls[-1]["REMOTE_USER"] == "ada@example.com"
    assert "HTTP_COOKIE" not in app.calls[-1]
    with pytest.raises(TypeError):
        sign_in(Client(gate, use_cookies=False), gate, email="ada@example.com")


@pytest.mark.parametrize("https", [False, True], ids=["http", "https"])
def test_a_gate_mounted_under_a_path(https: bool) -> None:
    """Its cookies are scoped to the path, and named ``__Secure-`` over https."""
    gate, app = make_gate()
    site = DispatcherMiddleware(RecordingApp(), {"/tools": gate})
    base = "https://localhost" if https else "http://localhost"
    name = "__Secure-pwless_gate_session" if https else "pwless_gate_session"
    assert list(session_cookies(gate, email="a@example.com", https=https, mount="/tools")) == [name]

    client = Client(site)
    sign_in(client, gate, email="ada@example.com", https=https, mount="/tools")
    assert client.get_cookie(name, path="/tools") is not None
    assert client.get("/tools/reports", base_url=base).status_code == 200
    assert app.calls[-1]["REMOTE_USER"] == "ada@example.com"

    cookie = session_cookie(gate, email="bo@example.com", https=https, mount="/tools")
    assert cookie.startswith(name + "=")
    plain = Client(site, use_cookies=False)
    answer = plain.get("/tools/reports", base_url=base, headers={"Cookie": cookie})
    assert answer.status_code == 200
    assert app.calls[-1]["REMOTE_USER"] == "bo@example.com"


def test_a_long_signed_cookie_session_comes_in_chunks() -> None:
    gate, app = make_gate(store="cookie")
    claims = {"groups": [secrets.token_urlsafe(18) for _ in range(150)]}  # incompressible
    cookies = session_cookies(gate, email="ada@example.com", claims=claims)
    assert list(cookies) == ["pwless_gate_session", "pwless_gate_session_1"]
    client = Client(gate)
    sign_in(client, gate, email="ada@example.com", claims=claims)
    assert client.get("/").status_code == 200
    assert app.calls[-1]["pwless_gate.claims"]["groups"] == claims["groups"]
    more = {"groups": [secrets.token_urlsafe(18) for _ in range(300)]}
    with pytest.raises(SessionTooLarge):
        sign_in(client, gate, email="bo@example.com", claims=more)
