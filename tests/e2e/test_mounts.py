"""Where the gate is mounted, as the browser sees it: a non-ASCII ``SCRIPT_NAME``, a
forwarded prefix that a client, not a proxy, wrote, absolute URLs under a mount that
``public_url`` does not name, and ``{prefix}/auth`` judging a mounted app's paths."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from pwless_gate import PasswordlessGate
from pwless_gate.testing import session_cookie

from ..examples.support import TIMEOUT, serving
from ..helpers import (
    BROWSER,
    GateClient,
    RecordingApp,
    ToolClient,
    browser_session,
    gate_config,
    hidden,
    http_sign_in,
)

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


# -- public_url names the origin, the mount is the browser's --------------------------

SITE = "https://tools.acme.example"


def test_absolute_urls_carry_the_mount_public_url_leaves_out(tenant: Any) -> None:
    """``public_url`` without a path (as the README writes it), the gate mounted at
    /tools: the magic link comes back under /tools, and so do the federated logout's
    ``returnTo`` and ``sessions_url``."""
    tenant.app.allow_callback(SITE + "/tools/_gate/callback")
    tenant.app.allow_logout_url(SITE + "/tools/_gate/logout")
    app = RecordingApp()
    gate = PasswordlessGate(
        app,
        gate_config(tenant.url, methods=("email-link",), public_url=SITE, federated_logout=True),
    )
    browser = GateClient(DispatcherMiddleware(nothing_here, {"/tools": gate}))
    same_site = {"Origin": SITE}

    page = browser.get("/tools/_gate/login?next=/tools/reports", base_url=SITE)
    assert page.status_code == 200
    form = {
        "csrf_token": hidden(page.get_data(as_text=True), "csrf_token"),
        "email": "ada@example.com",
        "next": "/tools/reports",
        "send": "link",
    }
    sent = browser.post("/tools/_gate/login", base_url=SITE, data=form, headers=same_site)
    assert sent.status_code == 200, sent.get_data(as_text=True)
    link = tenant.last_message(to="ada@example.com").link
    assert parse_qs(urlsplit(link).query)["redirect_uri"] == [SITE + "/tools/_gate/callback"]

    back = requests.get(link, allow_redirects=False, timeout=TIMEOUT)
    assert back.status_code == 302, back.text
    landing = urlsplit(back.headers["Location"])
    assert f"{landing.scheme}://{landing.netloc}{landing.path}" == SITE + "/tools/_gate/callback"
    page = browser.get(f"{landing.path}?{landing.query}", base_url=SITE)
    assert page.status_code == 200, page.get_data(as_text=True)
    text = page.get_data(as_text=True)
    form = {name: hidden(text, name) for name in ("csrf_token", "code", "state")}
    done = browser.post("/tools/_gate/callback", base_url=SITE, data=form, headers=same_site)
    assert done.status_code == 303, done.get_data(as_text=True)
    assert done.headers["Location"] == "/tools/reports"
    assert browser.get("/tools/reports", base_url=SITE).status_code == 200
    assert app.calls[-1]["REMOTE_USER"] == "ada@example.com"

    info = browser.get("/tools/_gate/userinfo", base_url=SITE).get_json()
    assert info["sessions_url"] == SITE + "/tools/_gate/sessions"

    page = browser.get("/tools/_gate/logout", base_url=SITE)
    out = browser.post(
        "/tools/_gate/logout",
        base_url=SITE,
        data={"csrf_token": hidden(page.get_data(as_text=True), "csrf_token")},
        headers=same_site,
    )
    assert out.status_code == 303
    return_to = parse_qs(urlsplit(out.headers["Location"]).query)["returnTo"]
    assert return_to == [SITE + "/tools/_gate/logout"]


def test_a_gate_asked_under_another_mount_than_public_url_names_is_refused(
    tenant: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """``public_url``'s path is the mount people use: asked under another one, a link
    would lead where the gate is not, so the gate's pages answer 400 and say why."""
    gate = PasswordlessGate(
        RecordingApp(), gate_config(tenant.url, public_url=SITE + "/tools", trusted_proxies=1)
    )
    caplog.set_level(logging.WARNING, logger="pwless_gate.views")
    browser = GateClient(DispatcherMiddleware(nothing_here, {"/a/b": gate}))
    answer = browser.get("/a/b/_gate/login", base_url=SITE)
    assert answer.status_code == 400
    assert "not configured" in answer.get_data(as_text=True)
    [warning] = [r for r in caplog.records if "PWLESS_GATE_PUBLIC_URL" in r.getMessage()]
    assert warning.levelno == logging.WARNING
    assert "'/a/b'" in warning.getMessage()
    assert "X-Forwarded-Prefix" in warning.getMessage()
    sent = len(tenant.outbox())
    assert browser.get("/a/b/_gate/callback?code=x&state=y", base_url=SITE).status_code == 400
    assert len(tenant.outbox()) == sent

    # The mount public_url names, from the server or from a trusted proxy: served.
    assert (
        GateClient(DispatcherMiddleware(nothing_here, {"/tools": gate}))
        .get("/tools/_gate/login", base_url=SITE)
        .status_code
        == 200
    )
    proxied = GateClient(gate).get(
        "/_gate/login", base_url=SITE, headers={**BROWSER, "X-Forwarded-Prefix": "/tools"}
    )
    assert proxied.status_code == 200
    assert 'action="/tools/_gate/login"' in proxied.get_data(as_text=True)


