"""Cookies planted inside other cookies, and Cookie lines joined by the server.

A sibling subdomain can set a cookie for the whole domain whose value reads
``x <session cookie name>=<its own session>``; browsers send it, before the
real one when it is older or has a longer path. The gate reads a cookie only
where one starts (the header's start, or after ``;``), as RFC 6265 and
Werkzeug do, so that text is never the session: not on the app's paths, not
when a sign-in ends the session the browser had. gunicorn joins two
``Cookie`` lines with ``,``: the gate's cookies after one are still cut out
before the app is called.
"""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any

import pytest
import requests

from pwless_gate import GateConfig, PasswordlessGate
from pwless_gate.testing import session_cookie

from ..examples.support import TIMEOUT, serving
from ..helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    RecordingApp,
    browser_session,
    gate_config,
    http_sign_in,
)
from ..procs import gunicorn

#: Nothing listens here: the tests that do not sign in need no tenant.
NO_TENANT = "http://127.0.0.1:9"


def value_of(cookie: str) -> str:
    return cookie.split("=", 1)[1]


@pytest.mark.parametrize("secure", [False, True], ids=["plain-name", "host-prefixed"])
def test_a_session_planted_in_another_cookie_is_not_read(secure: bool) -> None:
    app = RecordingApp()
    setting = "true" if secure else "auto"  # true: the __Host- names over loopback http
    gate = PasswordlessGate(app, gate_config(NO_TENANT, cookie_secure=setting))
    name = gate.config.cookie_names(secure)[0]
    victim = session_cookie(gate, email="victim@example.com", https=secure)
    mallory = value_of(session_cookie(gate, email="mallory@example.com", https=secure))
    planted = [f"tossed=x {name}={mallory}", f"x {name}={mallory}"]
    with serving(gate) as base:
        for fake in planted:
            answer = requests.get(
                base + "/", headers={"Cookie": f"{fake}; {victim}"}, timeout=TIMEOUT
            )
            assert answer.status_code == 200
            assert answer.text == "hello victim@example.com"
            alone = requests.get(
                base + "/", headers={"Cookie": fake, "Accept": "*/*"}, timeout=TIMEOUT
            )
            assert alone.status_code == 401
    assert [call["REMOTE_USER"] for call in app.calls] == ["victim@example.com"] * 2


def test_a_sign_in_behind_a_planted_cookie_starts_and_ends_the_right_sessions(
    tenant: Any,
) -> None:
    """The planted cookie is sent first on every request (it is older, same path): the
    sign-in neither ends the session it names nor lets it stand in for the new one."""
    app = RecordingApp()
    gate = PasswordlessGate(app, gate_config(tenant.url))  # the SQLite store: revocable
    mallory = session_cookie(gate, email="mallory@example.com")
    with serving(gate) as base:
        tenant.app.allow_callback(f"{base}/_gate/callback")
        browser = browser_session()
        browser.cookies.set("tossed", f"x {mallory}", domain="127.0.0.1", path="/")
        browser, done = http_sign_in(base, tenant, "victim@example.com", browser=browser)
        assert done.status_code == 303, done.text
        assert "pwless_gate_session" in browser.cookies
        page = browser.get(base + "/", timeout=TIMEOUT)
        assert page.text == "hello victim@example.com"
        sent = app.calls[-1]["HTTP_COOKIE"]
        assert sent.startswith(f"tossed=x {mallory}")  # really sent, and first
        assert "pwless_gate_session=" not in sent.replace(f"tossed=x {mallory}", "")
        # The sign-in did not take the planted text for the browser's old session.
        still = requests.get(base + "/", headers={"Cookie": mallory}, timeout=TIMEOUT)
        assert still.text == "hello mallory@example.com"


def raw_get(base: str, path: str, cookie_lines: list[str]) -> tuple[int, dict[str, Any]]:
    """GET with each of ``cookie_lines`` as a ``Cookie`` header line of its own."""
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT)
    try:
        connection.putrequest("GET", path)
        connection.putheader("Accept", "*/*")
        for line in cookie_lines:
            connection.putheader("Cookie", line)
        connection.endheaders()
        answer = connection.getresponse()
        body = answer.read()
        return answer.status, json.loads(body) if answer.status == 200 else {}
    finally:
        connection.close()


@pytest.mark.slow
def test_gunicorn_joined_cookie_lines_never_give_the_app_the_gates_cookies(
    tmp_path: Path,
) -> None:
    env = {
        "PWLESS_GATE_AUTH0_DOMAIN": NO_TENANT,
        "PWLESS_GATE_CLIENT_ID": CLIENT_ID,
        "PWLESS_GATE_CLIENT_SECRET": CLIENT_SECRET,
        "PWLESS_GATE_ALLOWED_DOMAINS": "*",  # anyone, on purpose
        "PWLESS_GATE_SECRET_KEY": "k" * 32,
        "PWLESS_GATE_STORE": "cookie",
        "PWLESS_GATE_PUBLIC_PATHS": "/pub/",
    }
    # A gate of the same settings in this process signs the sessions gunicorn's admit.
    local = PasswordlessGate(RecordingApp(), GateConfig.from_env(env))
    ada = session_cookie(local, email="ada@example.com")
    browser_id = "pwless_gate_browser=" + "b" * 32
    with gunicorn(
        'pwless_gate:gate("tests.apps:whoami")', env=env, log=tmp_path / "gunicorn.log"
    ) as (base, _):
        # Read as one header "a=1,<session>" and "<session>,a=1".
        for lines in (["a=1", ada], [ada, "a=1"], [f"a=1; {browser_id}", ada]):
            status, seen = raw_get(base, "/pub/page", lines)
            assert status == 200
            assert seen["cookie"] == "a=1", lines
        # A signed-in request: the browser id on the second line is not passed on either.
        status, seen = raw_get(base, "/page", [f"{ada}; x=1", browser_id])
        assert status == 200
        assert seen["remote_user"] == "ada@example.com"
        assert seen["cookie"] == "x=1"
