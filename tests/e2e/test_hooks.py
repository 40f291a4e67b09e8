"""The application's hooks (authorize, on_login, on_logout), each over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from pwless_gate import PasswordlessGate, User

from ..examples.support import TIMEOUT, serving
from ..helpers import (
    FakeClock,
    RecordingApp,
    browser_session,
    gate_config,
    hidden,
    http_sign_in,
    server_log,
)


@contextmanager
def served_gate(tenant: Any, clock: FakeClock, **hooks: Any) -> Iterator[tuple[str, RecordingApp]]:
    app = RecordingApp()
    gate = PasswordlessGate(app, gate_config(tenant.url), clock=clock, **hooks)
    with serving(gate) as base:
        yield base, app


def only_boss_in_admin(environ: Mapping[str, Any], user: User) -> bool:
    return not environ["PATH_INFO"].startswith("/admin") or user.email == "boss@example.com"


def test_authorize_refuses_with_a_403_page_json_and_no_app_call(
    tenant: Any, clock: FakeClock
) -> None:
    with served_gate(tenant, clock, authorize=only_boss_in_admin) as (base, app):
        ada, done = http_sign_in(base, tenant, "ada@example.com")
        assert done.status_code == 303
        assert ada.get(base + "/reports", timeout=TIMEOUT).status_code == 200
        called = len(app.calls)

        page = ada.get(base + "/admin/users", timeout=TIMEOUT)
        assert page.status_code == 403
        assert "text/html" in page.headers["Content-Type"]
        assert "ada@example.com" in page.text
        assert "Sign in as someone else" in page.text
        assert hidden(page.text, "next") == "/_gate/login"

        api = ada.get(
            base + "/admin/users", headers={"Accept": "application/json"}, timeout=TIMEOUT
        )
        assert api.status_code == 403
        assert api.json() == {"error": "forbidden"}
        assert len(app.calls) == called

        boss, _ = http_sign_in(base, tenant, "boss@example.com")
        assert boss.get(base + "/admin/users", timeout=TIMEOUT).status_code == 200
        assert app.calls[-1]["REMOTE_USER"] == "boss@example.com"


def test_the_switch_account_form_signs_out_and_offers_sign_in(
    tenant: Any, clock: FakeClock
) -> None:
    with served_gate(tenant, clock, authorize=only_boss_in_admin) as (base, _app):
        ada, _ = http_sign_in(base, tenant, "ada@example.com")
        page = ada.get(base + "/admin", timeout=TIMEOUT)
        switched = ada.post(
            base + "/_gate/logout",
            data={"csrf_token": hidden(page.text, "csrf_token"), "next": "/_gate/login"},
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        assert switched.status_code == 303
        assert switched.headers["Location"] == "/_gate/login"
        assert ada.get(base + "/reports", allow_redirects=False, timeout=TIMEOUT).status_code == 302


def test_an_authorize_that_raises_fails_closed(tenant: Any, clock: FakeClock) -> None:
    def broken(environ: Mapping[str, Any], user: User) -> bool:
        raise RuntimeError("bug in the app's hook")

    with served_gate(tenant, clock, authorize=broken) as (base, app):
        browser, _ = http_sign_in(base, tenant, "ada@example.com")
        answer = browser.get(base + "/reports", timeout=TIMEOUT)
        assert answer.status_code == 500
        assert "Traceback" not in answer.text
        assert "bug in the app" not in answer.text
        assert app.calls == []


def test_the_path_of_a_request_a_hook_failed_on_is_logged_on_one_line(
    tenant: Any, clock: FakeClock
) -> None:
    def broken(environ: Mapping[str, Any], user: User) -> bool:
        raise RuntimeError("bug in the app's hook")

    forged = "/x%0AINFO%20pwless_gate.audit:%20login_succeeded%20ip=10.0.0.9%1B[31m"
    with served_gate(tenant, clock, authorize=broken) as (base, _):
        browser, _ = http_sign_in(base, tenant, "ada@example.com")
        with server_log() as log:
            assert browser.get(base + forged, timeout=TIMEOUT).status_code == 500
    lines = log.getvalue().splitlines()
    failed = [line for line in lines if "unexpected error" in line]
    assert failed == [
        "ERROR pwless_gate.views: unexpected error in GET "
        "'/x\\nINFO pwless_gate.audit: login_succeeded ip=10.0.0.9\\x1b[31m'"
    ]
    assert not any(line.startswith("INFO pwless_gate.audit: login_succeeded") for line in lines)
    assert "\x1b" not in log.getvalue()


def test_on_login_sees_the_verified_user_once(tenant: Any, clock: FakeClock) -> None:
    logins: list[tuple[str | None, str, str]] = []

    def on_login(user: User, environ: Mapping[str, Any]) -> None:
        logins.append((user.email, user.sub, environ["PATH_INFO"]))

    with served_gate(tenant, clock, on_login=on_login) as (base, _app):
        assert logins == []
        browser, done = http_sign_in(base, tenant, "Ada@Example.com")
        assert done.status_code == 303
        assert len(logins) == 1
        email, sub, path = logins[0]
        assert email == "ada@example.com"
        assert sub.startswith("email|")
        assert path == "/_gate/verify"
        browser.get(base + "/reports", timeout=TIMEOUT)
        assert len(logins) == 1  # not per request


def test_an_on_login_that_raises_leaves_no_session(tenant: Any, clock: FakeClock) -> None:
    def on_login(user: User, environ: Mapping[str, Any]) -> None:
        raise RuntimeError("the user table is down")

    with served_gate(tenant, clock, on_login=on_login) as (base, app):
        browser, done = http_sign_in(base, tenant, "ada@example.com")
        assert done.status_code == 500
        assert "Traceback" not in done.text
        assert not any("session" in name for name in browser.cookies.get_dict())
        again = browser.get(base + "/reports", allow_redirects=False, timeout=TIMEOUT)
        assert again.status_code == 302
        assert app.calls == []


def test_on_logout_is_called_for_the_person_signing_out(tenant: Any, clock: FakeClock) -> None:
    logouts: list[str | None] = []

    def on_logout(user: User, environ: Mapping[str, Any]) -> None:
        logouts.append(user.email)

    with served_gate(tenant, clock, on_logout=on_logout) as (base, _app):
        nobody = browser_session()
        page = nobody.get(base + "/_gate/logout", timeout=TIMEOUT)
        csrf = hidden(nobody.get(base + "/_gate/login", timeout=TIMEOUT).text, "csrf_token")
        assert (
            nobody.post(
                base + "/_gate/logout", data={"csrf_token": csrf}, timeout=TIMEOUT
            ).status_code
            == 200
        )
        assert page.status_code == 200
        assert logouts == []  # nobody was signed in

        browser, _ = http_sign_in(base, tenant, "ada@example.com")
        confirm = browser.get(base + "/_gate/logout", timeout=TIMEOUT)
        refused = browser.post(base + "/_gate/logout", data={}, timeout=TIMEOUT)
        assert refused.status_code == 403
        assert logouts == []  # a refused form signs nobody out
        done = browser.post(
            base + "/_gate/logout",
            data={"csrf_token": hidden(confirm.text, "csrf_token")},
            timeout=TIMEOUT,
        )
        assert done.status_code == 200
        assert logouts == ["ada@example.com"]
