"""``pwless_gate.testing.session_cookie``: a signed-in client with no tenant, over real HTTP."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from pwless_gate import PasswordlessGate
from pwless_gate.testing import session_cookie

from ..examples.support import TIMEOUT, serving
from ..helpers import FakeClock, RecordingApp, gate_config

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
