"""Property-based tests: whatever a client sends, never a 5xx, never a traceback,
never the wrapped app without a session, and with one only the verified user.

The number of examples is bounded (``FUZZ_EXAMPLES``, 150 by default) so the
suite's time is bounded too; under CI the examples are derandomized.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.wrappers import Request

from pwless_gate import GateConfig, PasswordlessGate
from pwless_gate.devtenant import DevTenant, serve_in_thread
from pwless_gate.public_paths import is_normal
from pwless_gate.redirects import safe_next
from pwless_gate.rules import clean_path

from .helpers import (
    BROWSER_UA,
    CLIENT_ID,
    CLIENT_SECRET,
    Harness,
    RecordingApp,
    gate_config,
    hidden,
)
from .test_redirects import lands_locally

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=os.environ.get("CI") == "true",
)

#: gunicorn's default ``limit_request_field_size``: the longest header line it accepts.
HEADER_LINE_LIMIT = 8190
#: The longest ``Cookie`` header value that fits in such a line.
COOKIE_HEADER_MAX = HEADER_LINE_LIMIT - len("Cookie: ")
#: Python refuses to turn a string of more digits than this into an int.
INT_DIGITS_LIMIT = 4300

USER = "real@example.com"
SPOOFED = "boss@example.com"
BROWSER_ID = "fuzzbrowserid0123456789"

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
HEADERS = [
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

latin1 = st.text(st.characters(min_codepoint=1, max_codepoint=255), max_size=80)
texts = st.text(max_size=120)

#: The ``<n>`` of a chunked session cookie ``<n>~<part>``: what the gate writes
#: (2 to 4), other digits, characters ``str.isdigit()`` accepts but ``int()``
#: refuses (a server hands header bytes over as latin-1, so they arrive), and
#: runs of digits longer than Python converts to an int.
chunk_counts = st.one_of(
    st.integers(0, 9).map(str),
    st.sampled_from(["\u00b2", "\u00b3", "\u00b9"]),
    st.builds(
        lambda digit, n: digit * n, st.sampled_from("19"), st.integers(INT_DIGITS_LIMIT, 6000)
    ),
    st.integers(1, 6000).map(lambda n: "0" * n + "2"),
)
session_values = latin1 | st.builds(lambda count, rest: f"{count}~{rest}", chunk_counts, latin1)


@dataclass(frozen=True)
class Fuzzed:
    """The gate under test, and what a real browser got from it."""

    harness: Harness
    config: GateConfig
    #: The value of a session cookie from a real sign-in as :data:`USER`.
    session_value: str
    #: The CSRF token for the browser id :data:`BROWSER_ID`.
    csrf_token: str

    @property
    def app(self) -> RecordingApp:
        return self.harness.app

    @property
    def gate(self) -> PasswordlessGate:
        return self.harness.gate


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[Fuzzed]:
    tenant_app = DevTenant(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    with serve_in_thread(tenant_app) as tenant:
        tenant_app.allow_callback("http://localhost/_gate/callback")
        app = RecordingApp()
        config = gate_config(
            tenant.url, methods=("email-code", "email-link", "sms-code"), public_paths=()
        )
        harness = Harness(gate=PasswordlessGate(app, config), app=app, tenant=tenant)
        session_name, browser_name = config.cookie_names(False)
        assert harness.login(USER).status_code == 303
        session = harness.client.get_cookie(session_name)
        assert session is not None
        browser = harness.new_browser()
        browser.set_cookie(browser_name, BROWSER_ID)
        page = browser.get("/_gate/login").get_data(as_text=True)
        yield Fuzzed(harness, config, session.value, hidden(page, "csrf_token"))


def gate_cookie_names(config: GateConfig) -> list[str]:
    """The gate's cookie names over http and https, with the session's chunk names."""
    names = []
    for secure in (False, True):
        for mounted in (False, True):
            session, browser = config.cookie_names(secure, mounted)
            names += [session, f"{session}_1", f"{session}_2", f"{session}_3", browser]
    return list(dict.fromkeys(names))


@st.composite
def cookie_headers(draw: st.DrawFn, config: GateConfig, first: str = "") -> str:
    """A whole ``Cookie`` header, at most :data:`COOKIE_HEADER_MAX` characters.

    ``first`` opens it untouched. Then come the gate's own cookies with odd
    values, other cookies and junk, half the time padded up to a length as
    far as the server's limit.
    """
    name = st.sampled_from([*gate_cookie_names(config), "theme", "_ga", ""]) | latin1
    pair = st.builds(lambda n, v: f"{n}={v}", name, session_values)
    parts = draw(st.lists(pair | latin1, max_size=6))
    header = "; ".join([first, *parts] if first else parts)
    if draw(st.booleans()):
        size = draw(st.just(COOKIE_HEADER_MAX) | st.integers(0, COOKIE_HEADER_MAX))
        filler = draw(pair)
        while len(header) < size:
            header += "; " + filler
        header = header[: max(size, len(first))]
    return header[: max(COOKIE_HEADER_MAX, len(first))]


@st.composite
def requests_(draw: st.DrawFn, fuzzed: Fuzzed, session: str | None = None) -> dict[str, Any]:
    """An environ for any request.

    Its Cookie header opens with a session cookie: ``session`` if given, else
    half the time one with any value, under the name the gate reads for the
    request's scheme.
    """
    route = draw(st.sampled_from(ROUTES) | st.builds(lambda s: "/" + quote(s, safe="/%"), texts))
    path = route + draw(st.sampled_from(["", "/", "/x", "%2F..", "/%00", "//"]))
    method = draw(st.sampled_from(METHODS) | st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1))
    headers = draw(st.dictionaries(st.sampled_from(HEADERS), latin1, max_size=6))
    scheme = draw(st.sampled_from(["http", "https"]))
    script_name = draw(st.sampled_from(["", "/mount"]))
    session_name, browser_name = fuzzed.config.cookie_names(scheme == "https", bool(script_name))
    fields = draw(st.dictionaries(st.sampled_from(FIELDS), texts, max_size=6))
    browser_id = draw(st.sampled_from(["", BROWSER_ID]))
    if browser_id and draw(st.booleans()):
        fields["csrf_token"] = fuzzed.csrf_token
    if session is None and draw(st.booleans()):
        session = draw(session_values)
    first = [f"{session_name}={session}"] if session is not None else []
    if browser_id:
        first.append(f"{browser_name}={browser_id}")
    cookie = draw(cookie_headers(fuzzed.config, "; ".join(first)))
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
        "SCRIPT_NAME": script_name,
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
        "wsgi.url_scheme": scheme,
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


def is_gate_route(config: GateConfig, path: str) -> bool:
    """Whether the gate answers ``path`` itself (its prefix), never calling the app."""
    return path == config.prefix or path.startswith(config.prefix + "/")


def test_no_request_is_a_5xx_or_reaches_the_app_unsigned(fuzzed: Fuzzed) -> None:
    @FUZZ
    @given(environ=requests_(fuzzed))
    def check(environ: dict[str, Any]) -> None:
        fuzzed.app.calls.clear()
        status, body = call(fuzzed.gate, environ)
        assert status < 500, (status, environ["REQUEST_METHOD"], environ["PATH_INFO"], body[:300])
        assert b"Traceback" not in body
        assert fuzzed.app.calls == []

    check()


@FUZZ
@given(target=st.text(max_size=300))
def test_any_next_target_lands_locally(target: str) -> None:
    assert lands_locally(safe_next(target, "/"))


def test_signed_in_requests_carry_only_the_verified_user(fuzzed: Fuzzed) -> None:
    """Every example ends in one of two checked outcomes: the gate's own route
    (the app is not called) or the app, called once, as the verified user only."""

    @FUZZ
    @given(environ=requests_(fuzzed, session=fuzzed.session_value))
    def check(environ: dict[str, Any]) -> None:
        for key in ("HTTP_REMOTE_USER", "HTTP_X_FORWARDED_USER", "REMOTE_USER"):
            environ[key] = SPOOFED
        path = environ["PATH_INFO"] or "/"
        fuzzed.app.calls.clear()
        status, body = call(fuzzed.gate, environ)
        assert status < 500, (status, environ["REQUEST_METHOD"], path, body[:300])
        assert b"Traceback" not in body
        if is_gate_route(fuzzed.config, path):
            assert fuzzed.app.calls == []
            return
        assert status == 200, (status, environ["REQUEST_METHOD"], path, body[:300])
        assert len(fuzzed.app.calls) == 1
        seen = fuzzed.app.calls[0]
        assert seen["REMOTE_USER"] == USER
        assert SPOOFED not in {str(v) for v in seen.values()}
        passed_on = seen.get("HTTP_COOKIE", "")
        assert fuzzed.session_value not in passed_on
        gate_cookies = set(gate_cookie_names(fuzzed.config))
        cookies = Request(seen).cookies  # as a Werkzeug app reads them
        assert not {k: v for k, v in cookies.items() if k in gate_cookies and v}

    check()


def browser_get(cookie: str) -> dict[str, Any]:
    """The environ of a browser's ``GET /`` with this ``Cookie`` header, as a server passes it."""
    return {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_ACCEPT": "text/html,application/xhtml+xml",
        "HTTP_USER_AGENT": BROWSER_UA,
        "HTTP_COOKIE": cookie,
        "wsgi.input": io.BytesIO(),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }


