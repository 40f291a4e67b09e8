"""Throttles, the end user's IP, identity hygiene and cookies."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from ..helpers import FakeClock, Harness, hidden, wrong_code

OFF = {
    "throttle_send_per_ip": "off",
    "throttle_send_per_identifier": "off",
    "throttle_verify_per_login": "off",
    "throttle_verify_per_identifier": "off",
}


def test_send_per_identifier(make_harness: Any, clock: FakeClock) -> None:
    harness = make_harness(throttle_send_per_identifier="3/600")
    for _ in range(3):
        assert harness.start("ada@example.com").status_code == 200
    answer = harness.start("ada@example.com")
    assert answer.status_code == 429
    wait = int(answer.headers["Retry-After"])
    assert 1 <= wait <= 1200  # a sliding window: at most two periods
    assert "Too many" in answer.get_data(as_text=True)
    assert len(harness.tenant.outbox()) == 3
    assert harness.start("bob@example.com").status_code == 200
    clock.advance(wait - 2)
    assert harness.start("ada@example.com").status_code == 429
    clock.advance(2)
    assert harness.start("ada@example.com").status_code == 200


def test_refused_identifiers_are_throttled_alike(make_harness: Any) -> None:
    harness = make_harness(throttle_send_per_identifier="2/600", allowed_domains=("example.com",))
    for email in ("ada@example.com", "eve@elsewhere.org"):
        statuses = [harness.start(email).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]


def test_send_per_ip(make_harness: Any) -> None:
    harness = make_harness(throttle_send_per_ip="4/3600")
    statuses = [harness.start(f"u{i}@example.com").status_code for i in range(5)]
    assert statuses == [200, 200, 200, 200, 429]
    other = harness.new_browser()
    page = other.get("/_gate/login", environ_overrides={"REMOTE_ADDR": "127.0.0.9"})
    sent = other.post(
        "/_gate/login",
        data={
            "csrf_token": hidden(page.get_data(as_text=True), "csrf_token"),
            "email": "x@example.com",
        },
        environ_overrides={"REMOTE_ADDR": "127.0.0.9"},
    )
    assert sent.status_code == 200


def test_an_ipv4_client_is_one_address_through_either_socket(
    make_harness: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A dual-stack socket names an IPv4 client ``::ffff:127.0.0.9``: the same address as
    through an IPv4 socket, for the per-IP throttle and in the audit log."""
    harness = make_harness(throttle_send_per_ip="2/3600")

    def start(remote_addr: str, email: str) -> int:
        browser = harness.new_browser()
        client = {"REMOTE_ADDR": remote_addr}
        page = browser.get("/_gate/login", environ_overrides=client)
        sent = browser.post(
            "/_gate/login",
            data={"csrf_token": hidden(page.get_data(as_text=True), "csrf_token"), "email": email},
            environ_overrides=client,
        )
        return int(sent.status_code)

    with caplog.at_level(logging.INFO, logger="pwless_gate.audit"):
        assert start("127.0.0.9", "a@example.com") == 200
        assert start("::ffff:127.0.0.9", "b@example.com") == 200
        assert start("::FFFF:127.0.0.9", "c@example.com") == 429  # the same IP's third
    assert start("::1", "d@example.com") == 200  # an IPv6 client is another
    ips = {r.ip for r in caplog.records if r.name == "pwless_gate.audit"}  # type: ignore[attr-defined]
    assert ips == {"127.0.0.9"}


def test_verify_per_login(make_harness: Any) -> None:
    harness = make_harness(throttle_verify_per_login="2/900")
    started = harness.start("cy@example.com")
    code = harness.tenant.last_message().code
    wrong = wrong_code(code)
    page = harness.submit_code(started, wrong)
    assert page.status_code == 400
    page = harness.submit_code(page, wrong)
    assert page.status_code == 400
    blocked = harness.submit_code(page, code)
    assert blocked.status_code == 429
    assert "Retry-After" in blocked.headers


def test_verify_per_identifier_across_logins(make_harness: Any) -> None:
    harness = make_harness(
        throttle_verify_per_identifier="3/900", throttle_send_per_identifier="off"
    )
    statuses = []
    for _ in range(2):
        started = harness.start("dee@example.com")
        code = harness.tenant.last_message().code
        wrong = wrong_code(code)
        statuses.append(harness.submit_code(started, wrong).status_code)
        statuses.append(harness.submit_code(started, wrong).status_code)
    assert statuses == [400, 400, 400, 429]


def test_throttle_is_audited(make_harness: Any, caplog: pytest.LogCaptureFixture) -> None:
    harness = make_harness(throttle_send_per_identifier="1/600")
    with caplog.at_level(logging.INFO, logger="pwless_gate.audit"):
        harness.start("eve@example.com")
        harness.start("eve@example.com")
    events = [r.event for r in caplog.records if r.name == "pwless_gate.audit"]  # type: ignore[attr-defined]
    assert "throttled" in events


def test_auth0_rate_limit_is_passed_on(harness: Harness) -> None:
    harness.tenant.app.add_fault("/passwordless/start", "429")
    answer = harness.start("fay@example.com")
    assert answer.status_code == 429
    assert int(answer.headers["Retry-After"]) >= 1
    assert "Too many" in answer.get_data(as_text=True)


