"""Small helpers the tests share: a recording app, form scraping, a gate harness."""

from __future__ import annotations

import hashlib
import html
import io
import logging
import re
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests
from werkzeug.test import Client, TestResponse

from pwless_gate import GateConfig, PasswordlessGate
from pwless_gate.config import THROTTLES
from pwless_gate.sessions import Session, new_session_id
from pwless_gate.stores.signed_ids import SignedIds

CLIENT_ID = "gate-test-client"
CLIENT_SECRET = "gate-test-secret-0123456789abcdef"
#: The signing keys of a session store made by hand (oldest first, as a gate's).
KEYS = (b"store-test-key-0123456789abcdef0",)


def unknown_value() -> str:
    """The cookie value of a session no store holds, signed with :data:`KEYS` (so a store
    made with them asks its database for it)."""
    return SignedIds(KEYS).new()[1]


def session_key(value: str) -> str:
    """The sha256 (hex) a server-side store keeps a session under: that of the random id
    its cookie value carries before the signature."""
    return hashlib.sha256(value.partition(".")[0].encode()).hexdigest()


class FakeClock:
    """A clock tests move by hand; starts at the real time so tokens look normal."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


#: Where the in-process gate is, as far as Werkzeug's test client is concerned.
GATE_ORIGIN = "http://localhost"

#: The ``Accept`` of a browser's navigation (Firefox's): only such requests are sent to
#: the sign-in page; a client without it gets a 401 challenge (issue 13).
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
#: A browser's ``User-Agent`` (Firefox's): without ``Sec-Fetch-*`` headers, a client
#: whose ``User-Agent`` names a tool (``curl/…``, ``Java/…``) is not taken for a browser.
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
#: Request headers of a browser's navigation, for ``requests`` calls that play a browser.
BROWSER = {"Accept": BROWSER_ACCEPT, "User-Agent": BROWSER_UA}


def browser_session() -> requests.Session:
    """A ``requests.Session`` that navigates as a browser does (:data:`BROWSER` headers)."""
    session = requests.Session()
    session.headers.update(BROWSER)
    return session


class RecordingApp:
    """A WSGI app that answers 200 and keeps every environ it was called with."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.calls.append(dict(environ))
        body = f"hello {environ.get('REMOTE_USER', 'nobody')}".encode()
        start_response(
            "200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
        )
        return [body]


def hidden(page: str, name: str) -> str:
    """The value of the form field ``name`` in an HTML page."""
    match = re.search(rf'name="{re.escape(name)}"\s+value="([^"]*)"', page)
    if match is None:
        raise LookupError(f"no field {name!r} in page")
    return html.unescape(match.group(1))


def wrong_code(code: str) -> str:
    """A code of the same length as ``code`` that is certainly not it: each digit moved by one.

    Raises ``ValueError`` if ``code`` is not a string of ASCII digits, so a
    missing code cannot pass for a wrong one.
    """
    if not (code.isascii() and code.isdigit()):
        raise ValueError(f"not a one-time code: {code!r}")
    return "".join(str((int(digit) + 1) % 10) for digit in code)


def state_dir() -> str:
    """A new directory for one gate's default SQLite file, removed when the tests end."""
    return tempfile.mkdtemp(prefix="state-", dir=STATE_ROOT)


#: Under pytest's own temporary directory (set by conftest), so it is cleaned like the rest.
STATE_ROOT: str | None = None


def gate_config(tenant_url: str, **overrides: Any) -> GateConfig:
    values: dict[str, Any] = {
        "auth0_domain": tenant_url,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "secret_key": "test-secret-key-0123456789",
        "auth0_timeout": 2.0,
    }
    if not {"allowed_emails", "allowed_domains", "allowed_phones"} & overrides.keys():
        values.update(allowed_domains=("*",), allowed_phones=("*",))  # anyone, on purpose
    if not {"store", "redis_url", "state_dir"} & overrides.keys():
        values["state_dir"] = state_dir()  # the default store, a file of this gate's own
    values.update(overrides)
    return GateConfig(**values)


class GateClient(Client):
    """A Werkzeug test client playing a browser: its requests come from 127.0.0.1, as a
    server would say, and navigate (``Accept`` lists ``text/html`` first, a browser's
    ``User-Agent``) unless the test sends headers of its own."""

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        kwargs.setdefault(
            "environ_base",
            {
                "REMOTE_ADDR": "127.0.0.1",
                "HTTP_ACCEPT": BROWSER_ACCEPT,
                "HTTP_USER_AGENT": BROWSER_UA,
            },
        )
        return super().open(*args, **kwargs)


class ToolClient(Client):
    """A Werkzeug test client playing a command-line tool (curl, pip): requests from
    127.0.0.1 with ``Accept: */*``, so they are challenged, not redirected."""

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        kwargs.setdefault("environ_base", {"REMOTE_ADDR": "127.0.0.1", "HTTP_ACCEPT": "*/*"})
        return super().open(*args, **kwargs)


