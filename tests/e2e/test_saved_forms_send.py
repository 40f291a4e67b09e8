"""Saved forms over a real server: the Send button pressed twice, late, or signed out.

The gate wraps :func:`tests.apps.form_echo` and is served by Werkzeug's
threaded server on a loopback port; a ``requests`` session plays the browser
(its cookies, a form's navigation headers). Every call the app gets is
recorded with the raw body it read, so "the app was not called" and "the
body arrived byte for byte" are read from what the app saw. The clock is the
tests' own: sessions and offers expire by moving it.
"""

from __future__ import annotations

import html
import io
import json
import re
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from werkzeug.serving import make_server

from pwless_gate import PasswordlessGate

from ..apps import form_echo
from ..helpers import FakeClock, browser_session, gate_config, hidden, http_sign_in

LIFETIME = 3600
#: ``login_lifetime``'s default: how long an offered form waits for its Send press.
OFFER_LIFETIME = 15 * 60
TARGET = "/notes/save?draft=7"
TIMEOUT = 10


@dataclass
class Call:
    """One call of the app: who, where, and the body exactly as it read it."""

    remote_user: str | None
    method: str
    path: str
    query: str
    content_type: str
    body: bytes


@dataclass
class RecordingFormEcho:
    """:func:`form_echo`, recording each call's raw body first."""

    calls: list[Call] = field(default_factory=list)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        self.calls.append(
            Call(
                environ.get("REMOTE_USER"),
                environ["REQUEST_METHOD"],
                environ.get("PATH_INFO", ""),
                environ.get("QUERY_STRING", ""),
                environ.get("CONTENT_TYPE", ""),
                body,
            )
        )
        environ["wsgi.input"] = io.BytesIO(body)
        return form_echo(environ, start_response)

    def posts(self) -> list[Call]:
        return [call for call in self.calls if call.method == "POST"]