def test_session_cookie_with_thousands_of_digits_is_refused_not_500(fuzzed: Fuzzed) -> None:
    fuzzed.app.calls.clear()
    session_name = fuzzed.config.cookie_names(False)[0]

    status, _ = call(fuzzed.gate, browser_get(f"{session_name}={'9' * 5000}~abc"))

    assert status == 302
    assert fuzzed.app.calls == []


def test_session_cookie_with_a_superscript_chunk_count_is_refused_not_500(fuzzed: Fuzzed) -> None:
    # "\u00b2".isdigit() is true, but int("\u00b2") raises; the byte 0xB2 in a Cookie
    # header reaches the gate as that character.
    fuzzed.app.calls.clear()
    session_name = fuzzed.config.cookie_names(False)[0]

    status, _ = call(fuzzed.gate, browser_get(f"{session_name}=\u00b2~abc"))

    assert status == 302
    assert fuzzed.app.calls == []


FUZZ_RULES = """
[[rules]]
path = "/static"
policy = "public"
[[rules]]
path = "/admin"
allow = ["boss@example.com"]
[[rules]]
path = '^/api/v[0-9]+/private(/.*)?$'
policy = "deny"
[[rules]]
path = "/old"
methods = ["GET"]
hosts = ["tools.example.com"]
policy = "deny"
[[rules]]
path = "/pay"
max_age = 60
"""

