"""Where the gate is mounted, as the browser sees it: a non-ASCII ``SCRIPT_NAME``, and a
forwarded prefix that a client, not a proxy, wrote."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from pwless_gate import PasswordlessGate

from ..examples.support import TIMEOUT, serving
from ..helpers import BROWSER, RecordingApp, browser_session, gate_config, hidden, http_sign_in

#: ``/té`` as a WSGI server passes it (PEP 3333: the UTF-8 bytes as latin-1 characters),
#: and as the browser writes it.
MOUNT_WSGI = "/t\xc3\xa9"
MOUNT_URL = "/t%C3%A9"


def nothing_here(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not here"]


def test_a_gate_mounted_at_a_non_ascii_path_signs_in(tenant: Any) -> None:
    app = RecordingApp()
    gate = PasswordlessGate(app, gate_config(tenant.url))
    with serving(DispatcherMiddleware(nothing_here, {MOUNT_WSGI: gate})) as base:
        browser = browser_session()
        first = browser.get(base + "/té/reports?x=1", allow_redirects=False, timeout=TIMEOUT)
        assert first.status_code == 302
        location = urlsplit(first.headers["Location"])
        assert location.path == MOUNT_URL + "/_gate/login"
        assert parse_qs(location.query)["next"] == [MOUNT_URL + "/reports?x=1"]

        page = browser.get(urljoin(base, first.headers["Location"]), timeout=TIMEOUT)
        assert f'action="{MOUNT_URL}/_gate/login"' in page.text
        browser_cookie = page.raw.headers.getlist("Set-Cookie")
        assert browser_cookie
        assert all(f"Path={MOUNT_URL};" in c for c in browser_cookie)

        # requests keeps each cookie to its Path, as a browser does: the mount must match.
        browser, done = http_sign_in(
            base + MOUNT_URL,
            tenant,
            "ada@example.com",
            next=MOUNT_URL + "/reports?x=1",
            browser=browser,
        )
        assert done.status_code == 303, done.text
        assert done.headers["Location"] == MOUNT_URL + "/reports?x=1"
        assert all(f"Path={MOUNT_URL};" in c for c in done.raw.headers.getlist("Set-Cookie"))
        landed = browser.get(urljoin(base, done.headers["Location"]), timeout=TIMEOUT)
        assert landed.status_code == 200, landed.text
        assert app.calls[-1]["REMOTE_USER"] == "ada@example.com"
        assert app.calls[-1]["SCRIPT_NAME"] == MOUNT_WSGI
        assert app.calls[-1]["PATH_INFO"] == "/reports"


@pytest.mark.parametrize(
    "prefix",
    ["/\t/evil.example", "/\\evil.example", "//evil.example", "/%2F%2Fevil.example", "/a/../.."],
    ids=["tab", "backslash", "double-slash", "escaped-slashes", "dot-dot"],
)
def test_a_forwarded_prefix_a_client_wrote_cannot_lead_off_the_site(
    tenant: Any, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    # trusted_proxies=1 trusts X-Forwarded-Prefix too; a proxy that does not set it
    # passes on what the client sent.
    gate = PasswordlessGate(RecordingApp(), gate_config(tenant.url, trusted_proxies="1"))
    caplog.set_level(logging.WARNING, logger="pwless_gate.proxies")
    with serving(gate) as base:
        for _ in range(2):
            answer = requests.get(
                base + "/reports",
                headers={**BROWSER, "X-Forwarded-Prefix": prefix},
                allow_redirects=False,
                timeout=TIMEOUT,
            )
            assert answer.status_code == 302
            location = answer.headers["Location"]
            assert location == "/_gate/login?next=%2Freports"
            landing = urlsplit(urljoin(base + "/reports", location))
            assert landing.netloc == urlsplit(base).netloc
        page = requests.get(
            base + "/_gate/login",
            headers={**BROWSER, "X-Forwarded-Prefix": prefix},
            timeout=TIMEOUT,
        )
        assert 'action="/_gate/login"' in page.text
        assert all("Path=/;" in c for c in page.raw.headers.getlist("Set-Cookie"))
        assert hidden(page.text, "csrf_token")
    refused = [r for r in caplog.records if "X-Forwarded-Prefix" in r.getMessage()]
    assert len(refused) == 1  # once, however often a client sends it
    assert refused[0].levelno == logging.WARNING