@dataclass
class Live:
    url: str
    app: RecordingFormEcho
    tenant: Any

    def sign_in(
        self, email: str, browser: requests.Session | None = None, next: str = TARGET
    ) -> tuple[requests.Session, requests.Response]:
        return http_sign_in(self.url, self.tenant, email, next=next, browser=browser)

    def navigation(self) -> dict[str, str]:
        """What a browser adds to a form's POST from the site's own page."""
        return {
            "Origin": self.url,
            "Sec-Fetch-Site": "same-origin",
            "Sec-Fetch-Mode": "navigate",
            "Sec-Fetch-Dest": "document",
        }

    def post_form(self, browser: requests.Session, body: bytes, content_type: str) -> Any:
        return browser.post(
            self.url + TARGET,
            data=body,
            headers={**self.navigation(), "Content-Type": content_type},
            allow_redirects=False,
            timeout=TIMEOUT,
        )

    def sign_out(self, browser: requests.Session) -> None:
        page = browser.get(f"{self.url}/_gate/logout", timeout=TIMEOUT)
        done = browser.post(
            f"{self.url}/_gate/logout",
            data={"csrf_token": hidden(page.text, "csrf_token")},
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        assert done.status_code == 200, done.text

    def offer(self, browser: requests.Session) -> SendPage:
        page = browser.get(f"{self.url}/_gate/form", timeout=TIMEOUT)
        assert page.status_code == 200, page.text
        found = re.search(
            r'<form method="post" action="([^"]+)"[^>]*>(.*?)</form>', page.text, re.S
        )
        assert found is not None, page.text
        inputs = re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', found[2])
        fields = [(html.unescape(name), html.unescape(value)) for name, value in inputs]
        return SendPage(page.text, html.unescape(found[1]), fields)

    def press(self, browser: requests.Session, page: SendPage) -> Any:
        """What a browser sends when the page's Send button is pressed: its form's fields."""
        return browser.post(
            self.url + page.action,
            data=page.fields,
            headers=self.navigation(),
            allow_redirects=False,
            timeout=TIMEOUT,
        )


@dataclass
class SendPage:
    text: str
    action: str
    fields: list[tuple[str, str]]


@pytest.fixture
def live(tenant: Any, clock: FakeClock) -> Iterator[Live]:
    app = RecordingFormEcho()
    gate = PasswordlessGate(app, gate_config(tenant.url, session_lifetime=LIFETIME), clock=clock)
    server = make_server("127.0.0.1", 0, gate, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield Live(f"http://127.0.0.1:{server.port}", app, tenant)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(TIMEOUT)


def multipart(fields: list[tuple[str, bytes]], files: list[tuple[str, str, bytes]]) -> Any:
    """A body as a browser builds it (fields' bytes as given), and its content type."""
    boundary = "----WebKitFormBoundary" + uuid.uuid4().hex[:16]
    body = b""
    for name, value in fields:
        body += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        body += value + b"\r\n"
    for name, filename, content in files:
        body += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: text/csv\r\n\r\n'
        ).encode()
        body += content + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


#: Ada's form: her app's CSRF field, a private note, a byte that is not UTF-8, a file.
BODY, CONTENT_TYPE = multipart(
    [
        ("csrf_token", b"ada-app-csrf"),
        ("note", b"Ada's private note"),
        ("latin", "caf\xe9".encode("latin-1")),
    ],
    [("attachment", "budget.csv", b"item,amount\nvenue,1200\n")],
)


def kept_and_offered(live: Live, clock: FakeClock) -> tuple[requests.Session, SendPage]:
    """Ada's session ends before her form arrives; she signs in again and is offered it."""
    browser, done = live.sign_in("ada@example.com")
    assert done.status_code == 303, done.text
    clock.advance(LIFETIME + 1)
    kept = live.post_form(browser, BODY, CONTENT_TYPE)
    assert kept.status_code == 302, kept.text
    assert parse_qs(urlsplit(kept.headers["Location"]).query)["form"] == ["kept"]
    _, done = live.sign_in("ada@example.com", browser)
    assert done.headers["Location"] == "/_gate/form"
    return browser, live.offer(browser)


def refused(answer: requests.Response) -> None:
    """The gate's own page for a Send press with nothing to send."""
    assert answer.status_code == 409, answer.text
    assert answer.headers["Content-Type"].startswith("text/html")
    assert '<h1 id="page-title">Form not sent</h1>' in answer.text
    assert "Nothing was sent" in answer.text


def sent_whole(call: Call, user: str) -> None:
    assert call.remote_user == user
    assert (call.path, call.query) == ("/notes/save", "draft=7")
    assert call.content_type == CONTENT_TYPE
    assert call.body == BODY


def test_the_send_page_carries_no_field_of_the_form(live: Live, clock: FakeClock) -> None:
    _, page = kept_and_offered(live, clock)
    assert page.fields == []
    assert "budget.csv" in page.text
    for secret in ("ada-app-csrf", "private note"):
        assert secret not in page.text


def test_a_second_press_of_send_is_answered_by_the_gate(live: Live, clock: FakeClock) -> None:
    browser, page = kept_and_offered(live, clock)

    first = live.press(browser, page)
    assert first.status_code == 200, first.text
    assert json.loads(first.text)["files"] == [
        ["attachment", "budget.csv", "text/csv", "item,amount\nvenue,1200\n"]
    ]
    # A double click, or Back and Send again: the gate answers, the app is not called.
    refused(live.press(browser, page))
    assert len(live.app.posts()) == 1
    sent_whole(live.app.posts()[0], "ada@example.com")
    # The same press with the fields an older Send page repeated: still nothing sent.
    stale = browser.post(
        live.url + page.action,
        data={"csrf_token": "ada-app-csrf", "note": "Ada's private note"},
        headers=live.navigation(),
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    refused(stale)
    german = browser.post(
        live.url + page.action,
        headers={**live.navigation(), "Accept-Language": "de"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert german.status_code == 409
    assert "Formular nicht gesendet" in german.text
    assert len(live.app.posts()) == 1


def test_a_stale_send_page_sends_nothing_as_the_next_person(live: Live, clock: FakeClock) -> None:
    """Ada leaves the Send page open and signs out; Bob signs in on the same browser (her
    form is deleted) and presses the old Send button: the app never gets her form as Bob."""
    browser, page = kept_and_offered(live, clock)
    live.sign_out(browser)
    _, done = live.sign_in("bob@example.com", browser, next="/")
    assert done.headers["Location"] == "/"
    assert browser.get(f"{live.url}/_gate/form", timeout=TIMEOUT).status_code == 404

    refused(live.press(browser, page))
    assert live.app.posts() == []


def test_send_pressed_after_the_offer_expired(live: Live, clock: FakeClock) -> None:
    browser, page = kept_and_offered(live, clock)
    clock.advance(OFFER_LIFETIME + 1)  # Ada is still signed in; the offer is over

    refused(live.press(browser, page))
    assert live.app.posts() == []
    assert browser.get(f"{live.url}/_gate/form", timeout=TIMEOUT).status_code == 404


def test_send_pressed_signed_out_keeps_the_form_for_the_next_sign_in(
    live: Live, clock: FakeClock
) -> None:
    """The Send page left open, the session ends, Send is pressed: nothing new is kept (the
    press carries no form); the kept form, file included, is offered after the sign-in the
    press leads to, and arrives byte for byte."""
    browser, page = kept_and_offered(live, clock)
    live.sign_out(browser)

    pressed = live.press(browser, page)
    assert pressed.status_code == 302, pressed.text
    location = urlsplit(pressed.headers["Location"])
    assert location.path == "/_gate/login"
    assert parse_qs(location.query) == {"next": ["/_gate/form"], "form": ["kept"]}
    assert "_form=" not in pressed.headers.get("Set-Cookie", "")
    assert "It is kept" in browser.get(live.url + pressed.headers["Location"]).text

    _, done = live.sign_in("ada@example.com", browser, next="/_gate/form")
    assert done.headers["Location"] == "/_gate/form"
    again = live.offer(browser)
    assert "budget.csv" in again.text
    assert again.action == page.action  # the same kept form, the same Send press
    sent = live.press(browser, again)
    assert sent.status_code == 200, sent.text
    assert len(live.app.posts()) == 1
    sent_whole(live.app.posts()[0], "ada@example.com")
    refused(live.press(browser, again))


def test_a_send_press_without_a_session_or_a_kept_form_never_reaches_the_app(
    live: Live,
) -> None:
    """The Send marker is the gate's: a POST carrying it (escaped, too) from a client with
    no kept form gets the gate's answer, whatever its cookies."""
    browser, _ = live.sign_in("ada@example.com", next="/")
    for query in ("pwless_gate_send=0123", "a=1&pwless%5Fgate%5Fsend=0123"):
        answer = browser.post(
            f"{live.url}/notes/save?{query}",
            data={"note": "x"},
            headers=live.navigation(),
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        refused(answer)
    tool = requests.post(
        f"{live.url}/notes/save?pwless_gate_send=0123",
        data={"note": "x"},
        headers={"Accept": "application/json"},
        timeout=TIMEOUT,
    )
    assert tool.status_code == 401  # no session: the usual challenge
    assert live.app.posts() == []
    fresh = browser_session()
    answer = fresh.post(
        f"{live.url}/notes/save?pwless_gate_send=0123",
        data={"note": "x"},
        headers=live.navigation(),
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert answer.status_code == 302
    assert parse_qs(urlsplit(answer.headers["Location"]).query) == {"next": ["/_gate/form"]}
