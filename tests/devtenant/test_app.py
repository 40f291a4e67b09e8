"""The tenant as one WSGI app: the outbox endpoint, routing, the size limit and the error edge."""

from __future__ import annotations

import pytest
import requests

from pwless_gate.devtenant import Message, RunningTenant

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
