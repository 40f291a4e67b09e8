"""The signed-cookie store's size limit: what fits works through servers' default
limits, what does not is refused at sign-in with a clear page and a log line.

The sessions grow with the id_token's claims: here the local tenant adds
roles (as a post-login Action would), random ones so compression cannot
shrink them, more of them for each ``r<n>@example.com``.
"""

from __future__ import annotations

import logging
import math
import secrets
from pathlib import Path
from typing import Any

import pytest
import requests

from pwless_gate.cookies import CHUNK_SIZE, MAX_SESSION_COOKIE

from ..examples.support import TIMEOUT
from ..helpers import CLIENT_ID, CLIENT_SECRET, THROTTLES_OFF, Harness, hidden, http_sign_in
from ..procs import gunicorn

ROLES_CLAIM = "https://acme.example/roles"
#: Random roles of 24 characters; ``r<n>@example.com`` has the first n.
ROLES = [secrets.token_urlsafe(18) for _ in range(400)]
#: The app's own cookies a browser sends along: with the longest session, the whole
#: Cookie line still stays under gunicorn's 8190 bytes.
APP_COOKIES = {f"app{i}": secrets.token_urlsafe(150) for i in range(8)}


def person(n: int) -> str:
    return f"r{n}@example.com"


@pytest.fixture
def tenant_options() -> dict[str, Any]:
    return {
        "roles_claim": ROLES_CLAIM,
        "roles": {person(n): ROLES[:n] for n in range(len(ROLES) + 1)},
    }


def session_length(cookies: Any, name: str = "pwless_gate_session") -> int:
    """The session value's length, from the cookies that carry it (chunks joined)."""
    first = cookies.get(name) or ""
    if "~" not in first:
        return len(first)
    count, _, head = first.partition("~")
    return len(head) + sum(len(cookies.get(f"{name}_{i}")) for i in range(1, int(count)))


def test_a_session_too_large_for_cookies_is_refused_at_sign_in(
    make_harness: Any, caplog: pytest.LogCaptureFixture
) -> None:
    harness: Harness = make_harness(store="cookie", **THROTTLES_OFF)
    done = harness.login(person(0))
    assert done.status_code == 303
    with caplog.at_level(logging.INFO, logger="pwless_gate"):
        refused = harness.login(person(len(ROLES)))
    assert refused.status_code == 500
    page = refused.get_data(as_text=True)
    assert "Sign-in is misconfigured" in page
    assert "Please tell the administrator" in page
    assert "Traceback" not in page
    # Nothing half-set: no session cookie, whole or in part.
    assert [h for h in refused.headers.getlist("Set-Cookie") if "_session" in h] == []
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    said = errors[0].getMessage()
    assert f"over the {MAX_SESSION_COOKIE}" in said
    assert "use the SQLite or Redis store (PWLESS_GATE_STORE)" in said
    assert "fewer claims" in said
    audit = [r for r in caplog.records if getattr(r, "event", None) == "login_failed"]
    assert [r.reason for r in audit] == ["too_large"]  # type: ignore[attr-defined]
    # The session the browser had is untouched.
    assert harness.client.get("/").get_data(as_text=True) == f"hello {person(0)}"


def test_a_script_is_told_in_json(make_harness: Any) -> None:
    harness: Harness = make_harness(store="cookie", **THROTTLES_OFF)
    started = harness.start(person(len(ROLES))).get_data(as_text=True)
    refused = harness.client.post(
        "/_gate/verify",
        data={
            "csrf_token": hidden(started, "csrf_token"),
            "tx": hidden(started, "tx"),
            "code": harness.tenant.last_message(to=person(len(ROLES))).code,
        },
        headers={"Accept": "application/json"},
    )
    assert refused.status_code == 500
    assert refused.get_json()["error"] == "Sign-in is misconfigured"
    assert "Set-Cookie" not in refused.headers


@pytest.mark.slow
def test_the_largest_session_works_through_gunicorns_default_limits(
    tenant: Any, tmp_path: Path
) -> None:
    env = {
        "PWLESS_GATE_AUTH0_DOMAIN": tenant.url,
        "PWLESS_GATE_CLIENT_ID": CLIENT_ID,
        "PWLESS_GATE_CLIENT_SECRET": CLIENT_SECRET,
        "PWLESS_GATE_ALLOWED_DOMAINS": "*",  # anyone, on purpose
        "PWLESS_GATE_SECRET_KEY": "k" * 32,
        "PWLESS_GATE_STORE": "cookie",
        "PWLESS_GATE_THROTTLE_SEND_PER_IP": "off",
    }
    with gunicorn(
        'pwless_gate:gate("tests.apps:whoami")', env=env, log=tmp_path / "gunicorn.log"
    ) as (base, process):

        def sign_in(n: int) -> tuple[requests.Session, requests.Response]:
            return http_sign_in(base, tenant, person(n), timeout=TIMEOUT)

        # How the session grows with the roles: a straight line, near enough.
        small, large = (session_length(sign_in(n)[0].cookies) for n in (0, 100))
        per_role = (large - small) / 100
        under = math.floor((MAX_SESSION_COOKIE - 150 - small) / per_role)
        over = math.ceil((MAX_SESSION_COOKIE + 150 - small) / per_role)

        browser, done = sign_in(under)
        assert done.status_code == 303, done.text
        length = session_length(browser.cookies)
        assert CHUNK_SIZE < length <= MAX_SESSION_COOKIE
        assert length > MAX_SESSION_COOKIE - 400  # just under the limit
        browser.cookies.update(APP_COOKIES)
        answer = browser.get(base + "/", timeout=TIMEOUT)
        line = answer.request.headers["Cookie"]
        assert 7000 < len(line) < 8190 - len("Cookie: ")
        assert answer.status_code == 200
        assert answer.json()["remote_user"] == person(under)
        assert answer.json()["cookie"] == "; ".join(f"{k}={v}" for k, v in APP_COOKIES.items())

        browser, refused = sign_in(over)
        assert refused.status_code == 500
        assert "Sign-in is misconfigured" in refused.text
        assert "pwless_gate_session" not in browser.cookies
    assert "use the SQLite or Redis store (PWLESS_GATE_STORE)" in process.output()
