"""Rate limits (with ``auth0-forwarded-for``, on every endpoint) and brute-force protection."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from pwless_gate.devtenant import RunningTenant

from ..helpers import CLIENT_ID, CLIENT_SECRET, FakeClock
from .calls import (
    CALLBACK,
    EMAIL,
    OTP_GRANT,
    RATE_LIMIT_BODY,
    TIMEOUT,
    MakeTenant,
    assert_rate_headers,
    follow,
    log_in,
    otp,
    start,
    start_email,
    start_link,
)

BRUTE_FORCE_BODY = {
    "error": "too_many_attempts",
    "error_description": "Your account has been blocked after multiple consecutive login "
    "attempts. We've sent you an email with instructions on how to unblock it.",
}
SUSPICIOUS_BODY = {
    "error": "too_many_attempts",
    "error_description": "We have detected suspicious login behavior and further attempts "
    "will be blocked. Please contact the administrator.",
}


def test_start_allows_a_burst_of_50_then_429(tenant: RunningTenant, clock: FakeClock) -> None:
    remaining = []
    for _ in range(50):
        response = start(tenant, connection="email", email=EMAIL, send="code")
        assert response.status_code == 200
        remaining.append(int(response.headers["x-ratelimit-remaining"]))

    refused = start(tenant, connection="email", email=EMAIL, send="code")

    assert remaining == list(range(49, -1, -1))
    assert refused.status_code == 429
    assert refused.json() == RATE_LIMIT_BODY
    assert refused.headers["x-ratelimit-limit"] == "50"
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert int(refused.headers["x-ratelimit-reset"]) > clock.now
    assert int(refused.headers["Retry-After"]) == 72  # 3600 s / 50
    assert len(tenant.outbox()) == 50
    clock.advance(72)
    assert start(tenant, connection="email", email=EMAIL, send="code").status_code == 200
    assert start(tenant, connection="email", email=EMAIL, send="code").status_code == 429


def test_refused_starts_count_against_the_limit(tenant: RunningTenant) -> None:
    for _ in range(50):
        start(tenant, connection="email", email="not-an-email")

    assert start(tenant, connection="email", email=EMAIL).status_code == 429


def exhaust_start(tenant: RunningTenant, headers: dict[str, str], **fields: Any) -> None:
    for _ in range(50):
        start(tenant, headers=headers, connection="email", email=EMAIL, send="code", **fields)


def test_forwarded_for_is_honoured_with_the_secret(tenant: RunningTenant) -> None:
    exhaust_start(tenant, {"auth0-forwarded-for": "198.51.100.1"})

    same = start(
        tenant,
        headers={"auth0-forwarded-for": "198.51.100.1"},
        connection="email",
        email=EMAIL,
        send="code",
    )
    other = start(
        tenant,
        headers={"auth0-forwarded-for": "198.51.100.2"},
        connection="email",
        email=EMAIL,
        send="code",
    )
    server_ip = start(tenant, connection="email", email=EMAIL, send="code")

    assert (same.status_code, other.status_code, server_ip.status_code) == (429, 200, 200)


def test_forwarded_for_is_ignored_without_the_secret(tenant: RunningTenant) -> None:
    exhaust_start(tenant, {"auth0-forwarded-for": "198.51.100.1"}, client_secret=None)

    other = start(
        tenant,
        headers={"auth0-forwarded-for": "198.51.100.2"},
        connection="email",
        email=EMAIL,
        send="code",
        client_secret=None,
    )
    trusted = start(
        tenant,
        headers={"auth0-forwarded-for": "198.51.100.3"},
        connection="email",
        email=EMAIL,
        send="code",
    )

    assert other.status_code == 429
    assert trusted.status_code == 200


@pytest.mark.parametrize("options", [{}, {"trust_forwarded_for": False}], ids=["default", "off"])
def test_forwarded_for_is_ignored_when_the_app_does_not_trust_it(
    make_tenant: MakeTenant, options: dict[str, bool]
) -> None:
    tenant = make_tenant(**options)  # "Trust Token Endpoint IP Header" is off in a new tenant
    exhaust_start(tenant, {"auth0-forwarded-for": "198.51.100.1"})

    other = start(
        tenant,
        headers={"auth0-forwarded-for": "198.51.100.2"},
        connection="email",
        email=EMAIL,
        send="code",
    )

    assert other.status_code == 429


def test_token_allows_30_per_second(tenant: RunningTenant, clock: FakeClock) -> None:
    # A different user each time, so brute-force protection stays out of the way.
    answers = [otp(tenant, f"user{n}@example.com", "123456") for n in range(30)]

    refused = otp(tenant, "late@example.com", "123456")

    assert {a.status_code for a in answers} == {403}
    assert [int(a.headers["x-ratelimit-remaining"]) for a in answers] == list(range(29, -1, -1))
    assert refused.status_code == 429
    assert refused.json() == RATE_LIMIT_BODY
    assert refused.headers["x-ratelimit-limit"] == "30"
    assert refused.headers["Retry-After"] == "1"
    clock.advance(1)
    assert otp(tenant, "late@example.com", "123456").status_code == 403


def test_brute_force_protection_blocks_the_user_from_that_ip(tenant: RunningTenant) -> None:
    other_ip = {"auth0-forwarded-for": "203.0.113.9"}
    for _ in range(3):
        start_email(tenant)
        for _ in range(3):
            otp(tenant, EMAIL, "bad")
    start_email(tenant)
    assert otp(tenant, EMAIL, "bad").json()["error"] == "invalid_grant"  # the 10th failure
    message = start_email(tenant)

    blocked = otp(tenant, EMAIL, message.code)
    elsewhere = requests.post(
        f"{tenant.url}/oauth/token",
        data={
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "grant_type": OTP_GRANT,
            "username": EMAIL,
            "otp": message.code,
            "realm": "email",
        },
        headers=other_ip,
        timeout=TIMEOUT,
    )

    assert (blocked.status_code, blocked.json()) == (429, BRUTE_FORCE_BODY)
    assert elsewhere.status_code == 200


def test_a_brute_force_block_lasts_30_days(tenant: RunningTenant, clock: FakeClock) -> None:
    for _ in range(4):
        start_email(tenant)
        for _ in range(3):
            otp(tenant, EMAIL, "bad")
    clock.advance(30 * 86400 - 1)
    assert otp(tenant, EMAIL, start_email(tenant).code).json() == BRUTE_FORCE_BODY
    clock.advance(1)  # 30 days after the last failed attempt

    assert otp(tenant, EMAIL, start_email(tenant).code).status_code == 200


def token_from(tenant: RunningTenant, ip: str, **fields: str) -> requests.Response:
    """An OTP grant whose client IP is ``ip`` (the tenant trusts ``auth0-forwarded-for``)."""
    body = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "grant_type": OTP_GRANT}
    body.update(realm="email", **fields)
    headers = {"auth0-forwarded-for": ip}
    return requests.post(f"{tenant.url}/oauth/token", data=body, headers=headers, timeout=TIMEOUT)


def test_100_failed_logins_from_one_ip_throttle_it(tenant: RunningTenant, clock: FakeClock) -> None:
    for n in range(100):  # different users: brute-force protection stays out of the way
        if n and n % 30 == 0:
            clock.advance(1)  # /oauth/token's own 30 per second
        failed = token_from(tenant, "203.0.113.5", username=f"u{n}@example.com", otp="000000")
        assert failed.json()["error"] == "invalid_grant", n
    message = start_email(tenant)

    throttled = token_from(tenant, "203.0.113.5", username=EMAIL, otp=message.code or "")
    elsewhere = token_from(tenant, "203.0.113.6", username=EMAIL, otp=message.code or "")

    assert (throttled.status_code, throttled.json()) == (429, SUSPICIOUS_BODY)
    assert elsewhere.status_code == 200  # the code was not spent by the refusal
    clock.advance(864)  # one attempt back every 864 s: 100 a day
    again = token_from(tenant, "203.0.113.5", username="u0@example.com", otp="000000")
    assert again.json()["error"] == "invalid_grant"
    after = token_from(tenant, "203.0.113.5", username="u0@example.com", otp="000000")
    assert after.json() == SUSPICIOUS_BODY


def test_50_signups_from_one_ip_throttle_it(tenant: RunningTenant, clock: FakeClock) -> None:
    for n in range(50):  # each start from its own IP: the start limit stays out of the way
        if n and n % 30 == 0:
            clock.advance(1)
        email = f"new{n}@example.com"
        message = start_email(tenant, email, headers={"auth0-forwarded-for": f"198.51.100.{n}"})
        signup = token_from(tenant, "203.0.113.7", username=email, otp=message.code or "")
        assert signup.status_code == 200, (n, signup.text)
    known = start_email(tenant, "new0@example.com")

    throttled = token_from(tenant, "203.0.113.7", username="new0@example.com", otp=known.code or "")

    assert (throttled.status_code, throttled.json()) == (429, SUSPICIOUS_BODY)


def _request(tenant: RunningTenant, what: str) -> requests.Response:
    """One request of each kind Auth0 answers, by name."""
    url = tenant.url
    if what.startswith("userinfo"):
        access = log_in(tenant)["access_token"] if what == "userinfo" else "not-a-token"
        headers = {"Authorization": f"Bearer {access}"}
        return requests.get(f"{url}/userinfo", headers=headers, timeout=TIMEOUT)
    if what.startswith("link"):
        tenant.app.allow_callback(CALLBACK)
        message = start_link(tenant)
        assert message.link is not None
        if what == "link-head":
            return requests.head(message.link, allow_redirects=False, timeout=TIMEOUT)
        if what == "link-unknown-client":
            return follow(message.link.replace(f"client_id={CLIENT_ID}", "client_id=other"))
        return follow(message.link)
    paths = {
        "jwks": ("GET", "/.well-known/jwks.json"),
        "discovery": ("GET", "/.well-known/openid-configuration"),
        "v2-logout": ("GET", "/v2/logout"),
        "v2-logout-refused": ("GET", "/v2/logout?returnTo=http://elsewhere.test/"),
        "oidc-logout": ("GET", "/oidc/logout"),
        "not-found": ("GET", "/authorize"),
        "method-not-allowed": ("GET", "/oauth/token"),
        "token-body-too-large": ("POST", "/oauth/token"),
    }
    method, path = paths[what]
    body = b"a=" + b"x" * (70_000 if what.endswith("too-large") else 0)
    return requests.request(method, f"{url}{path}", data=body, timeout=TIMEOUT, headers=FORM)


FORM = {"Content-Type": "application/x-www-form-urlencoded"}
EVERY_KIND = [
    ("userinfo", 200),
    ("userinfo-unknown-token", 401),
    ("jwks", 200),
    ("discovery", 200),
    ("link", 302),
    ("link-head", 302),
    ("link-unknown-client", 400),
    ("v2-logout", 200),
    ("v2-logout-refused", 400),
    ("oidc-logout", 200),
    ("not-found", 404),
    ("method-not-allowed", 405),
    ("token-body-too-large", 413),
]


@pytest.mark.parametrize(("what", "status"), EVERY_KIND, ids=[w for w, _ in EVERY_KIND])
def test_every_answer_carries_the_rate_limit_headers(
    tenant: RunningTenant, what: str, status: int
) -> None:
    response = _request(tenant, what)

    assert response.status_code == status, response.text
    assert_rate_headers(response)


@pytest.mark.parametrize(
    ("what", "limit"),
    [("jwks", 20), ("discovery", 300), ("not-found", 300)],
    ids=["jwks-20", "discovery-global-300", "not-found-global-300"],
)
def test_endpoints_without_their_own_numbers_in_the_doc_are_limited_too(
    tenant: RunningTenant, clock: FakeClock, what: str, limit: int
) -> None:
    for n in range(limit):
        assert _request(tenant, what).headers["x-ratelimit-remaining"] == str(limit - 1 - n)

    refused = _request(tenant, what)

    assert (refused.status_code, refused.json()) == (429, RATE_LIMIT_BODY)
    assert refused.headers["x-ratelimit-limit"] == str(limit)
    assert int(refused.headers["Retry-After"]) >= 1
    clock.advance(int(refused.headers["Retry-After"]))
    assert _request(tenant, what).status_code != 429


def test_userinfo_allows_each_user_a_burst_of_10_then_5_a_minute(
    tenant: RunningTenant, clock: FakeClock
) -> None:
    ada = {"Authorization": "Bearer " + log_in(tenant)["access_token"]}
    bob = {"Authorization": "Bearer " + log_in(tenant, "bob@example.com")["access_token"]}
    url = f"{tenant.url}/userinfo"
    for _ in range(10):
        assert requests.get(url, headers=ada, timeout=TIMEOUT).status_code == 200

    refused = requests.get(url, headers=ada, timeout=TIMEOUT)
    other_user = requests.get(url, headers=bob, timeout=TIMEOUT)

    assert (refused.status_code, refused.json()) == (429, RATE_LIMIT_BODY)
    assert refused.headers["Retry-After"] == "12"  # 60 s / 5
    assert other_user.status_code == 200
    clock.advance(12)
    assert requests.get(url, headers=ada, timeout=TIMEOUT).status_code == 200


def test_the_tenants_own_endpoints_are_not_limited(tenant: RunningTenant) -> None:
    response = requests.get(f"{tenant.url}/_dev/outbox", timeout=TIMEOUT)

    assert response.status_code == 200
    assert "x-ratelimit-limit" not in response.headers


def oversized_start(tenant: RunningTenant) -> requests.Response:
    body = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "connection": "email"}
    body.update(email=EMAIL, send="code", authParams={"x": "a" * 70_000})
    return requests.post(f"{tenant.url}/passwordless/start", json=body, timeout=TIMEOUT)


def test_a_start_too_large_to_read_counts_against_the_limit(tenant: RunningTenant) -> None:
    answers = [oversized_start(tenant) for _ in range(50)]

    after = start(tenant, connection="email", email=EMAIL, send="code")
    refused = oversized_start(tenant)

    assert {a.status_code for a in answers} == {413}
    assert [a.headers["x-ratelimit-remaining"] for a in answers] == [
        str(n) for n in range(49, -1, -1)
    ]
    assert after.status_code == 429
    assert (refused.status_code, refused.json()) == (429, RATE_LIMIT_BODY)  # counted first
    assert tenant.outbox() == []
