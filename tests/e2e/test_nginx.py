"""The nginx example: one gate protecting a non-Python app through auth_request."""

from __future__ import annotations

import base64
import http.client
import json
import logging
import re
import socket
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from pwless_gate import PasswordlessGate
from pwless_gate.apptokens import new_token

from ..apps import proxied_identity
from ..examples.support import serving
from ..helpers import (
    BROWSER,
    CLIENT_ID,
    CLIENT_SECRET,
    FakeClock,
    gate_config,
    hidden,
    http_sign_in,
)
from ..procs import ROOT, Process, free_port, gunicorn, require_binary, wait_for_port

pytestmark = pytest.mark.slow


def other_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Stands for the non-Python app: it only reads the headers nginx sets."""
    body = (
        f"user={environ.get('HTTP_X_FORWARDED_USER', '')} "
        f"email={environ.get('HTTP_X_FORWARDED_EMAIL', '')} "
        f"phone={environ.get('HTTP_X_FORWARDED_PHONE', '')} "
        f"remote={environ.get('HTTP_REMOTE_USER', '')}"
        f"{environ.get('HTTP_X_AUTH_REQUEST_USER', '')} "
        f"path={environ.get('PATH_INFO')}?{environ.get('QUERY_STRING', '')}"
    ).encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]


def not_found(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """What examples/nginx/gate_app.py wraps: nothing the gate forwards is served."""
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not served by the gate\n"]


#: Stands for the non-Python app: who nginx says it is, and the ``Authorization`` nginx
#: passed on (``null`` when none).
echo_app = proxied_identity(user="HTTP_X_FORWARDED_USER")


@contextmanager
def nginx_in_front(gate_url: str, tmp_path: Path, app: Any = other_app) -> Iterator[str]:
    """The example's nginx, in front of the gate at ``gate_url`` and ``app``."""
    nginx = require_binary("nginx", "the nginx example needs it")
    app_port, nginx_port = free_port(), free_port()
    app_server = make_server("127.0.0.1", app_port, app, threaded=True)
    threading.Thread(target=app_server.serve_forever, daemon=True).start()
    config = (ROOT / "examples" / "nginx" / "nginx.conf").read_text()
    config = (
        config.replace("127.0.0.1:8000", gate_url.removeprefix("http://"))
        .replace("127.0.0.1:9000", f"127.0.0.1:{app_port}")
        .replace("127.0.0.1:8080", f"127.0.0.1:{nginx_port}")
    )
    (tmp_path / "nginx.conf").write_text(config)
    (tmp_path / "logs").mkdir(exist_ok=True)
    proxy = Process(
        [nginx, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-g", "daemon off;"],
        log=tmp_path / "nginx.log",
    )
    try:
        wait_for_port(nginx_port, proxy.proc)
        yield f"http://127.0.0.1:{nginx_port}"
    finally:
        proxy.stop()
        app_server.shutdown()


@pytest.fixture
def stack(tenant: Any, tmp_path: Path) -> Iterator[str]:
    gate_env = {
        "PYTHONPATH": str(ROOT),
        "PWLESS_GATE_AUTH0_DOMAIN": tenant.url,
        "PWLESS_GATE_CLIENT_ID": CLIENT_ID,
        "PWLESS_GATE_CLIENT_SECRET": CLIENT_SECRET,
        "PWLESS_GATE_ALLOWED_DOMAINS": "*",  # anyone, on purpose
        "PWLESS_GATE_TRUSTED_PROXIES": "1",
    }
    with (
        gunicorn(
            "--chdir",
            str(ROOT / "examples" / "nginx"),
            'pwless_gate:gate("gate_app:not_found")',
            env=gate_env,
            log=tmp_path / "gate.log",
        ) as (gate_url, _),
        nginx_in_front(gate_url, tmp_path) as base,
    ):
        yield base


def test_nginx_auth_request_protects_another_app(stack: str, tenant: Any) -> None:
    base = stack
    spoof = {
        "X-Forwarded-User": "boss@example.com",
        "X-Forwarded-Phone": "+14155550100",
        "Remote-User": "boss@example.com",
        "X-Auth-Request-User": "boss@example.com",
    }
    anonymous = requests.get(
        f"{base}/reports/q3?year=2026&x=a%26b",
        headers={**spoof, **BROWSER},
        allow_redirects=False,
        timeout=10,
    )
    assert anonymous.status_code == 302
    location = anonymous.headers["Location"]
    assert location == "/_gate/login?next=%2Freports%2Fq3%3Fyear%3D2026%26x%3Da%2526b"
    api = requests.get(f"{base}/api", headers={"Accept": "application/json"}, timeout=10)
    assert api.status_code == 401
    curl = requests.get(f"{base}/api", headers={"Accept": "*/*"}, timeout=10)
    assert curl.status_code == 401
    assert curl.headers["WWW-Authenticate"].startswith("Basic realm=")
    assert requests.get(f"{base}/_gate/auth", timeout=10).status_code == 404

    browser, done = http_sign_in(
        base, tenant, "nx@example.com", next="/reports/q3?year=2026&x=a%26b", headers=spoof
    )
    assert done.status_code == 303
    landed = browser.get(base + done.headers["Location"], headers=spoof, timeout=10)
    assert landed.status_code == 200
    assert re.fullmatch(
        r"user=nx@example.com email=nx@example.com phone= remote= "
        r"path=/reports/q3\?year=2026&x=a%26b",
        landed.text,
    ), landed.text


def test_nginx_a_form_sent_after_signing_out_is_not_said_to_be_kept(
    tenant: Any, tmp_path: Path
) -> None:
    """Behind auth_request the gate never sees a form's body (nginx sends ``@sign_in``
    none) nor the Send press (``location /`` goes to the app): it must not say a form is
    kept, nor keep an empty one."""
    state = tmp_path / "state"
    state.mkdir()
    gate_env = {
        "PYTHONPATH": str(ROOT),
        "PWLESS_GATE_AUTH0_DOMAIN": tenant.url,
        "PWLESS_GATE_CLIENT_ID": CLIENT_ID,
        "PWLESS_GATE_CLIENT_SECRET": CLIENT_SECRET,
        "PWLESS_GATE_ALLOWED_DOMAINS": "*",  # anyone, on purpose
        "PWLESS_GATE_TRUSTED_PROXIES": "1",
        "PWLESS_GATE_STATE_DIR": str(state),
    }
    with (
        gunicorn(
            "--chdir",
            str(ROOT / "examples" / "nginx"),
            'pwless_gate:gate("gate_app:not_found")',
            env=gate_env,
            log=tmp_path / "gate.log",
        ) as (gate_url, _),
        nginx_in_front(gate_url, tmp_path) as base,
    ):
        browser, done = http_sign_in(base, tenant, "nx@example.com", next="/notes")
        assert done.status_code == 303
        confirm = browser.get(f"{base}/_gate/logout", timeout=10)
        signed_out = browser.post(
            f"{base}/_gate/logout",
            data={"csrf_token": hidden(confirm.text, "csrf_token")},
            timeout=10,
        )
        assert signed_out.status_code == 200
        navigation = {
            "Sec-Fetch-Mode": "navigate",
            "Sec-Fetch-Site": "same-origin",
            "Sec-Fetch-Dest": "document",
            "Origin": base,
        }
        saved = browser.post(
            f"{base}/notes/save",
            data={"title": "Q3", "note": "twenty minutes of typing"},
            headers=navigation,
            allow_redirects=False,
            timeout=10,
        )
        assert saved.status_code == 302, saved.text
        location = saved.headers["Location"]
        assert "form=not-kept" in location, location
        assert "_form=" not in saved.headers.get("Set-Cookie", "")
        page = browser.get(base + location, timeout=10)
        assert "could not be kept" in page.text
        assert "It is kept" not in page.text
    with closing(sqlite3.connect(state / "pwless-gate.sqlite3")) as db:
        assert db.execute("SELECT count(*) FROM saved_forms").fetchone() == (0,)


def test_nginx_the_auth_route_is_not_reachable_by_another_spelling(stack: str, tenant: Any) -> None:
    base = stack
    browser, done = http_sign_in(base, tenant, "nx@example.com", next="/")
    assert done.status_code == 303
    for path in ("/_gate/auth", "/_gate/auth/", "/_gate/auth%2F", "/_gate/auth%2f"):
        answer = browser.get(base + path, allow_redirects=False, timeout=10)
        assert answer.status_code == 404, (path, answer.status_code)
        assert "X-Auth-Request-User" not in answer.headers, path
    assert browser.get(f"{base}/_gate/sessions", timeout=10).status_code == 200


NGINX_RULES = """
[[rules]]
path = "/status"
policy = "public"

[[rules]]
path = "/admin"
allow = ["boss@example.com"]

[[rules]]
path = "/payroll"
max_age = 900

[[rules]]
path = "/old-export"
policy = "deny"

[[rules]]
path = "/reports"
methods = ["DELETE"]
policy = "deny"
"""


@pytest.fixture
def rules_stack(tenant: Any, clock: FakeClock, tmp_path: Path) -> Iterator[str]:
    """nginx in front of a gate with access rules and the app's ``/logout``, served in
    this process (the clock is the tests' own), trusting nginx's headers as the example
    says."""
    rules = tmp_path / "rules.toml"
    rules.write_text(NGINX_RULES)
    config = gate_config(
        tenant.url, rules_file=str(rules), trusted_proxies="1", logout_paths=("/logout",)
    )
    gate = PasswordlessGate(not_found, config, clock=clock)
    with serving(gate) as gate_url, nginx_in_front(gate_url, tmp_path) as base:
        yield base


def test_nginx_auth_request_applies_the_rules_to_the_original_request(
    rules_stack: str, tenant: Any, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    base = rules_stack
    json = {"Accept": "application/json"}
    assert requests.get(f"{base}/status", timeout=10).text.startswith("user= ")
    closed = requests.get(f"{base}/old-export/x.csv", allow_redirects=False, timeout=10)
    assert closed.status_code == 403
    assert "closed" in closed.text

    ada, done = http_sign_in(base, tenant, "ada@example.com")
    assert done.status_code == 303
    assert ada.get(f"{base}/reports", timeout=10).text.startswith("user=ada@example.com")
    with caplog.at_level(logging.INFO, logger="pwless_gate.audit"):
        refused = ada.get(f"{base}/admin/users", timeout=10)
    assert refused.status_code == 403
    # Asked twice (auth_request, then the page): audited once.
    events = [(r.event, r.reason) for r in caplog.records if r.name == "pwless_gate.audit"]
    assert events == [("refused_by_rule", "rule 2 (/admin)")]
    assert "ada@example.com" in refused.text
    assert "Sign in as someone else" in refused.text
    assert ada.get(f"{base}/admin/users", headers=json, timeout=10).json() == {"error": "forbidden"}
    assert ada.delete(f"{base}/reports/q3", timeout=10).status_code == 403
    assert ada.get(f"{base}/payroll", timeout=10).status_code == 200

    clock.advance(901)
    stale = ada.get(f"{base}/payroll/may?x=1", allow_redirects=False, timeout=10)
    assert stale.status_code == 302
    assert stale.headers["Location"] == "/_gate/login?next=%2Fpayroll%2Fmay%3Fx%3D1&fresh=900"
    api = ada.get(f"{base}/payroll/may", headers=json, timeout=10)
    assert (api.status_code, api.json()["error"]) == (401, "login_required")
    _, again = http_sign_in(base, tenant, "ada@example.com", next="/payroll/may?x=1", browser=ada)
    assert again.headers["Location"] == "/payroll/may?x=1"
    landed = ada.get(base + again.headers["Location"], timeout=10)
    assert landed.text.startswith("user=ada@example.com"), landed.text

    boss, _ = http_sign_in(base, tenant, "boss@example.com")
    assert boss.get(f"{base}/admin/users", timeout=10).text.startswith("user=boss@example.com")


def test_nginx_the_apps_logout_ends_the_gate_session(rules_stack: str, tenant: Any) -> None:
    """On one of the app's logout paths nginx asks ``/_gate/auth``, which ends the session;
    the app's own logout runs for the person, and the example passes the gate's cookie
    deletion on to the browser with the app's answer."""
    base = rules_stack
    ada, done = http_sign_in(base, tenant, "ada@example.com")
    assert done.status_code == 303
    old = ada.cookies["pwless_gate_session"]
    out = ada.get(f"{base}/logout", allow_redirects=False, timeout=10)
    assert out.status_code == 200
    assert out.text.startswith("user=ada@example.com"), out.text
    deleted = [c for c in out.raw.headers.getlist("Set-Cookie") if "pwless_gate_session=" in c]
    assert len(deleted) == 1, deleted
    assert "Max-Age=0" in deleted[0]
    assert "pwless_gate_session" not in ada.cookies
    assert ada.get(f"{base}/reports", allow_redirects=False, timeout=10).status_code == 302
    replay = requests.get(
        f"{base}/reports",
        cookies={"pwless_gate_session": old},
        headers=BROWSER,
        allow_redirects=False,
        timeout=10,
    )
    assert replay.status_code == 302  # revoked in the store, not only deleted in the browser
    # An ordinary answer carries no cookie of the gate's.
    bo, _ = http_sign_in(base, tenant, "bo@example.com")
    page = bo.get(f"{base}/reports", timeout=10)
    assert not [c for c in page.raw.headers.getlist("Set-Cookie") if "pwless_gate" in c]


def test_nginx_a_path_through_the_gate_prefix_is_not_let_through(rules_stack: str) -> None:
    """nginx routes ``/_gate/../admin`` as ``/admin`` (so it asks ``/_gate/auth``) but
    passes the raw URI on, to the gate and to the app: the gate's own routes pass
    ``/auth`` unasked only when plainly under its prefix, so the app is not reached."""
    host, port = rules_stack.removeprefix("http://").split(":")
    for raw in ("/_gate/../admin/users", "/_gate/%2e%2e/reports", "/_gate/../reports"):
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            connection.request("GET", raw, headers={"Accept": "application/json"})
            answer = connection.getresponse()
            body = answer.read().decode()
        finally:
            connection.close()
        # Refused at /_gate/auth; nginx then asks the gate, which has no such page.
        assert answer.status == 404, (raw, answer.status, body)
        assert not body.startswith("user="), raw


def raw_get(base: str, target: bytes, cookies: Any = None) -> tuple[int, str]:
    """``GET target`` with ``target`` exactly as written in the request line (dot
    segments, raw UTF-8: what curl sends with ``--path-as-is``); the status and body."""
    host, port = base.removeprefix("http://").split(":")
    cookie = "; ".join(f"{c.name}={c.value}" for c in cookies or ())
    head = b"GET " + target + b" HTTP/1.1\r\nHost: " + f"{host}:{port}".encode()
    head += b"\r\nAccept: application/json\r\nConnection: close\r\n"
    if cookie:
        head += f"Cookie: {cookie}\r\n".encode()
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(head + b"\r\n")
        answer = http.client.HTTPResponse(connection)
        answer.begin()
        return answer.status, answer.read().decode("utf-8", "replace")


@pytest.fixture
def gunicorn_rules_stack(tenant: Any, tmp_path: Path) -> Iterator[str]:
    """nginx as the example has it, in front of a gate in gunicorn (which builds
    ``PATH_INFO`` from raw UTF-8 as PEP 3333 says) with :data:`NGINX_RULES` and a rule
    for a non-ASCII path."""
    rules = tmp_path / "rules.toml"
    rules.write_text(NGINX_RULES + '\n[[rules]]\npath = "/ärzte"\npolicy = "deny"\n')
    gate_env = {
        "PYTHONPATH": str(ROOT),
        "PWLESS_GATE_AUTH0_DOMAIN": tenant.url,
        "PWLESS_GATE_CLIENT_ID": CLIENT_ID,
        "PWLESS_GATE_CLIENT_SECRET": CLIENT_SECRET,
        "PWLESS_GATE_ALLOWED_DOMAINS": "*",
        "PWLESS_GATE_TRUSTED_PROXIES": "1",
        "PWLESS_GATE_RULES_FILE": str(rules),
    }
    with (
        gunicorn(
            "--chdir",
            str(ROOT / "examples" / "nginx"),
            'pwless_gate:gate("gate_app:not_found")',
            env=gate_env,
            log=tmp_path / "gate.log",
        ) as (gate_url, _),
        nginx_in_front(gate_url, tmp_path) as base,
    ):
        yield base


def test_nginx_the_rules_judge_the_path_nginx_routes(
    gunicorn_rules_stack: str, tenant: Any
) -> None:
    """nginx routes ``/admin/..://../users`` as ``/admin/users`` (``..:`` is a segment,
    and the ``..`` after ``//`` takes it back) and passes ``$request_uri`` on as sent;
    a path sent as raw UTF-8 or %-encoded is the same path. The app is never reached."""
    base = gunicorn_rules_stack
    ada, done = http_sign_in(base, tenant, "ada@example.com")
    assert done.status_code == 303
    assert raw_get(base, b"/reports", ada.cookies)[1].startswith("user=ada@example.com")
    for target in (b"/admin/..://../users", b"/old-export/..://../status", b"/%C3%A4rzte/x"):
        status, body = raw_get(base, target, ada.cookies)
        assert status == 403, (target, body)
        assert json.loads(body) == {"error": "forbidden"}
    # Refused at /_gate/auth; nginx then replays the request line to the gate for its
    # answer, and gunicorn refuses raw UTF-8 in a request line (400).
    status, body = raw_get(base, "/ärzte".encode(), ada.cookies)
    assert status in (400, 403), body
    assert "user=" not in body, body
    # Not the public /status: sign in first.
    status, body = raw_get(base, b"/admin/..://../status")
    assert status == 401, body
    assert not body.startswith("user="), body


def test_auth_ignores_original_headers_from_an_untrusted_client(
    tenant: Any, clock: FakeClock, tmp_path: Path
) -> None:
    """Without trusted proxies nobody's X-Original-URI is believed: with rules that
    refuse someone, ``{prefix}/auth`` fails closed."""
    rules = tmp_path / "rules.toml"
    rules.write_text(NGINX_RULES)
    config = gate_config(tenant.url, rules_file=str(rules))
    with serving(PasswordlessGate(not_found, config, clock=clock)) as base:
        browser, _ = http_sign_in(base, tenant, "boss@example.com")
        asked = browser.get(
            f"{base}/_gate/auth",
            headers={"X-Original-URI": "/reports", "X-Forwarded-Uri": "/reports"},
            timeout=10,
        )
        assert asked.status_code == 403


@pytest.fixture
def tokens_stack(tenant: Any, clock: FakeClock, tmp_path: Path) -> Iterator[str]:
    """nginx in front of a gate with app tokens (four refusals per IP and minute) and a
    public path, and of :func:`echo_app`."""
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rules]]\npath = "/status"\npolicy = "public"\n')
    config = gate_config(
        tenant.url,
        rules_file=str(rules),
        trusted_proxies="1",
        app_tokens=True,
        store=f"sqlite://{tmp_path / 'gate.sqlite3'}",
        throttle_app_token_per_ip="4/60",
    )
    gate = PasswordlessGate(not_found, config, clock=clock)
    with serving(gate) as gate_url, nginx_in_front(gate_url, tmp_path, echo_app) as base:
        yield base


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_nginx_an_app_token_never_reaches_the_app(tokens_stack: str, tenant: Any) -> None:
    """auth_request cannot take a header off the request nginx passes on: the gate's
    answer says when the ``Authorization`` is its own, and the example then passes
    none. An app token never arrives, even with a client's ``X-Forwarded-Uri`` (the
    forwardAuth name for the original request); the app's own credentials beside a
    session, and anything on a public path, do."""
    base = tokens_stack
    browser, done = http_sign_in(base, tenant, "ada@example.com")
    assert done.status_code == 303
    page = browser.get(f"{base}/_gate/tokens", timeout=10)
    made = browser.post(
        f"{base}/_gate/tokens",
        data={"csrf_token": hidden(page.text, "csrf_token"), "name": "ci", "days": "7"},
        timeout=10,
    )
    token = re.search(r'value="(pwg_[0-9A-Za-z]+)"', made.text)
    assert token is not None, made.text
    for sent in (
        {"Authorization": f"Bearer {token.group(1)}"},
        basic("__token__", token.group(1)),
        basic(token.group(1), ""),  # pip's https://pwg_…@host/simple/
    ):
        seen = requests.get(f"{base}/report", headers=sent, timeout=10)
        assert seen.status_code == 200, seen.text
        assert seen.json() == {"user": "ada@example.com", "authorization": None, "path": "/report"}
        beside = browser.get(f"{base}/report", headers=sent, timeout=10).json()
        assert (beside["user"], beside["authorization"]) == ("ada@example.com", None)
        forwarded = {**sent, "X-Forwarded-Uri": "/report", "X-Forwarded-Method": "GET"}
        seen = requests.get(f"{base}/report", headers=forwarded, timeout=10)
        assert (seen.status_code, seen.json()["authorization"]) == (200, None)
    own = basic("svc", "the app's own password")
    beside = browser.get(f"{base}/report", headers=own, timeout=10).json()
    assert (beside["user"], beside["authorization"]) == ("ada@example.com", own["Authorization"])
    public = requests.get(f"{base}/status", headers=own, timeout=10).json()
    assert (public["user"], public["authorization"]) == (None, own["Authorization"])
    assert browser.get(f"{base}/report", timeout=10).json()["authorization"] is None


