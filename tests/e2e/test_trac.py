"""Trac behind the gate under real gunicorn: Trac's Logout really signs out.

Trac trusts ``REMOTE_USER``, so behind the gate everyone signed in is
"logged in as" their address, and Trac shows a Logout button (a POST form
with Trac's own form token). With ``PWLESS_GATE_LOGOUT_PATHS=/logout`` that
button ends the gate's session as well as Trac's: the next request is asked
to sign in, and a copy of the old cookie is refused by every worker (Redis
store, so the session is revoked, not only deleted from the browser).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

if sys.version_info >= (3, 13):  # Trac 1.6 imports cgi and crypt, gone in Python 3.13
    pytest.skip("Trac 1.6 does not run on Python 3.13+", allow_module_level=True)

from trac.env import Environment

from ..examples.support import TIMEOUT, gunicorn_env
from ..helpers import BROWSER, http_sign_in
from ..procs import gunicorn

pytestmark = pytest.mark.slow

LOGOUT_FORM = re.compile(
    r'<form action="(?P<action>[^"]+)" class="trac-logout"[^>]*>(?P<body>.*?)</form>'
)


def form_token(form: str) -> str:
    """Trac's ``__FORM_TOKEN`` (its attributes come in another order than the gate's)."""
    match = re.search(r'name="__FORM_TOKEN" type="hidden" value="([^"]+)"', form)
    assert match is not None, form
    return match.group(1)


@pytest.fixture
def trac(tenant: Any, tmp_path: Path, redis_url: str) -> Iterator[str]:
    """A new Trac environment in ``tmp_path``, behind the gate on three gunicorn workers."""
    project = tmp_path / "trac"
    Environment(
        str(project),
        create=True,
        options=[("project", "name", "Tools"), ("trac", "database", "sqlite:db/trac.db")],
    ).shutdown()
    env = {
        **gunicorn_env(tenant, tmp_path),
        "TRAC_ENV": str(project),
        "PWLESS_GATE_REDIS_URL": redis_url,
        "PWLESS_GATE_LOGOUT_PATHS": "/logout",
        # Each worker trusts a session it verified for this long; another worker
        # may accept a revoked one until then (README: session_cache_ttl). Kept
        # tiny so the old cookie below is asked of Redis by every worker.
        "PWLESS_GATE_SESSION_CACHE_TTL": "0.01",
    }
    with gunicorn(
        'pwless_gate:gate("trac.web.main:dispatch_request")',
        workers=3,
        env=env,
        log=tmp_path / "gunicorn.log",
    ) as (base, _):
        yield base


def test_tracs_logout_ends_the_gate_session(trac: str, tenant: Any) -> None:
    base = trac
    browser, done = http_sign_in(base, tenant, "ada@example.com", next="/wiki/WikiStart")
    assert done.status_code == 303, done.text
    page = browser.get(base + "/wiki/WikiStart", timeout=TIMEOUT)
    assert page.status_code == 200
    assert "logged in as" in page.text  # Trac took REMOTE_USER from the gate
    form = LOGOUT_FORM.search(page.text)
    assert form is not None, "Trac shows no Logout button"
    assert form["action"] == "/logout"
    old = browser.cookies.get("pwless_gate_session")
    assert old

    # The control: a copy of the cookie works, until the Logout below.
    copy = requests.get(
        base + "/wiki/WikiStart",
        cookies={"pwless_gate_session": old},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert copy.status_code == 200
    assert "logged in as" in copy.text

    out = browser.post(
        base + form["action"],
        data={"logout": "", "__FORM_TOKEN": form_token(form["body"])},
        headers={"Referer": base + "/wiki/WikiStart"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert out.status_code == 303, out.text  # Trac's own answer: back where the person was
    set_cookies = out.raw.headers.getlist("Set-Cookie")
    assert any(c.startswith("trac_auth=") for c in set_cookies)  # Trac's logout ran
    assert any(c.startswith("pwless_gate_session=") and "Max-Age=0" in c for c in set_cookies), (
        set_cookies
    )
    assert "no-store" in out.headers["Cache-Control"]
    assert "pwless_gate_session" not in browser.cookies

    again = browser.get(base + "/wiki/WikiStart", allow_redirects=False, timeout=TIMEOUT)
    assert again.status_code == 302
    assert again.headers["Location"].startswith("/_gate/login")
    for _ in range(6):  # every worker refuses the old cookie
        replay = requests.get(
            base + "/wiki/WikiStart",
            cookies={"pwless_gate_session": old},
            headers={**BROWSER, "Connection": "close"},
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        assert replay.status_code == 302
