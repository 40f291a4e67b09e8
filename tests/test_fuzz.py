"""Property-based tests: whatever a client sends, never a 5xx, never a traceback,
never the wrapped app without a session.

The number of examples is bounded (``FUZZ_EXAMPLES``, 150 by default) so the
suite's time is bounded too.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pwless_gate import PasswordlessGate
from pwless_gate.devtenant import DevTenant, serve_in_thread
from pwless_gate.security import safe_next
from pwless_gate.sessions import Session, new_session_id

from .helpers import CLIENT_ID, CLIENT_SECRET, RecordingApp, gate_config
from .test_redirects import lands_locally

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=os.environ.get("CI") == "true",
)

ROUTES = [
    "/_gate/login",
    "/_gate/verify",
    "/_gate/callback",
    "/_gate/logout",
    "/_gate/userinfo",
    "/_gate/auth",
    "/_gate/health",
    "/_gate/static/gate.css",
    "/_gate/static/../../etc/passwd",
    "/_gate",
    "/_gate/",
    "/_gate/nope",
    "/",
    "/admin",
    "/api/items",
    "/static/x.css",
]
METHODS = ["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "PROPFIND"]
FIELDS = ["email", "phone_number", "send", "next", "csrf_token", "code", "tx", "state"]

latin1 = st.text(st.characters(min_codepoint=1, max_codepoint=255), max_size=80)
texts = st.text(max_size=120)


@pytest.fixture(scope="module")
def gate() -> Iterator[tuple[PasswordlessGate, RecordingApp]]:
    tenant_app = DevTenant(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    with serve_in_thread(tenant_app) as tenant:
        tenant_app.allow_callback("http://localhost/_gate/callback")
        app = RecordingApp()
        config = gate_config(
            tenant.url, methods=("email-code", "email-link", "sms-code"), public_paths=()
        )
        yield PasswordlessGate(app, config), app


@st.composite
def requests_(draw: st.DrawFn, csrf: Any) -> dict[str, Any]:
    route = draw(st.sampled_from(ROUTES) | st.builds(lambda s: "/" + quote(s, safe="/%"), texts))
    path = route + draw(st.sampled_from(["", "/", "/x", "%2F..", "/%00", "//"]))
    method = draw(st.sampled_from(METHODS) | st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1))
    headers = draw(
        st.dictionaries(
            st.sampled_from(
                [
                    "ACCEPT",
                    "ORIGIN",
                    "REFERER",
                    "X_REQUESTED_WITH",
                    "SEC_FETCH_MODE",
                    "SEC_FETCH_DEST",
                    "ACCEPT_LANGUAGE",
                    "X_FORWARDED_FOR",
                    "X_FORWARDED_HOST",
                    "X_FORWARDED_PROTO",
                    "HOST",
                    "REMOTE_USER",
                    "X_FORWARDED_USER",
                    "ACCESS_CONTROL_REQUEST_METHOD",
                ]
            ),
            latin1,
            max_size=6,
        )
    )
    fields = draw(st.dictionaries(st.sampled_from(FIELDS), texts, max_size=6))
    browser_id = draw(st.sampled_from(["", "fuzzbrowserid0123456789"]))
    if browser_id and draw(st.booleans()):
        fields["csrf_token"] = csrf(browser_id)
    cookie = draw(latin1)
    if browser_id:
        cookie = f"pwless_gate_browser={browser_id}; {cookie}"
    if draw(st.booleans()):
        cookie += "; pwless_gate_session=" + draw(latin1)
    raw_body = draw(st.binary(max_size=300))
    form = "&".join(f"{quote(k)}={quote(v)}" for k, v in fields.items())
    body = form.encode() if draw(st.booleans()) else raw_body
    content_type = draw(
        st.sampled_from(
            [
                "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=x",
                "application/json",
                "",
                "text/plain; charset=utf-99",
            ]
        )
    )
    return {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": draw(st.sampled_from(["", "/mount"])),
        "PATH_INFO": path.encode("utf-8", "replace").decode("latin-1"),
        "QUERY_STRING": draw(latin1),
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": draw(st.sampled_from([str(len(body)), "", "-1", "abc", "99999999"])),
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_COOKIE": cookie,
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": draw(st.sampled_from(["http", "https"])),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
        **{f"HTTP_{k}": v for k, v in headers.items()},
    }


def call(gate: PasswordlessGate, environ: dict[str, Any]) -> tuple[int, bytes]:
    seen: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        seen.append(status)
        return lambda data: None

    body = b"".join(gate(environ, start_response))
    return int(seen[0].split()[0]), body


def test_no_request_is_a_5xx_or_reaches_the_app_unsigned(
    gate: tuple[PasswordlessGate, RecordingApp],
) -> None:
    wsgi, app = gate
    csrf = wsgi.views.deps.csrf.token

    @FUZZ
    @given(environ=requests_(csrf))
    def check(environ: dict[str, Any]) -> None:
        status, body = call(wsgi, environ)
        assert status < 500, (status, environ["REQUEST_METHOD"], environ["PATH_INFO"], body[:300])
        assert b"Traceback" not in body
        assert app.calls == []

    check()


@FUZZ
@given(target=st.text(max_size=300))
def test_any_next_target_lands_locally(target: str) -> None:
    assert lands_locally(safe_next(target, "/"))


def test_signed_in_requests_carry_only_the_verified_user(
    gate: tuple[PasswordlessGate, RecordingApp],
) -> None:
    wsgi, app = gate
    session = Session(
        sid=new_session_id(),
        remote_user="real@example.com",
        connection="email",
        claims={"sub": "email|abc", "email": "real@example.com"},
        created_at=time.time(),
        expires_at=time.time() + 3600,
    )
    cookie_value = wsgi.sessions.save(session)
    csrf = wsgi.views.deps.csrf.token

    @FUZZ
    @given(environ=requests_(csrf))
    def check(environ: dict[str, Any]) -> None:
        environ["HTTP_COOKIE"] += f"; pwless_gate_session={cookie_value}"
        for key in ("HTTP_REMOTE_USER", "HTTP_X_FORWARDED_USER", "REMOTE_USER"):
            environ[key] = "boss@example.com"
        app.calls.clear()
        status, body = call(wsgi, environ)
        assert status < 500, (status, environ["PATH_INFO"], body[:300])
        for seen in app.calls:
            assert seen["REMOTE_USER"] == "real@example.com"
            assert "boss@example.com" not in {str(v) for v in seen.values()}
            assert "pwless_gate_session" not in seen.get("HTTP_COOKIE", "")

    check()