def test_nginx_passes_a_large_authorization_on(tokens_stack: str, tenant: Any) -> None:
    """A client's ``Authorization`` of several kilobytes (a large JWT) reaches the app
    as sent, on a public path and beside a session: the gate's answer to nginx does not
    carry it back, so it cannot overflow nginx's 4 KB ``proxy_buffer_size`` (which nginx
    answers with a 500 for every such request). Not with a client's ``X-Forwarded-Uri``
    either: the example clears it on its questions."""
    base = tokens_stack
    large = {"Authorization": "Bearer " + "a" * 6000}
    public = requests.get(f"{base}/status", headers=large, timeout=10)
    assert public.status_code == 200, public.text
    assert public.json() == {
        "user": None,
        "authorization": large["Authorization"],
        "path": "/status",
    }
    browser, done = http_sign_in(base, tenant, "ada@example.com")
    assert done.status_code == 303
    for headers in (large, {**large, "X-Forwarded-Uri": "/report"}):
        beside = browser.get(f"{base}/report", headers=headers, timeout=10)
        assert beside.status_code == 200, beside.text
        assert beside.json() == {
            "user": "ada@example.com",
            "authorization": large["Authorization"],
            "path": "/report",
        }
    refused = requests.get(f"{base}/report", headers=large, allow_redirects=False, timeout=10)
    assert refused.status_code == 401


