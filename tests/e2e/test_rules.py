"""Access rules over real HTTP: each policy, each kind of allow entry, methods, hosts,
max_age step-up with the injectable clock, roles from the local tenant, app tokens."""

from __future__ import annotations

import http.client
import json
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from pwless_gate import PasswordlessGate

from ..examples.support import TIMEOUT, serving
from ..helpers import (
    BROWSER,
    CLIENT_ID,
    CLIENT_SECRET,
    FakeClock,
    RecordingApp,
    browser_session,
    gate_config,
    hidden,
    http_sign_in,
)
from ..procs import gunicorn

ROLES = "https://example.com/roles"
PHONE = "+14155550123"
JSON = {"Accept": "application/json"}
#: A machine client of the local tenant, and the API the gate asks it for.
ROBOT, ROBOT_SECRET = "robot", "robot-secret"
AUDIENCE = "https://api.test"

RULES = f"""
[[rules]]
path = "/healthz"
policy = "public"

[[rules]]
path = "/admin"
allow = ["boss@example.com", "ops@example.com"]

[[rules]]
path = "/finance"
methods = ["POST", "PUT", "DELETE"]
hosts = ["tools.example.com"]
allow = ["role:finance", "@example.com"]
max_age = 900

[[rules]]
path = "/old-export"
policy = "deny"

[[rules]]
path = "/by-domain"
allow = ["@example.com"]

[[rules]]
path = "/by-subdomain"
allow = [".example.com"]

[[rules]]
path = "/by-phone"
allow = ["{PHONE}"]

[[rules]]
path = "^/by-role(/.*)?$"
allow = ["role:finance"]

[[rules]]
path = "/payroll"
max_age = 900

[[rules]]
path = "/team"
policy = "signed-in"
"""


@pytest.fixture
def tenant_options() -> dict[str, Any]:
    """The local tenant adds roles as a post-login Action would."""
    return {
        "roles_claim": ROLES,
        "roles": {"fin@other.org": ["finance"], "boss@example.com": ["finance", "board"]},
        "machine_clients": {ROBOT: ROBOT_SECRET},
    }


@contextmanager
def served(
    tenant: Any,
    clock: FakeClock,
    tmp_path: Path,
    rules: str = RULES,
    authorize: Callable[[Any, Any], bool] | None = None,
    **settings: Any,
) -> Iterator[tuple[str, RecordingApp]]:
    path = tmp_path / "rules.toml"
    path.write_text(rules)
    app = RecordingApp()
    config = gate_config(
        tenant.url,
        rules_file=str(path),
        roles_claim=ROLES,
        methods=("email-code", "sms-code"),
        **settings,
    )
    with serving(PasswordlessGate(app, config, clock=clock, authorize=authorize)) as base:
        yield base, app


@pytest.fixture
def gate(tenant: Any, clock: FakeClock, tmp_path: Path) -> Iterator[tuple[str, RecordingApp]]:
    # The host comes from the proxy in front (X-Forwarded-Host), as in production.
    with served(tenant, clock, tmp_path, trusted_proxies="host=1") as running:
        yield running


def sign_in(base: str, tenant: Any, email: str, next: str = "/") -> requests.Session:
    browser, done = http_sign_in(base, tenant, email, next=next)
    assert done.status_code == 303, done.text
    return browser