def spoofed_starts(harness: Harness, count: int) -> list[int]:
    statuses = []
    for i in range(count):
        page = harness.client.get("/_gate/login").get_data(as_text=True)
        answer = harness.client.post(
            "/_gate/login",
            data={"csrf_token": hidden(page, "csrf_token"), "email": f"s{i}@example.com"},
            headers={"X-Forwarded-For": f"127.0.{i // 200}.{i % 200 + 1}"},
            environ_overrides={"REMOTE_ADDR": "127.0.0.77"},
        )
        statuses.append(answer.status_code)
    return statuses


def test_client_cannot_choose_the_ip_auth0_limits(make_harness: Any) -> None:
    """Without trusted proxies, X-Forwarded-For is ignored: Auth0 sees REMOTE_ADDR."""
    harness = make_harness(**OFF)
    statuses = spoofed_starts(harness, 51)
    assert statuses[:50] == [200] * 50
    assert statuses[50] == 429


def test_trusted_proxy_hop_is_the_ip_auth0_limits(make_harness: Any) -> None:
    harness = make_harness(trusted_proxies=1, **OFF)
    assert spoofed_starts(harness, 51) == [200] * 51


@pytest.mark.parametrize(
    "header",
    [
        "X-Forwarded-User",
        "x-forwarded-user",
        "X_Forwarded_User",
        "X-FORWARDED-EMAIL",
        "Remote-User",
        "X-Auth-Request-User",
        "X-Auth-Request-Email",
        "X-Auth-Request-Groups",
        "X-Auth-Request-Preferred-Username",
        "X-Forwarded-Access-Token",
    ],
)
def test_identity_header_variants_are_removed(harness: Harness, header: str) -> None:
    assert harness.login("gus@example.com").status_code == 303
    harness.client.get("/", headers={header: "boss@example.com"})
    environ = harness.app.calls[-1]
    assert "boss@example.com" not in {str(v) for v in environ.values()}


def test_pass_headers_come_from_the_session(make_harness: Any) -> None:
    harness = make_harness(pass_headers=True)
    assert harness.login("hal@example.com").status_code == 303
    harness.client.get("/", headers={"X-Forwarded-User": "boss@example.com"})
    environ = harness.app.calls[-1]
    assert environ["HTTP_X_FORWARDED_USER"] == "hal@example.com"
    assert environ["HTTP_X_FORWARDED_EMAIL"] == "hal@example.com"


def test_gate_cookies_are_removed_before_the_app(harness: Harness) -> None:
    assert harness.login("ivy@example.com").status_code == 303
    harness.client.set_cookie("theme", "dark")
    harness.client.set_cookie("app_session", "abc")
    harness.client.get("/")
    cookie = harness.app.calls[-1]["HTTP_COOKIE"]
    assert "pwless_gate" not in cookie
    assert "theme=dark" in cookie
    assert "app_session=abc" in cookie


def test_only_gate_cookies_leave_no_cookie_header(harness: Harness) -> None:
    assert harness.login("jo@example.com").status_code == 303
    harness.client.get("/")
    assert "HTTP_COOKIE" not in harness.app.calls[-1]


def test_cookie_flags(make_harness: Any) -> None:
    plain = make_harness()
    page = plain.client.get("/_gate/login")
    browser_cookie = page.headers["Set-Cookie"]
    assert "HttpOnly" in browser_cookie
    assert "SameSite=Lax" in browser_cookie
    assert "Secure" not in browser_cookie
    done = plain.login("kim@example.com")
    session_cookie = done.headers["Set-Cookie"]
    assert session_cookie.startswith("pwless_gate_session=")
    assert "HttpOnly" in session_cookie
    assert "SameSite=Lax" in session_cookie
    assert "Path=/" in session_cookie

    secure = make_harness(cookie_secure="true")
    page = secure.client.get("/_gate/login", base_url="https://localhost")
    cookie = page.headers["Set-Cookie"]
    assert cookie.startswith("__Host-pwless_gate_browser=")
    assert "Secure" in cookie
    assert "Domain" not in cookie
    assert "Path=/" in cookie


def test_https_uses_host_prefixed_cookies_only(make_harness: Any) -> None:
    harness = make_harness()
    client = harness.client
    text = client.get("/_gate/login", base_url="https://localhost").get_data(as_text=True)
    sent = client.post(
        "/_gate/login",
        data={"csrf_token": hidden(text, "csrf_token"), "email": "lee@example.com"},
        base_url="https://localhost",
    )
    text = sent.get_data(as_text=True)
    done = client.post(
        "/_gate/verify",
        data={
            "csrf_token": hidden(text, "csrf_token"),
            "tx": hidden(text, "tx"),
            "code": harness.tenant.last_message().code,
        },
        base_url="https://localhost",
    )
    assert done.headers["Set-Cookie"].startswith("__Host-pwless_gate_session=")
    value = done.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    # A non-prefixed cookie (one a subdomain could plant) is not accepted over https.
    other = harness.new_browser()
    other.set_cookie("pwless_gate_session", value)
    assert other.get("/", base_url="https://localhost").status_code == 302
    other.set_cookie("__Host-pwless_gate_session", value, secure=True)
    assert other.get("/", base_url="https://localhost").status_code == 200
