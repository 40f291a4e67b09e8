"""What the local tenant's tests share: its facts (from AUTH0-API.md) and the calls they make.

Every call goes over real loopback HTTP to a tenant served by the conftest
``tenant`` fixture or by :func:`make_tenant`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import requests

from pwless_gate.devtenant import Message, RunningTenant

from ..helpers import CLIENT_ID, CLIENT_SECRET

OTP_GRANT = "http://auth0.com/oauth/grant-type/passwordless/otp"
CALLBACK = "http://app.test/_gate/callback"
LOGOUT_URL = "http://app.test/bye"
EMAIL = "ada@example.com"
PHONE = "+15551234567"
WRONG_EMAIL = "Wrong email or verification code."
WRONG_PHONE = "Wrong phone number or verification code."
MAX_ATTEMPTS = "You've reached the maximum number of attempts. Please try to login again."
EXPIRED = "The verification code has expired. Please try to login again."
SAME_DEVICE = (
    "The link must be opened on the same device and browser from which you submitted "
    "your email address."
)
RATE_LIMIT_BODY = {
    "error": "too_many_requests",
    "error_description": "Too many requests. Check the X-RateLimit-Limit, X-RateLimit-Remaining "
    "and X-RateLimit-Reset headers.",
}
TIMEOUT = 5

MakeTenant = Callable[..., RunningTenant]
"""The ``make_tenant`` fixture: serves a tenant built with the given settings."""


def start(
    tenant: RunningTenant, headers: dict[str, str] | None = None, **fields: Any
) -> requests.Response:
    """POST /passwordless/start as JSON with the client credentials, minus fields set to None."""
    body = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **fields}
    body = {name: value for name, value in body.items() if value is not None}
    return requests.post(
        f"{tenant.url}/passwordless/start", json=body, headers=headers, timeout=TIMEOUT
    )


def start_email(tenant: RunningTenant, email: str = EMAIL, **fields: Any) -> Message:
    fields.setdefault("send", "code")
    response = start(tenant, connection="email", email=email, **fields)
    assert response.status_code == 200, response.text
    return tenant.last_message()


def start_sms(tenant: RunningTenant, phone: str = PHONE, **fields: Any) -> Message:
    response = start(tenant, connection="sms", phone_number=phone, send="code", **fields)
    assert response.status_code == 200, response.text
    return tenant.last_message()


def start_link(tenant: RunningTenant, email: str = EMAIL, **auth_params: str) -> Message:
    params = {
        "response_type": "code",
        "redirect_uri": CALLBACK,
        "state": "state-123",
        "scope": "openid profile email",
        **auth_params,
    }
    return start_email(tenant, email, send="link", authParams=params)


def token(tenant: RunningTenant, as_json: bool = False, **fields: Any) -> requests.Response:
    """POST /oauth/token (form-encoded unless ``as_json``) with the client credentials."""
    body = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **fields}
    body = {name: value for name, value in body.items() if value is not None}
    url = f"{tenant.url}/oauth/token"
    if as_json:
        return requests.post(url, json=body, timeout=TIMEOUT)
    return requests.post(url, data=body, timeout=TIMEOUT)


def otp(
    tenant: RunningTenant,
    username: str,
    code: str | None,
    realm: str = "email",
    scope: str = "openid profile email",
    **fields: Any,
) -> requests.Response:
    """Redeem a one-time code through the passwordless OTP grant."""
    return token(
        tenant,
        grant_type=OTP_GRANT,
        username=username,
        otp=code,
        realm=realm,
        scope=scope,
        **fields,
    )


def log_in(tenant: RunningTenant, email: str = EMAIL, **fields: Any) -> dict[str, Any]:
    message = start_email(tenant, email)
    response = otp(tenant, email, message.code, **fields)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def follow(link: str) -> requests.Response:
    return requests.get(link, allow_redirects=False, timeout=TIMEOUT)


def redirect_query(response: requests.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(CALLBACK + "?")
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


def decode(tenant: RunningTenant, token_: str, audience: str = CLIENT_ID) -> dict[str, Any]:
    """Verify a JWT with the tenant's published JWKS, as a relying party would."""
    keys = jwt.PyJWKSet.from_dict(
        requests.get(f"{tenant.url}/.well-known/jwks.json", timeout=TIMEOUT).json()
    )
    key = keys[jwt.get_unverified_header(token_)["kid"]]
    return jwt.decode(
        token_, key.key, algorithms=["RS256"], audience=audience, issuer=f"{tenant.url}/"
    )


def assert_rate_headers(response: requests.Response) -> None:
    for name in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"):
        assert response.headers[name].isdigit(), name