def sms_sign_in(base: str, tenant: Any, phone: str) -> requests.Session:
    browser = browser_session()
    page = browser.get(f"{base}/_gate/login", timeout=TIMEOUT)
    sent = browser.post(
        f"{base}/_gate/login",
        data={"csrf_token": hidden(page.text, "csrf_token"), "phone_number": phone, "next": "/"},
        timeout=TIMEOUT,
    )
    assert sent.status_code == 200, sent.text
    done = browser.post(
        f"{base}/_gate/verify",
        data={
            "csrf_token": hidden(sent.text, "csrf_token"),
            "tx": hidden(sent.text, "tx"),
            "code": tenant.last_message(to=phone).code,
        },
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert done.status_code == 303, done.text
    return browser


def status(browser: requests.Session | Any, url: str, **kwargs: Any) -> int:
    kwargs.setdefault("allow_redirects", False)
    return int(browser.get(url, timeout=TIMEOUT, **kwargs).status_code)


def test_public_rules_need_no_sign_in(gate: tuple[str, RecordingApp]) -> None:
    base, app = gate
    answer = requests.get(base + "/healthz/live", allow_redirects=False, timeout=TIMEOUT)
    assert answer.status_code == 200
    assert app.calls[-1].get("REMOTE_USER") is None
    # No rule: a sign-in first (a browser's navigation), a challenge for a tool.
    assert status(requests, base + "/reports", headers=BROWSER) == 302
    assert status(requests, base + "/reports") == 401


def test_a_deny_rule_is_closed_to_everyone_without_calling_the_app(
    gate: tuple[str, RecordingApp], tenant: Any
) -> None:
    base, app = gate
    anonymous = requests.get(base + "/old-export/all.csv", allow_redirects=False, timeout=TIMEOUT)
    assert anonymous.status_code == 403
    assert "closed" in anonymous.text
    api = requests.get(base + "/old-export", headers=JSON, timeout=TIMEOUT)
    assert (api.status_code, api.json()) == (403, {"error": "forbidden"})
    boss = sign_in(base, tenant, "boss@example.com")
    assert status(boss, base + "/old-export") == 403
    assert not any(c["PATH_INFO"].startswith("/old-export") for c in app.calls)


def test_signed_in_but_not_allowed_gets_the_403_page_or_json(
    gate: tuple[str, RecordingApp], tenant: Any
) -> None:
    base, app = gate
    assert status(requests, base + "/admin/users", headers=BROWSER) == 302
    ada = sign_in(base, tenant, "ada@example.com")
    called = len(app.calls)
    page = ada.get(base + "/admin/users", timeout=TIMEOUT)
    assert page.status_code == 403
    assert "ada@example.com" in page.text
    assert "closed to you" in page.text
    assert "Sign in as someone else" in page.text
    api = ada.get(base + "/admin/users", headers=JSON, timeout=TIMEOUT)
    assert (api.status_code, api.json()) == (403, {"error": "forbidden"})
    assert len(app.calls) == called
    assert status(ada, base + "/reports") == 200  # no rule: the global allow-lists

    boss = sign_in(base, tenant, "boss@example.com")
    assert status(boss, base + "/admin/users") == 200
    assert app.calls[-1]["REMOTE_USER"] == "boss@example.com"


@pytest.mark.parametrize(
    ("who", "allowed"),
    [
        ("ada@example.com", {"/by-domain"}),
        ("x@eu.example.com", {"/by-subdomain"}),
        ("fin@other.org", {"/by-role", "/by-role/ledger"}),
        (PHONE, {"/by-phone"}),
    ],
    ids=["email-domain", "subdomain", "role", "e164"],
)
def test_each_kind_of_allow_entry(
    gate: tuple[str, RecordingApp], tenant: Any, who: str, allowed: set[str]
) -> None:
    base, _app = gate
    browser = sms_sign_in(base, tenant, who) if who.startswith("+") else sign_in(base, tenant, who)
    for path in ("/by-domain", "/by-subdomain", "/by-phone", "/by-role", "/by-role/ledger"):
        expected = 200 if path in allowed else 403
        assert status(browser, base + path) == expected, (who, path)


def test_methods_and_hosts_limit_a_rule(
    gate: tuple[str, RecordingApp], tenant: Any, clock: FakeClock
) -> None:
    base, _app = gate
    tools = {"X-Forwarded-Host": "tools.example.com"}
    outsider = sign_in(base, tenant, "someone@other.org")
    # GET is not limited: the global lists let anyone signed in read.
    assert status(outsider, base + "/finance/report", headers=tools) == 200
    # A POST on tools.example.com needs the finance role or an example.com address.
    posted = outsider.post(
        base + "/finance/pay", headers=tools, allow_redirects=False, timeout=TIMEOUT
    )
    assert posted.status_code == 403
    # The same POST on another host name is not this rule's.
    other = outsider.post(
        base + "/finance/pay",
        headers={"X-Forwarded-Host": "intranet.example.com:8443"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert other.status_code == 200
    finance = sign_in(base, tenant, "fin@other.org")
    assert (
        finance.post(
            base + "/finance/pay", headers=tools, allow_redirects=False, timeout=TIMEOUT
        ).status_code
        == 200
    )


def raw_request(
    base: str, method: str, path: str, browser: requests.Session, **headers: str
) -> tuple[int, bytes]:
    """``method path`` exactly as written in the request line (``post``, ``%252F``),
    with ``browser``'s cookies: what requests and browsers never send."""
    host, port = urlsplit(base).netloc.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT)
    cookie = "; ".join(f"{c.name}={c.value}" for c in browser.cookies)
    connection.request(method, path, headers={"Cookie": cookie, "Accept": "*/*", **headers})
    answer = connection.getresponse()
    body = answer.read()
    connection.close()
    return answer.status, body


@pytest.mark.parametrize("method", ["post", "Post"])
def test_a_lower_case_method_through_werkzeugs_server_meets_the_methods_rule(
    gate: tuple[str, RecordingApp], tenant: Any, method: str
) -> None:
    """Werkzeug's server (``pwless-gate serve``) passes the method on as sent, and
    Werkzeug, Flask and Django read ``post`` as ``POST``."""
    base, app = gate
    outsider = sign_in(base, tenant, "someone@other.org")
    called = len(app.calls)
    tools = {"X-Forwarded-Host": "tools.example.com"}
    assert raw_request(base, method, "/finance/pay", outsider, **tools)[0] == 403
    assert len(app.calls) == called
    finance = sign_in(base, tenant, "fin@other.org")
    assert raw_request(base, method, "/finance/pay", finance, **tools)[0] == 200
    assert app.calls[-1]["REQUEST_METHOD"] == method  # as sent: the server passed it on


@pytest.mark.slow
def test_gunicorn_a_path_sent_encoded_twice_is_judged_decoded_too(
    tenant: Any, tmp_path: Path
) -> None:
    """gunicorn decodes ``%252F`` to ``%2F`` in ``PATH_INFO``; an app (or a proxy
    behind the gate) that decodes again reads ``/admin/users``."""
    rules = tmp_path / "rules.toml"
    rules.write_text(
        '[[rules]]\npath = "/admin"\nallow = ["boss@example.com"]\n'
        '[[rules]]\npath = "/old-export"\npolicy = "deny"\n'
        '[[rules]]\npath = "/files"\nallow = ["@example.com"]\n'
    )
    env = {
        "PWLESS_GATE_AUTH0_DOMAIN": tenant.url,
        "PWLESS_GATE_CLIENT_ID": CLIENT_ID,
        "PWLESS_GATE_CLIENT_SECRET": CLIENT_SECRET,
        "PWLESS_GATE_SECRET_KEY": "k" * 32,
        "PWLESS_GATE_ALLOWED_DOMAINS": "example.com",
        "PWLESS_GATE_RULES_FILE": str(rules),
        "PWLESS_GATE_STATE_DIR": str(tmp_path / "state"),
    }
    with gunicorn(
        'pwless_gate:gate("tests.apps:whoami")', env=env, log=tmp_path / "gunicorn.log"
    ) as (base, _):
        ada = sign_in(base, tenant, "ada@example.com")
        for path in ("/admin%252Fusers", "/%2561dmin/users", "/old%252Dexport"):
            assert raw_request(base, "GET", path, ada)[0] == 403, path
        fine, body = raw_request(base, "GET", "/files/report%2520q3.pdf", ada)
        assert (fine, json.loads(body)["path"]) == (200, "/files/report%20q3.pdf")
        assert raw_request(base, "GET", "/admin/users", ada)[0] == 403
        boss = sign_in(base, tenant, "boss@example.com")
        # Under /admin both ways: its own rule decides, the path reaches the app as sent.
        team, body = raw_request(base, "GET", "/admin/team%252Fa", boss)
        assert (team, json.loads(body)["path"]) == (200, "/admin/team%2Fa")
        assert raw_request(base, "GET", "/admin%252Fusers", boss)[0] == 403


@pytest.mark.slow
def test_gunicorn_a_rule_for_a_non_ascii_path_decides_it(tenant: Any, tmp_path: Path) -> None:
    """gunicorn puts ``/ärzte`` in ``PATH_INFO`` as its UTF-8 bytes read as latin-1
    (PEP 3333); the rules written as text match it, %-encoded or not."""
    rules = tmp_path / "rules.toml"
    rules.write_text(
        '[[rules]]\npath = "/ärzte"\npolicy = "deny"\n'
        '[[rules]]\npath = "^/tage/[ä-ü]+$"\nallow = ["boss@example.com"]\n'
    )
    env = {
        "PWLESS_GATE_AUTH0_DOMAIN": tenant.url,
        "PWLESS_GATE_CLIENT_ID": CLIENT_ID,
        "PWLESS_GATE_CLIENT_SECRET": CLIENT_SECRET,
        "PWLESS_GATE_SECRET_KEY": "k" * 32,
        "PWLESS_GATE_ALLOWED_DOMAINS": "example.com",
        "PWLESS_GATE_PUBLIC_PATHS": "/öffentlich/",
        "PWLESS_GATE_RULES_FILE": str(rules),
        "PWLESS_GATE_STATE_DIR": str(tmp_path / "state"),
    }
    with gunicorn(
        'pwless_gate:gate("tests.apps:whoami")', env=env, log=tmp_path / "gunicorn.log"
    ) as (base, _):
        ada = sign_in(base, tenant, "ada@example.com")
        for path in ("/%C3%A4rzte", "/%c3%a4rzte/liste", "/tage/%C3%BC%C3%B6"):
            assert raw_request(base, "GET", path, ada)[0] == 403, path
        assert raw_request(base, "GET", "/tage/abc", ada)[0] == 200
        public, body = raw_request(base, "GET", "/%C3%B6ffentlich/a.css", requests.Session())
        assert (public, json.loads(body)["remote_user"]) == (200, None)


def test_roles_from_the_local_tenant_reach_the_app(
    gate: tuple[str, RecordingApp], tenant: Any
) -> None:
    base, app = gate
    boss = sign_in(base, tenant, "boss@example.com")
    assert status(boss, base + "/by-role") == 200
    assert app.calls[-1]["pwless_gate.user"].roles == ("finance", "board")
    assert app.calls[-1]["pwless_gate.claims"][ROLES] == ["finance", "board"]
    ada = sign_in(base, tenant, "ada@example.com")
    assert status(ada, base + "/reports") == 200
    assert app.calls[-1]["pwless_gate.user"].roles == ()


def test_max_age_sends_a_browser_to_sign_in_again_and_back(
    gate: tuple[str, RecordingApp], tenant: Any, clock: FakeClock
) -> None:
    base, _app = gate
    ada = sign_in(base, tenant, "ada@example.com")
    assert status(ada, base + "/payroll/2026?month=5") == 200
    clock.advance(901)
    assert status(ada, base + "/reports") == 200  # only /payroll asks for a recent sign-in
    sent = ada.get(base + "/payroll/2026?month=5", allow_redirects=False, timeout=TIMEOUT)
    assert sent.status_code == 302
    location = urlsplit(sent.headers["Location"])
    assert location.path == "/_gate/login"
    query = parse_qs(location.query)
    assert query == {"next": ["/payroll/2026?month=5"], "fresh": ["900"]}

    page = ada.get(base + sent.headers["Location"], timeout=TIMEOUT)
    assert page.status_code == 200
    assert "signed in as ada@example.com" in page.text
    assert "15 minutes" in page.text
    assert re.search(r'name="email"[^>]*value="ada@example.com"', page.text, re.S)

    api = ada.get(base + "/payroll/2026", headers=JSON, timeout=TIMEOUT)
    assert api.status_code == 401
    assert api.json()["error"] == "login_required"
    # Not a navigation: a challenge, as any 401 has (a page's fetch() gets no Basic).
    tool = ada.get(base + "/payroll/2026", headers={"Accept": "*/*"}, timeout=TIMEOUT)
    assert (tool.status_code, tool.json()["error"]) == (401, "login_required")
    assert tool.headers["WWW-Authenticate"].startswith("Basic realm=")
    fetched = ada.get(
        base + "/payroll/2026",
        headers={"Accept": "*/*", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"},
        timeout=TIMEOUT,
    )
    assert fetched.status_code == 401
    assert fetched.headers["WWW-Authenticate"].startswith("Cookie realm=")

    again, done = http_sign_in(
        base, tenant, "ada@example.com", next="/payroll/2026?month=5", browser=ada
    )
    assert done.status_code == 303
    assert done.headers["Location"] == "/payroll/2026?month=5"
    assert status(again, base + "/payroll/2026?month=5") == 200


def test_signing_in_as_someone_else_during_step_up_ends_the_old_session(
    gate: tuple[str, RecordingApp], tenant: Any, clock: FakeClock
) -> None:
    base, app = gate
    ada = sign_in(base, tenant, "ada@example.com")
    old_cookies = requests.utils.dict_from_cookiejar(ada.cookies)
    clock.advance(901)
    assert status(ada, base + "/payroll") == 302
    _, done = http_sign_in(base, tenant, "bob@example.com", next="/payroll", browser=ada)
    assert done.status_code == 303
    assert status(ada, base + "/payroll") == 200
    assert app.calls[-1]["REMOTE_USER"] == "bob@example.com"
    # Ada's session is over: her old cookie is signed out, not kept alongside.
    stale = browser_session()
    stale.cookies.update(old_cookies)
    assert status(stale, base + "/reports") == 302


def test_app_tokens_follow_the_rules_but_cannot_meet_max_age(
    tenant: Any, clock: FakeClock, tmp_path: Path
) -> None:
    with served(tenant, clock, tmp_path, app_tokens=True) as (base, app):
        ada = sign_in(base, tenant, "ada@example.com")
        page = ada.get(base + "/_gate/tokens", timeout=TIMEOUT)
        made = ada.post(
            base + "/_gate/tokens",
            data={"csrf_token": hidden(page.text, "csrf_token"), "name": "script", "days": "30"},
            timeout=TIMEOUT,
        )
        found = re.search(r'value="(pwg_[0-9A-Za-z]+)"', made.text)
        assert found is not None
        bearer = {"Authorization": f"Bearer {found.group(1)}"}
        assert status(requests, base + "/reports", headers=bearer) == 200
        assert app.calls[-1]["pwless_gate.auth_method"] == "app-token"
        assert status(requests, base + "/by-domain", headers=bearer) == 200
        refused = requests.get(base + "/admin", headers=bearer, timeout=TIMEOUT)
        assert (refused.status_code, refused.json()) == (403, {"error": "forbidden"})
        assert status(requests, base + "/payroll", headers=bearer) == 403
        assert status(requests, base + "/old-export", headers=bearer) == 403


def machine_token(tenant: Any) -> str:
    """A client-credentials token of the local tenant's machine client, for ``AUDIENCE``."""
    answer = requests.post(
        tenant.url + "/oauth/token",
        json={
            "grant_type": "client_credentials",
            "client_id": ROBOT,
            "client_secret": ROBOT_SECRET,
            "audience": AUDIENCE,
        },
        timeout=TIMEOUT,
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def test_machines_follow_the_rules_without_an_email_or_roles(
    tenant: Any, clock: FakeClock, tmp_path: Path
) -> None:
    settings = {"audience": AUDIENCE, "allowed_clients": (ROBOT,)}
    with served(tenant, clock, tmp_path, **settings) as (base, app):
        bearer = {"Authorization": f"Bearer {machine_token(tenant)}"}
        assert status(requests, base + "/team/board", headers=bearer) == 200
        assert app.calls[-1]["REMOTE_USER"] == f"{ROBOT}@clients"
        assert app.calls[-1]["pwless_gate.auth_method"] == "client-credentials"
        assert app.calls[-1]["pwless_gate.user"].roles == ()
        assert status(requests, base + "/reports", headers=bearer) == 200  # no rule
        called = len(app.calls)
        for path in ("/admin", "/by-domain", "/by-role", "/payroll"):
            refused = requests.get(base + path, headers=bearer, timeout=TIMEOUT)
            assert (refused.status_code, refused.json()) == (403, {"error": "forbidden"}), path
        # Closed before any credential is read: a forged token gets the same 403.
        for token in (bearer["Authorization"], "Bearer eyJ.forged.token"):
            closed = requests.get(
                base + "/old-export", headers={"Authorization": token}, timeout=TIMEOUT
            )
            assert closed.status_code == 403
        assert len(app.calls) == called
        # A public path leaves Authorization to the app, valid or not.
        forged = {"Authorization": "Bearer eyJ.forged.token"}
        assert status(requests, base + "/healthz", headers=forged) == 200
        assert status(requests, base + "/team", headers=forged) == 401


def test_a_client_entry_lets_that_machine_in_and_nobody_else(
    tenant: Any, clock: FakeClock, tmp_path: Path
) -> None:
    rules = (
        f"[[rules]]\npath = '/robots'\nallow = ['client:{ROBOT}', 'boss@example.com']\n\n"
        "[[rules]]\npath = '/people'\nallow = ['@example.com']\n"
    )
    settings = {"audience": AUDIENCE, "allowed_clients": (ROBOT,)}
    with served(tenant, clock, tmp_path, rules, **settings) as (base, app):
        bearer = {"Authorization": f"Bearer {machine_token(tenant)}"}
        assert status(requests, base + "/robots/feed", headers=bearer) == 200
        assert app.calls[-1]["REMOTE_USER"] == f"{ROBOT}@clients"
        assert status(requests, base + "/people", headers=bearer) == 403
        ada = sign_in(base, tenant, "ada@example.com")
        assert status(ada, base + "/robots/feed") == 403
        assert status(ada, base + "/people") == 200
        boss = sign_in(base, tenant, "boss@example.com")
        assert status(boss, base + "/robots/feed") == 200


def test_auth_applies_the_rules_to_a_machine(tenant: Any, clock: FakeClock, tmp_path: Path) -> None:
    settings = {"audience": AUDIENCE, "allowed_clients": (ROBOT,), "trusted_proxies": "uri=1"}
    with served(tenant, clock, tmp_path, **settings) as (base, _app):
        token = machine_token(tenant)

        def ask(uri: str, method: str = "GET", auth: str = f"Bearer {token}") -> requests.Response:
            headers = {"Authorization": auth, "X-Original-URI": uri, "X-Original-Method": method}
            return requests.get(base + "/_gate/auth", headers=headers, timeout=TIMEOUT)

        admitted = ask("/team/board?x=1")
        assert admitted.status_code == 202
        assert admitted.headers["X-Auth-Request-User"] == f"{ROBOT}@clients"
        assert ask("/reports").status_code == 202
        for uri in ("/admin/users", "/by-domain", "/payroll", "/old-export"):
            assert ask(uri).status_code == 403, uri
        assert ask("/old-export", auth="Bearer eyJ.forged.token").status_code == 403
        assert ask("/team", auth="Bearer eyJ.forged.token").status_code == 401
        assert ask("/healthz", auth="Bearer eyJ.forged.token").status_code == 202


def test_changing_the_language_keeps_the_step_up_explanation(
    gate: tuple[str, RecordingApp], tenant: Any, clock: FakeClock
) -> None:
    """The step-up page's language switcher shows the same page in the new language:
    why a new sign-in is asked, and as whom."""
    base, _app = gate
    ada = sign_in(base, tenant, "ada@example.com")
    clock.advance(901)
    sent = ada.get(base + "/payroll/2026", allow_redirects=False, timeout=TIMEOUT)
    page = ada.get(base + sent.headers["Location"], timeout=TIMEOUT).text
    switcher = page[page.index('class="languages"') :]
    fields = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', switcher))
    assert fields == {"next": "/payroll/2026", "fresh": "900"}
    switched = ada.get(base + "/_gate/login", params={**fields, "lang": "de"}, timeout=TIMEOUT)
    assert switched.headers["Content-Language"] == "de"
    assert "ada@example.com" in switched.text
    assert "15 Minuten" in switched.text


def test_a_rule_refusal_is_audited_as_the_rules_not_the_hooks(
    gate: tuple[str, RecordingApp], tenant: Any, caplog: pytest.LogCaptureFixture
) -> None:
    base, _app = gate
    ada = sign_in(base, tenant, "ada@example.com")
    with caplog.at_level(logging.INFO, logger="pwless_gate.audit"):
        assert status(ada, base + "/admin/users") == 403
    events = [(r.event, r.reason) for r in caplog.records if r.name == "pwless_gate.audit"]
    assert events == [("refused_by_rule", "rule 2 (/admin)")]


def test_auth_lets_only_plain_gate_routes_through_unasked(
    tenant: Any, clock: FakeClock, tmp_path: Path
) -> None:
    """A proxy that sends the gate's own pages through ``auth_request`` gets 202 for
    them; a path that only starts with the prefix before ``..`` or an escape is
    judged as what it leads to (nginx routes ``/_gate/../admin`` as ``/admin`` and
    passes the raw URI on): no session, no 202."""
    with served(tenant, clock, tmp_path, trusted_proxies="uri=1") as (base, _app):

        def ask(uri: str, browser: Any = requests) -> int:
            headers = {"X-Original-URI": uri, "X-Original-Method": "GET"}
            return status(browser, base + "/_gate/auth", headers=headers)

        assert ask("/_gate/login") == 202
        assert ask("/_gate/static/gate.css") == 202
        # Read two ways, under two rules (none, and /admin's): unclear, refused.
        for uri in ("/_gate/../admin/users", "/_gate/%2e%2e/admin/users", "/_gate%2f..%2fadmin"):
            assert ask(uri) == 403, uri
        # Read two ways, under no rule either way: a session is needed.
        for uri in ("/_gate/../reports", "/_gate/./../x", "/_gate//../x", "/_gate/%252e%252e/x"):
            assert ask(uri) == 401, uri
        ada = sign_in(base, tenant, "ada@example.com")
        assert ask("/_gate/../admin/users", ada) == 403
        assert ask("/_gate/../reports", ada) == 202


@pytest.mark.parametrize(
    "headers", [("X-Original-URI", "X-Original-Method"), ("X-Forwarded-Uri", "X-Forwarded-Method")]
)
def test_auth_refuses_a_send_press_it_cannot_give_the_kept_form(
    tenant: Any, clock: FakeClock, tmp_path: Path, headers: tuple[str, str]
) -> None:
    """A kept form's Send press (a POST naming the marker, escaped or not) gets the kept
    body or does not reach the app; through a proxy the gate never holds the body, so
    ``{prefix}/auth`` refuses it (403, what nginx passes on), signed in or not; a
    browser asked about by Traefik gets the refusal as a page."""
    uri_header, method_header = headers
    with served(tenant, clock, tmp_path, trusted_proxies="uri=1") as (base, _app):
        ada = sign_in(base, tenant, "ada@example.com")

        def ask(browser: Any, method: str, uri: str) -> requests.Response:
            sent = {uri_header: uri, method_header: method}
            return browser.get(base + "/_gate/auth", headers=sent, timeout=TIMEOUT)

        for browser in (ada, requests):
            for uri in ("/notes/save?pwless_gate_send=0123", "/notes?a=1&pwless%5Fgate%5Fsend=1"):
                refused = ask(browser, "POST", uri)
                assert refused.status_code == 403, uri
                if browser is ada and uri_header == "X-Forwarded-Uri":
                    # Traefik hands the answer to the browser: the page, not JSON.
                    assert refused.headers["Content-Type"].startswith("text/html")
                    assert "This form was already sent, or it expired." in refused.text
                else:
                    assert refused.json()["error"] == "form_not_sent"
        assert ask(ada, "POST", "/notes/save?draft=7").status_code == 202
        assert ask(ada, "GET", "/notes/save?pwless_gate_send=0123").status_code == 202
        assert ask(requests, "POST", "/notes/save?draft=7").status_code == 401


def test_auth_sends_a_browser_to_sign_in_only_when_a_forward_auth_proxy_asks(
    tenant: Any, clock: FakeClock, tmp_path: Path
) -> None:
    """A forwardAuth proxy (``X-Forwarded-Uri``) hands the gate's answer to the browser
    as it is: a navigation without a session gets a redirect to the sign-in page, at an
    absolute address (``public_url``, else the loopback host asked). nginx's
    ``auth_request`` (``X-Original-URI``) takes only 2xx, 401 and 403: it gets the 401,
    as do scripts, and a browser when the gate has no address to send it to."""
    forward = {"X-Forwarded-Uri": "/reports?q=1", "X-Forwarded-Method": "GET"}

    def ask(base: str, headers: dict[str, str], client: dict[str, str] = BROWSER) -> Any:
        sent = {**client, **headers}
        return requests.get(f"{base}/_gate/auth", headers=sent, allow_redirects=False, timeout=10)

    with served(tenant, clock, tmp_path, trusted_proxies="uri=1") as (base, app):
        sent = ask(base, forward)
        assert sent.status_code == 302, sent.text
        assert sent.headers["Location"] == f"{base}/_gate/login?next=%2Freports%3Fq%3D1"
        assert sent.headers["Cache-Control"] == "no-store"
        nginx = {"X-Original-URI": "/reports?q=1", "X-Original-Method": "GET"}
        assert ask(base, nginx).status_code == 401
        assert ask(base, forward, client={}).status_code == 401  # python-requests, */*
        assert ask(base, forward, client={"Sec-Fetch-Mode": "cors"}).status_code == 401
        assert ask(base, {**forward, "Host": "tools.example.com"}).status_code == 401
        assert ask(base, {**forward, "X-Forwarded-Method": "PROPFIND"}).status_code == 401
        # A form sent signed out: its body never reaches the gate, and the page says so.
        posted = {**forward, "X-Forwarded-Method": "POST", "Sec-Fetch-Mode": "navigate"}
        lost = ask(base, {**posted, "Sec-Fetch-Site": "same-origin"})
        assert lost.headers["Location"] == (
            f"{base}/_gate/login?next=%2Freports%3Fq%3D1&form=not-kept"
        )
        assert "could not be kept" in requests.get(lost.headers["Location"], timeout=10).text
        assert ask(base, {**posted, "Origin": base}).headers["Location"].endswith("form=not-kept")
        # Another site's form is none of the site's: its sign-in says nothing of it.
        elsewhere = ask(base, {**posted, "Sec-Fetch-Site": "cross-site"})
        assert elsewhere.headers["Location"] == f"{base}/_gate/login?next=%2Freports%3Fq%3D1"
        assert app.calls == []
    with served(
        tenant, clock, tmp_path, trusted_proxies="uri=1", public_url="https://tools.example.com"
    ) as (base, _app):
        sent = ask(base, {**forward, "Host": "tools.example.com"})
        assert sent.headers["Location"] == (
            "https://tools.example.com/_gate/login?next=%2Freports%3Fq%3D1"
        )


def test_auth_answers_a_forward_auth_navigation_with_the_gates_pages(
    tenant: Any, clock: FakeClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Traefik hands a refusal to the browser as it is: for a navigation the gate answers
    with the page it would answer in front of the app (a rule's refusal, a closed part,
    a kept form's Send press), and a rule's ``max_age`` past sends the browser to sign in
    again and back. A script, a page's ``fetch()`` and nginx's ``auth_request`` get
    JSON. Every refusal is audited where it is made."""

    def authorize(environ: Any, user: Any) -> bool:
        return not environ["PATH_INFO"].startswith("/private")

    with served(tenant, clock, tmp_path, authorize=authorize, trusted_proxies="uri=1") as (
        base,
        _app,
    ):
        ada = sign_in(base, tenant, "ada@example.com")

        def ask(uri: str, method: str = "GET", **headers: str) -> Any:
            sent = {"X-Forwarded-Uri": uri, "X-Forwarded-Method": method, **headers}
            return ada.get(base + "/_gate/auth", headers=sent, allow_redirects=False, timeout=10)

        with caplog.at_level(logging.INFO, logger="pwless_gate.audit"):
            refused = ask("/admin/users")
        assert refused.status_code == 403
        assert refused.headers["Content-Type"].startswith("text/html")
        assert "You are signed in as ada@example.com" in refused.text
        events = [(r.event, r.reason) for r in caplog.records if r.name == "pwless_gate.audit"]
        assert events == [("refused_by_rule", "rule 2 (/admin)")]
        fetched = ask("/admin/users", **{"Sec-Fetch-Mode": "cors"})
        assert (fetched.status_code, fetched.json()) == (403, {"error": "forbidden"})
        nginx = {"X-Original-URI": "/admin/users", "X-Original-Method": "GET"}
        asked = ada.get(base + "/_gate/auth", headers=nginx, allow_redirects=False, timeout=10)
        assert (asked.status_code, asked.json()) == (403, {"error": "forbidden"})

        closed = ask("/old-export")
        assert closed.status_code == 403
        assert "This part of the site is closed." in closed.text
        assert ask("/old-export", **{"Sec-Fetch-Mode": "cors"}).json() == {"error": "forbidden"}

        hooked = ask("/private/notes")
        assert hooked.status_code == 403
        assert "You are signed in as ada@example.com" in hooked.text

        pressed = ask("/notes?pwless_gate_send=x", "POST", Origin=base)
        assert pressed.status_code == 403
        assert pressed.headers["Content-Type"].startswith("text/html")
        assert "This form was already sent, or it expired." in pressed.text

        assert ask("/payroll/2026").status_code == 202
        clock.advance(901)
        again = ask("/payroll/2026?y=1")
        assert again.status_code == 302
        assert again.headers["Location"] == (
            f"{base}/_gate/login?next=%2Fpayroll%2F2026%3Fy%3D1&fresh=900"
        )
        page = ada.get(again.headers["Location"], timeout=10).text
        assert "asks for a sign-in within the last 15 minutes" in page
        stale = ask("/payroll/2026", **{"Sec-Fetch-Mode": "cors"})
        assert (stale.status_code, stale.json()["error"]) == (401, "login_required")


def test_auth_refuses_when_the_two_original_headers_disagree(
    tenant: Any, clock: FakeClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Traefik sets ``X-Forwarded-Uri`` and passes the client's other headers on: a
    client's own ``X-Original-URI`` must not choose the request the rules judge."""
    with served(tenant, clock, tmp_path, trusted_proxies="uri=1") as (base, _app):
        ada = sign_in(base, tenant, "ada@example.com")

        def ask(browser: Any, forwarded: str, original: str | None, method: str = "GET") -> int:
            headers = {"X-Forwarded-Uri": forwarded, "X-Forwarded-Method": method}
            if original is not None:
                headers.update({"X-Original-URI": original, "X-Original-Method": "GET"})
            return status(browser, base + "/_gate/auth", headers=headers)

        assert ask(requests, "/admin/users", None) == 401
        assert ask(ada, "/admin/users", None) == 403
        assert ask(ada, "/old-export", None) == 403
        with caplog.at_level(logging.WARNING, logger="pwless_gate.views"):
            assert ask(requests, "/admin/users", "/healthz") == 403
            assert ask(ada, "/admin/users", "/team") == 403
            assert ask(ada, "/old-export", "/team") == 403
            assert ask(ada, "/team?a=1", "/team?a=2") == 403
            assert ask(ada, "/team", "/team", method="DELETE") == 403
        assert "name different requests" in caplog.text
        # The same request named twice is one request.
        assert ask(ada, "/team?a=1", "/team?a=1") == 202
        assert ask(requests, "/healthz", "/healthz") == 202


def test_auth_asks_the_authorize_hook_about_the_original_request(
    tenant: Any, clock: FakeClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """``authorize`` is asked on ``/_gate/auth`` as on the app's paths, with the
    original request's method, path and query in its environ."""
    asked: list[tuple[str, str, str, str]] = []

    def authorize(environ: Any, user: Any) -> bool:
        asked.append(
            (environ["REQUEST_METHOD"], environ["PATH_INFO"], environ["QUERY_STRING"], user.email)
        )
        return not environ["PATH_INFO"].startswith("/private")

    path = tmp_path / "rules.toml"
    path.write_text(RULES)
    app = RecordingApp()
    config = gate_config(
        tenant.url, rules_file=str(path), roles_claim=ROLES, trusted_proxies="uri=1"
    )
    with serving(PasswordlessGate(app, config, clock=clock, authorize=authorize)) as base:
        ada = sign_in(base, tenant, "ada@example.com")

        def ask(uri: str, method: str = "GET") -> int:
            headers = {"X-Original-URI": uri, "X-Original-Method": method}
            return status(ada, base + "/_gate/auth", headers=headers)

        asked.clear()
        with caplog.at_level(logging.INFO, logger="pwless_gate.audit"):
            assert ask("/private/notes?q=1", "POST") == 403
            # nginx's example asks again with the original request, whose answer audits
            # the refusal: not here too.
            assert not [r for r in caplog.records if r.name == "pwless_gate.audit"]
            # Traefik hands this answer to the client: the refusal is audited here.
            forwarded = {"X-Forwarded-Uri": "/private/notes", "X-Forwarded-Method": "GET"}
            assert status(ada, base + "/_gate/auth", headers=forwarded) == 403
        assert asked == [
            ("POST", "/private/notes", "q=1", "ada@example.com"),
            ("GET", "/private/notes", "", "ada@example.com"),
        ]
        events = [r.event for r in caplog.records if r.name == "pwless_gate.audit"]
        assert events == ["refused_by_authorize"]
        assert ask("/reports") == 202
        assert asked[-1] == ("GET", "/reports", "", "ada@example.com")
        # The app's own paths answer alike.
        assert status(ada, base + "/private/notes") == 403
        assert status(ada, base + "/reports") == 200


def test_auth_judges_a_path_with_a_scheme_inside_as_sent(
    tenant: Any, clock: FakeClock, tmp_path: Path
) -> None:
    """Only an absolute-form URI (``http://host/path``) loses its scheme and host:
    ``/admin/..://../users`` is a path (``..:`` is a segment, which the ``..`` after
    ``//`` takes back), which nginx routes as ``/admin/users`` and passes on as sent;
    it was judged as ``/users``."""
    asked: list[str] = []

    def authorize(environ: Any, user: Any) -> bool:
        asked.append(environ["PATH_INFO"])
        return not environ["PATH_INFO"].startswith("/private")

    path = tmp_path / "rules.toml"
    path.write_text(RULES)
    config = gate_config(
        tenant.url, rules_file=str(path), roles_claim=ROLES, trusted_proxies="uri=1"
    )
    gate = PasswordlessGate(RecordingApp(), config, clock=clock, authorize=authorize)
    with serving(gate) as base:

        def ask(uri: str, browser: Any = requests) -> int:
            headers = {"X-Original-URI": uri, "X-Original-Method": "GET"}
            return status(browser, base + "/_gate/auth", headers=headers)

        ada = sign_in(base, tenant, "ada@example.com")
        for uri in ("/admin/..://../users", "/old-export/..://../team", "/admin/x://y/../../z"):
            assert ask(uri, ada) == 403, uri
        assert ask("/admin/..://../healthz") == 401  # /admin/healthz, not the public /healthz
        # An absolute URI is read as its path.
        assert ask("http://tools.example.com/admin/users", ada) == 403
        assert ask("https://tools.example.com/healthz?x=1") == 202
        assert ask("HTTP://tools.example.com/reports", ada) == 202
        # The hook reads the path as sent too, as the app would be given it.
        asked.clear()
        assert ask("/private/..://../reports", ada) == 403
        assert asked == ["/private/..://../reports"]


def test_auth_keeps_a_public_path_public_for_someone_the_hook_refuses(
    tenant: Any, clock: FakeClock, tmp_path: Path
) -> None:
    """As on the app's paths: a signed-in person ``authorize`` refuses on a public
    rule's path is let through as anyone would be (202, without the user's headers)."""

    def authorize(environ: Any, user: Any) -> bool:
        return not environ["PATH_INFO"].startswith("/healthz/hooked")

    path = tmp_path / "rules.toml"
    path.write_text(RULES)
    app = RecordingApp()
    config = gate_config(
        tenant.url, rules_file=str(path), roles_claim=ROLES, trusted_proxies="uri=1"
    )
    with serving(PasswordlessGate(app, config, clock=clock, authorize=authorize)) as base:
        ada = sign_in(base, tenant, "ada@example.com")
        # The app's own path: forwarded, anonymously.
        assert status(ada, base + "/healthz/hooked") == 200
        assert app.calls[-1].get("REMOTE_USER") is None
        headers = {"X-Original-URI": "/healthz/hooked", "X-Original-Method": "GET"}
        for browser in (requests, ada):
            answer = browser.get(base + "/_gate/auth", headers=headers, timeout=TIMEOUT)
            assert answer.status_code == 202
            assert "X-Auth-Request-User" not in answer.headers
        # Off the public path the refusal stands; on it, the hook's yes gives the user.
        headers["X-Original-URI"] = "/reports/hooked"
        assert status(ada, base + "/_gate/auth", headers=headers) == 202
        headers["X-Original-URI"] = "/healthz/live"
        answer = ada.get(base + "/_gate/auth", headers=headers, timeout=TIMEOUT)
        assert answer.headers["X-Auth-Request-User"] == "ada@example.com"


UNICODE_RULES = """
[[rules]]
path = "/ärzte"
policy = "deny"

[[rules]]
path = "/öffentlich"
policy = "public"
"""


@pytest.mark.parametrize(
    ("closed", "public"),
    [
        pytest.param("/ärzte".encode(), "/öffentlich/a".encode(), id="raw-utf-8"),
        pytest.param(b"/%C3%A4rzte/liste", b"/%C3%B6ffentlich", id="percent-encoded"),
        pytest.param(
            b"http://tools.example.com/%c3%a4rzte",
            "http://tools.example.com/öffentlich".encode(),
            id="absolute",
        ),
    ],
)
def test_auth_reads_non_ascii_paths_as_a_wsgi_server_would(
    tenant: Any, clock: FakeClock, tmp_path: Path, closed: bytes, public: bytes
) -> None:
    """nginx passes ``$request_uri`` as the client sent it, raw UTF-8 or %-encoded:
    either is read as the ``PATH_INFO`` a WSGI server builds, so the rules for
    ``/ärzte`` and ``/öffentlich`` decide."""
    with served(tenant, clock, tmp_path, UNICODE_RULES, trusted_proxies="uri=1") as (base, _):
        ada = sign_in(base, tenant, "ada@example.com")
        headers = {"X-Original-URI": closed, "X-Original-Method": b"GET"}
        assert status(ada, base + "/_gate/auth", headers=headers) == 403
        headers = {"X-Original-URI": public, "X-Original-Method": b"GET"}
        assert status(requests, base + "/_gate/auth", headers=headers) == 202


def test_a_machine_is_answered_in_json_when_the_tenants_keys_are_unavailable(
    tenant: Any, clock: FakeClock, tmp_path: Path
) -> None:
    """curl (``Accept: */*``) with a bearer token gets JSON, whatever goes wrong: a 503
    when the tenant's keys cannot be fetched, on the app's paths and on ``/auth``."""
    settings = {"audience": AUDIENCE, "allowed_clients": (ROBOT,), "trusted_proxies": "uri=1"}
    with served(tenant, clock, tmp_path, **settings) as (base, app):
        token = machine_token(tenant)
        tenant.app.add_fault("/.well-known/jwks.json", "500", times=0)
        try:
            headers = {
                "Authorization": f"Bearer {token}",
                "Accept": "*/*",
                "X-Original-URI": "/reports",  # for /_gate/auth
            }
            for path in ("/reports", "/_gate/auth"):
                answer = requests.get(base + path, headers=headers, timeout=TIMEOUT)
                assert answer.status_code == 503, (path, answer.text)
                assert answer.headers["Content-Type"] == "application/json", path
                assert answer.json()["error"] == "Sign-in is unavailable"
                assert "Retry-After" in answer.headers
        finally:
            tenant.app.clear_faults()
        assert app.calls == []