def test_nginx_counts_a_refused_token_once(tokens_stack: str) -> None:
    """nginx asks the gate twice about a refused token (``{prefix}/auth``, then the
    original request through ``error_page``): it counts once. A stale token retried is
    not counted again, and new wrong tokens are, up to the limit (four here)."""
    base = tokens_stack

    def status(token: str) -> int:
        answer = requests.get(f"{base}/dav/", headers=basic("__token__", token), timeout=10)
        return answer.status_code

    stale = new_token()
    assert [status(stale) for _ in range(10)] == [401] * 10
    assert [status(new_token()) for _ in range(4)] == [401, 401, 401, 429]


def cookie_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Stands for the non-Python app: who nginx says it is, and the ``Cookie`` header
    nginx passed on (``null`` when none)."""
    body = json.dumps(
        {"user": environ.get("HTTP_X_FORWARDED_USER"), "cookie": environ.get("HTTP_COOKIE")}
    ).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


@pytest.fixture
def cookies_stack(tenant: Any, clock: FakeClock, tmp_path: Path) -> Iterator[str]:
    """nginx in front of a gate with a public path, and of :func:`cookie_app`."""
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rules]]\npath = "/status"\npolicy = "public"\n')
    config = gate_config(tenant.url, rules_file=str(rules), trusted_proxies="1")
    gate = PasswordlessGate(not_found, config, clock=clock)
    with serving(gate) as gate_url, nginx_in_front(gate_url, tmp_path, cookie_app) as base:
        yield base


def seen_by_the_app(base: str, path: str, *cookie_lines: str) -> dict[str, Any]:
    """What :func:`cookie_app` is told when ``path`` is asked with these ``Cookie``
    lines (one header each, as a client may send several)."""
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.putrequest("GET", path)
        connection.putheader("Accept", "application/json")
        for line in cookie_lines:
            connection.putheader("Cookie", line)
        connection.endheaders()
        answer = connection.getresponse()
        body = answer.read().decode()
    finally:
        connection.close()
    assert answer.status == 200, (path, cookie_lines, answer.status, body)
    seen: dict[str, Any] = json.loads(body)
    return seen


def test_nginx_never_passes_the_gates_cookies_to_the_app(cookies_stack: str, tenant: Any) -> None:
    """auth_request cannot take the gate's cookies out of the request nginx passes on,
    as the gate does for an app it wraps: the example's maps do. The app gets its own
    cookies as sent, wherever the gate's stood among them and in however many
    ``Cookie`` lines; none at all when the client sent only the gate's; and never a
    session it could replay at the gate."""
    base = cookies_stack
    browser, done = http_sign_in(base, tenant, "ada@example.com")
    assert done.status_code == 303
    jar = {cookie.name: cookie.value for cookie in browser.cookies}
    session, browser_id = jar["pwless_gate_session"], jar["pwless_gate_browser"]
    own = f"pwless_gate_session={session}; pwless_gate_browser={browser_id}"
    assert browser.get(f"{base}/report", timeout=10).json() == {
        "user": "ada@example.com",
        "cookie": None,
    }
    signed_in = [
        ((own,), None),
        ((f"app=1; {own}; theme=dark",), "app=1; theme=dark"),
        ((f"{own}; app=1",), "app=1"),
        ((f"app=1; {own}",), "app=1"),
        (
            (
                f"pwless_gate_browser={browser_id}; a=1; pwless_gate_session={session};"
                " b=2; pwless_gate_lang=de",
            ),
            "a=1; b=2",
        ),
        (
            (f"{own}; xpwless_gate_session=1; pwless_gate_sessions=2; note=pwless_gate_form=3",),
            "xpwless_gate_session=1; pwless_gate_sessions=2; note=pwless_gate_form=3",
        ),
        # Four runs (no browser sends that): no cookie rather than the gate's.
        (
            (
                f"pwless_gate_session={session}; a=1; pwless_gate_browser={browser_id}; b=2;"
                " pwless_gate_lang=de; c=3; pwless_gate_form=x",
            ),
            None,
        ),
    ]
    for lines, expected in signed_in:
        seen = seen_by_the_app(base, "/report", *lines)
        assert seen == {"user": "ada@example.com", "cookie": expected}, lines
    # On a public path, whatever the gate makes of them: the __Host- and __Secure-
    # names (over https), a chunk, two Cookie lines (which nginx joins with "; ").
    public = [
        (("a=1; b=2",), "a=1; b=2"),
        (
            (
                "a=1; __Host-pwless_gate_session=s; __Host-pwless_gate_session_1=t; b=2;"
                " __Secure-pwless_gate_browser=u, __Secure-pwless_gate_form=v",
            ),
            "a=1; b=2",
        ),
        ((f"{own}; pwless_gate_session_2=w",), None),
        (
            (f"a=1; pwless_gate_session={session}", f"pwless_gate_browser={browser_id}; b=2"),
            "a=1; b=2",
        ),
        ((own, "pwless_gate_lang=de"), None),
    ]
    for lines, expected in public:
        assert seen_by_the_app(base, "/status", *lines)["cookie"] == expected, lines