#: Paths under the rules' prefixes, spelled the ways an app may read differently.
RULE_PATHS = st.sampled_from(
    ["/static", "/admin", "/api/v1/private", "/old", "/pay", "/x", "/", "/%61dmin", "/ol%64"]
) | st.builds(lambda s: "/" + quote(s, safe="/%;.\\"), texts)
TRICKS = st.sampled_from(
    ["", "/", "/x", "/..", "/../admin", "%2F..%2Fadmin", "//", ";x", "%3F", "%2Fx", "%2F"]
)


@pytest.fixture(scope="module")
def ruled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    rules_file = tmp_path_factory.mktemp("rules") / "rules.toml"
    rules_file.write_text(FUZZ_RULES)
    tenant_app = DevTenant(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    with serve_in_thread(tenant_app) as tenant:
        app = RecordingApp()
        config = gate_config(tenant.url, rules_file=str(rules_file), trusted_proxies="1")
        harness = Harness(gate=PasswordlessGate(app, config), app=app, tenant=tenant)
        session_name, _ = config.cookie_names(False)
        assert harness.login(USER).status_code == 303
        session = harness.client.get_cookie(session_name)
        assert session is not None
        yield Fuzzed(harness, config, session.value, "")


def test_rules_and_path_normalisation_never_500_nor_let_the_refused_in(ruled: Fuzzed) -> None:
    """Whatever the path, method, host or original-request headers, a signed-in
    person who is not boss never reaches /admin (however it is spelled), closed
    paths never reach the app, and nothing is a 5xx."""
    rules = ruled.config.rules

    @FUZZ
    @given(
        path=st.builds(lambda a, b: a + b, RULE_PATHS, TRICKS),
        # Sent as written; the app's framework reads it upper-case.
        method=st.sampled_from([*METHODS, "get", "Get", "head", "post"]),
        host=st.sampled_from(["tools.example.com", "TOOLS.example.com:443", "x", "[::1]:8", ""]),
        original=st.none() | st.builds(lambda a, b: a + b, RULE_PATHS, TRICKS),
        signed_in=st.booleans(),
    )
    def check(path: str, method: str, host: str, original: str | None, signed_in: bool) -> None:
        session_name, _ = ruled.config.cookie_names(False)
        environ = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            "PATH_INFO": path.encode("utf-8", "replace").decode("latin-1"),
            "QUERY_STRING": "",
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "80",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": host,
            "HTTP_X_FORWARDED_HOST": host,
            "HTTP_COOKIE": f"{session_name}={ruled.session_value}" if signed_in else "",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.url_scheme": "http",
            "wsgi.errors": io.StringIO(),
        }
        if original is not None:
            environ["HTTP_X_ORIGINAL_URI"] = original
            environ["HTTP_X_ORIGINAL_METHOD"] = method
        ruled.app.calls.clear()
        status, body = call(ruled.gate, environ)
        assert status < 500, (status, method, path, body[:300])
        assert b"Traceback" not in body
        if ruled.app.calls:
            seen = environ["PATH_INFO"]
            for reading in (seen, clean_path(seen)):
                rule = rules.match(method.upper(), reading, host.lower().split(":")[0])
                assert rule is None or not rule.closed, (method, reading)
                assert reading != "/admin", reading
                assert not reading.startswith("/admin/"), reading
            assert not signed_in or ruled.app.calls[0]["REMOTE_USER"] == USER

    check()


@FUZZ
@given(path=st.text(max_size=200), method=st.text(max_size=10), host=st.text(max_size=30))
def test_matching_any_text_never_raises_and_unclear_paths_are_never_public(
    path: str, method: str, host: str
) -> None:
    rules = RULESET_FOR_FUZZ
    rule = rules.match(method, path, host)
    if not is_normal(path):
        assert rule is None or not rule.public


def _ruleset_for_fuzz() -> Any:
    import tempfile

    from pwless_gate.rules_file import load_rules

    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as handle:
        handle.write(FUZZ_RULES)
    try:
        return load_rules(handle.name, public_paths=("/assets/",))
    finally:
        os.unlink(handle.name)


RULESET_FOR_FUZZ = _ruleset_for_fuzz()