# -- {prefix}/auth judges the path the mounted app sees ------------------------------


@pytest.mark.parametrize(
    ("uri", "status"),
    [
        ("/tools/admin", 403),
        ("/tools/admin/users?x=1", 403),
        ("/tools/reports", 202),
        ("/tools", 202),
        ("/tools/../tools/admin", 403),  # /admin inside the mount, once resolved
        ("/admin", 403),  # outside the mount: judged as sent
        ("/elsewhere", 202),
    ],
    ids=["rule", "below-rule", "other", "mount-itself", "dot-dot", "outside", "outside-other"],
)
def test_auth_judges_a_mounted_apps_path_as_the_gate_does(
    tenant: Any, tmp_path: Any, uri: str, status: int
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rules]]\npath = "/admin"\nallow = ["boss@example.com"]\n')
    gate = PasswordlessGate(
        RecordingApp(), gate_config(tenant.url, rules_file=str(rules), trusted_proxies="1")
    )
    tool = ToolClient(DispatcherMiddleware(nothing_here, {"/tools": gate}), use_cookies=False)
    cookie = {"Cookie": session_cookie(gate, email="ada@example.com", mount="/tools")}
    assert tool.get("/tools/admin", headers=cookie).status_code == 403  # the middleware's word
    answer = tool.get(
        "/tools/_gate/auth",
        headers={**cookie, "X-Original-URI": uri, "X-Original-Method": "GET"},
    )
    assert answer.status_code == status


@pytest.mark.parametrize(
    ("uri", "status"),
    [("/tools/_gate/login", 202), ("/_gate/anything", 401), ("/tools/_gate/../admin", 403)],
    ids=["own-page", "outside-the-mount", "dot-dot"],
)
def test_auth_lets_through_the_gate_pages_under_its_mount_only(
    tenant: Any, tmp_path: Any, uri: str, status: int
) -> None:
    """Without a session: the gate's own pages pass, another app's ``/_gate/`` does not."""
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rules]]\npath = "/admin"\nallow = ["boss@example.com"]\n')
    gate = PasswordlessGate(
        RecordingApp(), gate_config(tenant.url, rules_file=str(rules), trusted_proxies="1")
    )
    tool = ToolClient(DispatcherMiddleware(nothing_here, {"/tools": gate}), use_cookies=False)
    answer = tool.get(
        "/tools/_gate/auth", headers={"X-Original-URI": uri, "X-Original-Method": "GET"}
    )
    assert answer.status_code == status