@dataclass
class Harness:
    """A gate wrapping a :class:`RecordingApp`, driven in-process by a Werkzeug client.

    The gate's own calls to the tenant go over real loopback HTTP.
    """

    gate: PasswordlessGate
    app: RecordingApp
    tenant: Any
    client: Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = GateClient(self.gate)

    def new_browser(self) -> Client:
        return GateClient(self.gate)

    def start(
        self, email: str, *, client: Client | None = None, next: str = "/", **extra: str
    ) -> TestResponse:
        client = client or self.client
        page = client.get(f"/_gate/login?next={next}").get_data(as_text=True)
        form = {
            "csrf_token": hidden(page, "csrf_token"),
            "next": next,
            "email": email,
            "send": "code",
        }
        form.update(extra)
        return client.post("/_gate/login", data=form)

    def submit_code(
        self, start_page: TestResponse, code: str, *, client: Client | None = None
    ) -> TestResponse:
        client = client or self.client
        page = start_page.get_data(as_text=True)
        form = {"csrf_token": hidden(page, "csrf_token"), "tx": hidden(page, "tx"), "code": code}
        return client.post("/_gate/verify", data=form)

    def start_phone(
        self, phone: str, *, client: Client | None = None, next: str = "/"
    ) -> TestResponse:
        client = client or self.client
        page = client.get(f"/_gate/login?next={next}").get_data(as_text=True)
        form = {"csrf_token": hidden(page, "csrf_token"), "next": next, "phone_number": phone}
        return client.post("/_gate/login", data=form)

    def follow_link(self, link: str) -> str:
        """Open a magic link at the tenant as a browser would; return the gate path it leads to."""
        answer = requests.get(link, allow_redirects=False, timeout=10)
        assert answer.status_code == 302, answer.text
        location = answer.headers["Location"]
        assert location.startswith(GATE_ORIGIN), location
        return location[len(GATE_ORIGIN) :]

    def continue_link(self, landing: str, *, client: Client | None = None) -> TestResponse:
        """GET the landing page of a link, then press its Continue button."""
        client = client or self.client
        page = client.get(landing)
        assert page.status_code == 200, page.get_data(as_text=True)
        text = page.get_data(as_text=True)
        form = {
            "csrf_token": hidden(text, "csrf_token"),
            "code": hidden(text, "code"),
            "state": hidden(text, "state"),
        }
        return client.post("/_gate/callback", data=form)

    def login(self, email: str, *, client: Client | None = None, next: str = "/") -> TestResponse:
        started = self.start(email, client=client, next=next)
        assert started.status_code == 200, started.get_data(as_text=True)
        code = self.tenant.last_message(to=email.lower()).code
        return self.submit_code(started, code, client=client)


def http_sign_in(
    base: str,
    tenant: Any,
    email: str,
    next: str = "/",
    *,
    browser: requests.Session | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10,
) -> tuple[requests.Session, requests.Response]:
    """Sign in over real HTTP as a browser would: login page, code, verify.

    Returns the browser (a ``requests.Session`` holding the cookies and sending
    :data:`BROWSER` headers) and the answer to the verify POST, which is not followed.
    """
    browser = browser or browser_session()
    page = browser.get(
        f"{base}/_gate/login", params={"next": next}, headers=headers, timeout=timeout
    )
    assert page.status_code == 200, page.text
    sent = browser.post(
        f"{base}/_gate/login",
        data={"csrf_token": hidden(page.text, "csrf_token"), "email": email, "next": next},
        headers=headers,
        timeout=timeout,
    )
    assert sent.status_code == 200, sent.text
    done = browser.post(
        f"{base}/_gate/verify",
        data={
            "csrf_token": hidden(sent.text, "csrf_token"),
            "tx": hidden(sent.text, "tx"),
            "code": tenant.last_message(to=email.lower()).code,
        },
        headers=headers,
        allow_redirects=False,
        timeout=timeout,
    )
    return browser, done


def http_app_token(base: str, browser: requests.Session, timeout: float = 10) -> str:
    """A new app token made on the tokens page by ``browser``'s signed-in person."""
    page = browser.get(f"{base}/_gate/tokens", timeout=timeout)
    made = browser.post(
        f"{base}/_gate/tokens",
        data={"csrf_token": hidden(page.text, "csrf_token"), "name": "ci", "days": "7"},
        timeout=timeout,
    )
    token = re.search(r'value="(pwg_[0-9A-Za-z]+)"', made.text)
    assert token is not None, made.text
    return token.group(1)


#: ``GateConfig`` keyword arguments that turn every local throttle off.
THROTTLES_OFF: dict[str, Any] = {setting: "off" for setting in THROTTLES.values()}


def make_session(now: float, sub: str = "email|abc", lifetime: float = 3600) -> Session:
    """A session record of ada@example.com, as a sign-in would store it."""
    return Session(
        sid=new_session_id(),
        remote_user="ada@example.com",
        connection="email",
        claims={"sub": sub, "email": "ada@example.com"},
        created_at=now,
        expires_at=now + lifetime,
    )


#: How ``pwless-gate serve`` writes log lines (``pwless_gate.cli``), as most servers do.
SERVER_LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"


@contextmanager
def server_log(level: int = logging.INFO) -> Iterator[io.StringIO]:
    """What the gate logged meanwhile, as a server writes it to its log file: one record
    a line (a traceback's lines follow its record)."""
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    handler.setFormatter(logging.Formatter(SERVER_LOG_FORMAT))
    gate = logging.getLogger("pwless_gate")
    before = gate.level
    gate.addHandler(handler)
    gate.setLevel(level)
    try:
        yield written
    finally:
        gate.removeHandler(handler)
        gate.setLevel(before)


@contextmanager
def raw_server(answer: Callable[[socket.socket], None], scheme: str = "http") -> Iterator[str]:
    """A loopback TCP server that hands each connection to ``answer`` in a thread of
    its own (for answers no HTTP server would give); its ``scheme://127.0.0.1:port``."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"{scheme}://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.shutdown(socket.SHUT_RDWR)  # wakes the accept
        listener.close()
        thread.join(5)
