"""A gate in front of a small page app, served over loopback HTTP for a real browser.

:class:`Site` starts the gate on a free 127.0.0.1 port in a background
thread (Werkzeug's threaded server), registers its callback URL with the
local tenant, and offers the few steps every browser test repeats: ask for a
code, type it, open a magic link. Nothing here waits without a bound.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Iterable
from typing import Any

from playwright.sync_api import Page, expect
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from pwless_gate import PasswordlessGate
from pwless_gate.devtenant import Message, RunningTenant

from ..helpers import FakeClock, gate_config

ALL_METHODS = ("email-code", "email-link", "sms-code")
STOP_SECONDS = 5.0


def tool(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """The protected app: a page that says who is signed in and where they are."""
    user = html.escape(environ.get("REMOTE_USER", ""))
    where = environ.get("PATH_INFO", "/")
    if environ.get("QUERY_STRING"):
        where += "?" + environ["QUERY_STRING"]
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Reports</title></head>'
        "<body><main><h1>Reports</h1>"
        f'<p>Signed in as <strong id="user">{user}</strong></p>'
        f'<p>You asked for <code id="where">{html.escape(where)}</code></p>'
        '<p><a href="/_gate/logout">Sign out</a></p></main></body></html>'
    ).encode()
    start_response(
        "200 OK",
        [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))],
    )
    return [body]


class _QuietHandler(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: Any) -> None:
        pass


class Site:
    """The gate wrapping :func:`tool` (or ``app``), listening on 127.0.0.1 until :meth:`stop`."""

    def __init__(
        self, tenant: RunningTenant, clock: FakeClock, app: Any = None, **config: Any
    ) -> None:
        self.tenant = tenant
        settings: dict[str, Any] = {"methods": ALL_METHODS, "brand_name": "Acme internal tools"}
        settings.update(config)
        self.gate = PasswordlessGate(app or tool, gate_config(tenant.url, **settings), clock=clock)
        self._server: BaseWSGIServer = make_server(
            "127.0.0.1", 0, self.gate, threaded=True, request_handler=_QuietHandler
        )
        self.origin = f"http://127.0.0.1:{self._server.server_port}"
        tenant.app.allow_callback(f"{self.origin}/_gate/callback")
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"gate:{self._server.server_port}",
            daemon=True,
        )
        self._thread.start()

    def url(self, path: str) -> str:
        return self.origin + path

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(STOP_SECONDS)

    # -- steps a person takes ------------------------------------------------------

    def message(self, to: str) -> Message:
        return self.tenant.last_message(to=to)

    def ask_for_email(self, page: Page, email: str, button: str = "Email me a code") -> None:
        """On the sign-in page: type the address and press ``button``."""
        page.get_by_label("Email address").fill(email)
        page.get_by_role("button", name=button).click()

    def ask_for_sms(self, page: Page, phone: str) -> None:
        page.get_by_label("Mobile number").fill(phone)
        page.get_by_role("button", name="Text me a code").click()

    def enter_code(self, page: Page, code: str, button: str = "Sign in") -> None:
        page.locator("#code").fill(code)
        page.get_by_role("button", name=button, exact=True).click()

    def start_email(self, page: Page, email: str, next: str = "/") -> None:
        """From nothing to the "Enter your code" page for ``email``."""
        page.goto(self.url(f"/_gate/login?next={next}"))
        self.ask_for_email(page, email)
        expect(page.get_by_role("heading", level=1)).to_have_text("Enter your code")

    def sign_in(self, page: Page, email: str, next: str = "/") -> None:
        """A whole email-code sign-in; ends on the app page."""
        self.start_email(page, email, next)
        self.enter_code(page, self.message(email).code or "")
        expect(page.locator("#user")).to_have_text(email)

    def open_link(self, page: Page, email: str) -> None:
        """Ask for a magic link and open it from the outbox; ends on "Continue signing in"."""
        page.goto(self.url("/_gate/login?next=/reports"))
        self.ask_for_email(page, email, "Email me a sign-in link")
        expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
        page.goto(self.message(email).link or "")
        expect(page.get_by_role("heading", level=1)).to_have_text("Continue signing in")
