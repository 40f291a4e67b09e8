"""The tenant as one WSGI app: the outbox endpoint, routing, the size limit and the error edge."""

from __future__ import annotations

import pytest
import requests

from pwless_gate.devtenant import Message, RunningTenant

from ..helpers import CLIENT_ID, CLIENT_SECRET
from .calls import (
    EMAIL,
    TIMEOUT,
    MakeTenant,
    start,
    start_email,
    start_sms,
)


def test_outbox_endpoint_lists_and_clears_messages(tenant: RunningTenant) -> None:
    start_email(tenant)
    start_sms(tenant)
    url = f"{tenant.url}/_dev/outbox"

    listed = requests.get(url, timeout=TIMEOUT).json()["messages"]
    kept = tenant.outbox()
    cleared = requests.delete(url, timeout=TIMEOUT)

    assert listed == [message.to_json() for message in kept]
    assert [m["channel"] for m in listed] == ["email", "sms"]
    assert set(listed[0]) == {"channel", "to", "code", "link", "language"}
    assert cleared.status_code == 204
    assert requests.get(url, timeout=TIMEOUT).json() == {"messages": []}


def test_start_refuses_a_body_that_is_too_large(tenant: RunningTenant) -> None:
    response = requests.post(
        f"{tenant.url}/passwordless/start",
        data=b"{" + b" " * 70_000 + b"}",
        headers={"Content-Type": "application/json"},
        timeout=TIMEOUT,
    )

    assert response.status_code == 413
    assert response.json()["error"]


def test_unknown_path_is_a_json_404(tenant: RunningTenant) -> None:
    response = requests.get(f"{tenant.url}/authorize", timeout=TIMEOUT)

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/oauth/token"), ("PUT", "/passwordless/start"), ("POST", "/userinfo")],
    ids=["get-token", "put-start", "post-userinfo"],
)
def test_wrong_method_is_a_json_405(tenant: RunningTenant, method: str, path: str) -> None:
    response = requests.request(method, f"{tenant.url}{path}", timeout=TIMEOUT)

    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"
    assert response.headers["Allow"]


def test_a_failure_inside_the_tenant_is_a_json_500(make_tenant: MakeTenant) -> None:
    def explode(message: Message) -> None:
        raise RuntimeError("mail relay down")

    tenant = make_tenant(on_message=explode)

    response = start(tenant, connection="email", email=EMAIL, send="code")

    assert response.status_code == 500
    assert response.json()["error"] == "server_error"
    assert "Traceback" not in response.text


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/oauth/token", '{"client_id": "\\ud800", "grant_type": "x"}'),
        ("/oauth/token", '{"client_id": "%(id)s", "client_secret": "\\udfff", "grant_type": "x"}'),
        (
            "/oauth/token",
            '{"client_id": "%(id)s", "client_secret": "%(secret)s", "realm": "email",'
            ' "grant_type": "http://auth0.com/oauth/grant-type/passwordless/otp",'
            ' "username": "ada@example.com", "otp": "\\ud800", "scope": "openid"}',
        ),
        (
            "/passwordless/start",
            '{"client_id": "\\ud800", "connection": "email", "email": "a@example.com"}',
        ),
        (
            "/passwordless/start",
            '{"client_id": "%(id)s", "client_secret": "\\ud800", "connection": "email",'
            ' "email": "a@example.com"}',
        ),
    ],
    ids=["token-client", "token-secret", "otp", "start-client", "start-secret"],
)
def test_a_lone_surrogate_in_a_secret_is_refused_not_a_500(
    tenant: RunningTenant, path: str, body: str
) -> None:
    """Valid JSON may hold a lone surrogate (``"\\ud800"``), which UTF-8 cannot encode:
    comparing it as a secret raised UnicodeEncodeError, a 500 without rate-limit headers."""
    start_email(tenant)  # a code exists for the otp case
    sent = body % {"id": CLIENT_ID, "secret": CLIENT_SECRET}
    response = requests.post(
        f"{tenant.url}{path}",
        data=sent.encode(),
        headers={"Content-Type": "application/json", "auth0-forwarded-for": "203.0.113.9"},
        timeout=TIMEOUT,
    )
    assert 400 <= response.status_code < 500, response.text
    assert "x-ratelimit-limit" in response.headers
