"""``POST /passwordless/start``: the documented answers, what it sends, what it refuses."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from pwless_gate.devtenant import RunningTenant

from ..helpers import CLIENT_ID
from .calls import (
    CALLBACK,
    EMAIL,
    PHONE,
    MakeTenant,
    assert_rate_headers,
    start,
    start_link,
)


@pytest.mark.parametrize(
    ("fields", "headers", "answer", "sent"),
    [
        pytest.param(
            {"connection": "email", "email": EMAIL},
            None,
            {"email": EMAIL, "email_verified": False},
            ("email", EMAIL, None, None),
            id="email",
        ),
        pytest.param(
            {"connection": "sms", "phone_number": PHONE},
            {"x-request-language": "fr"},
            {"phone_number": PHONE, "phone_verified": False, "request_language": "fr"},
            ("sms", PHONE, None, "fr"),
            id="sms",
        ),
    ],
)
def test_start_code_answers_the_documented_body(
    tenant: RunningTenant,
    fields: dict[str, str],
    headers: dict[str, str] | None,
    answer: dict[str, object],
    sent: tuple[str, str, None, str | None],
) -> None:
    response = start(tenant, headers=headers, send="code", **fields)

    assert response.status_code == 200
    body = response.json()
    assert re.fullmatch(r"[0-9a-f]{24}", body.pop("_id"))
    assert body == answer
    assert_rate_headers(response)
    message = tenant.last_message()
    assert (message.channel, message.to, message.link, message.language) == sent
    assert message.code is not None
    assert re.fullmatch(r"[0-9]{6}", message.code)


@pytest.mark.parametrize(
    ("email", "status"),
    [
        pytest.param("ada@xn--bcher-kva.example", 200, id="idn-domain-ascii-form"),
        pytest.param("ada@xn--e1afmkfd.xn--p1ai", 200, id="idn-top-level-domain-ascii-form"),
        pytest.param("ada@bücher.example", 400, id="idn-domain-unicode"),
        pytest.param("jörg@example.com", 400, id="non-ascii-local-part"),
        pytest.param("ada@example.xn--", 400, id="empty-idn-label"),
    ],
)
def test_start_takes_internationalised_domains_only_in_ascii_form(
    tenant: RunningTenant, email: str, status: int
) -> None:
    response = start(tenant, connection="email", email=email, send="code")

    assert response.status_code == status
    if status == 200:
        assert tenant.last_message().to == email
    else:
        assert response.json()["error"] == "bad.email"


def test_start_sends_a_link_when_send_is_absent(tenant: RunningTenant) -> None:
    response = start(tenant, connection="email", email=EMAIL, authParams={"state": "s"})

    assert response.status_code == 200
    message = tenant.last_message()
    assert message.code is not None
    assert message.link is not None
    query = parse_qs(urlsplit(message.link).query)
    assert query["verification_code"] == [message.code]
    assert query["state"] == ["s"]


def test_start_sms_without_send_sends_a_code(tenant: RunningTenant) -> None:
    response = start(tenant, connection="sms", phone_number=PHONE)

    assert response.status_code == 200
    assert tenant.last_message().link is None


def test_start_link_flattens_auth_params_into_the_query(tenant: RunningTenant) -> None:
    message = start_link(tenant, nonce="n-1", audience="https://api.test")

    assert message.link is not None
    parts = urlsplit(message.link)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        f"{tenant.url}/passwordless/verify_redirect"
    )
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    assert query == {
        "client_id": CLIENT_ID,
        "connection": "email",
        "email": EMAIL,
        "verification_code": message.code,
        "response_type": "code",
        "redirect_uri": CALLBACK,
        "state": "state-123",
        "scope": "openid profile email",
        "nonce": "n-1",
        "audience": "https://api.test",
    }


def sms(changes: dict[str, object]) -> dict[str, object]:
    """Body changes for an SMS start (no email, no send)."""
    return {"connection": "sms", "email": None, "send": None, **changes}


@pytest.mark.parametrize(
    ("changes", "status", "error"),
    [
        pytest.param({"client_id": None}, 400, "bad.client_id", id="client_id-missing"),
        pytest.param({"client_id": "someone-else"}, 400, "bad.client_id", id="client_id-unknown"),
        pytest.param({"client_id": 7}, 400, "bad.client_id", id="client_id-not-string"),
        pytest.param({"client_secret": None}, 403, "unauthorized_client", id="secret-missing"),
        pytest.param({"client_secret": ""}, 403, "unauthorized_client", id="secret-empty"),
        pytest.param({"client_secret": "nope"}, 401, "invalid_client", id="secret-wrong"),
        pytest.param(
            {"client_secret": "s\u00e9cret"}, 401, "invalid_client", id="secret-not-ascii"
        ),
        pytest.param({"connection": None}, 400, "bad.connection", id="connection-missing"),
        pytest.param(
            {"connection": "Username-Password-Authentication"},
            400,
            "bad.connection",
            id="connection-unknown",
        ),
        pytest.param({"email": None}, 400, "bad.email", id="email-missing"),
        pytest.param({"email": "ada.example.com"}, 400, "bad.email", id="email-no-at"),
        pytest.param({"email": "ada@localhost"}, 400, "bad.email", id="email-no-domain-dot"),
        pytest.param({"email": " ada@example.com"}, 400, "bad.email", id="email-spaces"),
        pytest.param({"email": [EMAIL]}, 400, "bad.email", id="email-not-string"),
        pytest.param(sms({}), 400, "bad.phone_number", id="phone-missing"),
        pytest.param(
            sms({"phone_number": "15551234567"}), 400, "bad.phone_number", id="phone-no-plus"
        ),
        pytest.param(
            sms({"phone_number": "+1234567890123456"}), 400, "bad.phone_number", id="phone-too-long"
        ),
        pytest.param(
            sms({"phone_number": "+1555CALLME"}), 400, "bad.phone_number", id="phone-letters"
        ),
        pytest.param({"authParams": "state=1"}, 400, "bad.authParams", id="authParams-string"),
        pytest.param({"authParams": ["state"]}, 400, "bad.authParams", id="authParams-list"),
        pytest.param(
            {"authParams": {"state": {"a": 1}}}, 400, "bad.authParams", id="authParams-nested"
        ),
        pytest.param({"username": "ada"}, 400, "bad.request", id="unknown-property"),
        pytest.param({"send": "carrier-pigeon"}, 400, "bad.send", id="send-unknown"),
        pytest.param({"send": 1}, 400, "bad.send", id="send-not-string"),
        pytest.param(sms({"phone_number": PHONE, "send": "link"}), 400, "bad.send", id="sms-link"),
        pytest.param(
            sms({"phone_number": "+991234567"}), 400, "sms_provider_error", id="sms-refused"
        ),
    ],
)
def test_start_refuses_bad_requests(
    tenant: RunningTenant, changes: dict[str, object], status: int, error: str
) -> None:
    fields: dict[str, Any] = {"connection": "email", "email": EMAIL, "send": "code", **changes}

    response = start(tenant, **fields)

    assert (response.status_code, response.json()["error"]) == (status, error)
    assert_rate_headers(response)
    assert tenant.outbox() == []


@pytest.mark.parametrize(
    ("changes", "description"),
    [
        pytest.param(
            {"client_secret": None}, "Client authentication is required", id="secret-missing"
        ),
        pytest.param(
            {"connection": None}, "Missing required property: connection", id="connection-missing"
        ),
        pytest.param({"connection": "nope"}, "Connection does not exist", id="connection-unknown"),
        pytest.param({"email": None}, "Missing required property: email", id="email-missing"),
        pytest.param(
            {"email": "ada.example.com"},
            "error in email - email format validation failed: ada.example.com",
            id="email-format",
        ),
        pytest.param(sms({}), "Missing required property: phone_number", id="phone-missing"),
        pytest.param(
            sms({"phone_number": "555"}),
            r"String does not match pattern: ^\+[0-9]{1,15}$",
            id="phone-pattern",
        ),
        pytest.param(
            {"username": "ada", "password": "x"},
            "the following properties are not allowed: username, password",
            id="unknown-properties",
        ),
    ],
)
def test_start_errors_carry_the_documented_descriptions(
    tenant: RunningTenant, changes: dict[str, object], description: str
) -> None:
    fields: dict[str, Any] = {"connection": "email", "email": EMAIL, "send": "code", **changes}

    assert start(tenant, **fields).json()["error_description"] == description


def test_start_refuses_a_connection_the_tenant_has_not_enabled(make_tenant: MakeTenant) -> None:
    tenant = make_tenant(connections=("email",))

    response = start(tenant, connection="sms", phone_number=PHONE, send="code")

    assert (response.status_code, response.json()["error"]) == (400, "bad.connection")
