"""``POST /oauth/token``: the OTP, authorization-code and refresh-token grants, and refusals."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from pwless_gate.devtenant import RunningTenant

from ..helpers import CLIENT_ID, CLIENT_SECRET, wrong_code
from .calls import (
    CALLBACK,
    EMAIL,
    OTP_GRANT,
    PHONE,
    TIMEOUT,
    WRONG_PHONE,
    MakeTenant,
    assert_rate_headers,
    decode,
    follow,
    log_in,
    otp,
    redirect_query,
    start,
    start_email,
    start_link,
    start_sms,
    token,
)


def test_otp_grant_answers_the_documented_body(tenant: RunningTenant) -> None:
    message = start_email(tenant)

    response = otp(tenant, EMAIL, message.code)

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "id_token", "token_type", "expires_in", "scope"}
    assert (body["token_type"], body["expires_in"], body["scope"]) == (
        "Bearer",
        86400,
        "openid profile email",
    )
    assert_rate_headers(response)
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("as_json", [False, True], ids=["form", "json"])
def test_otp_grant_accepts_json_and_form_bodies(tenant: RunningTenant, as_json: bool) -> None:
    message = start_email(tenant)

    response = token(
        tenant,
        as_json=as_json,
        grant_type=OTP_GRANT,
        username=EMAIL,
        otp=message.code,
        realm="email",
        scope="openid",
    )

    assert response.status_code == 200, response.text


def test_wrong_phone_code_names_the_phone_number(tenant: RunningTenant) -> None:
    message = start_sms(tenant)
    assert message.code is not None
    wrong = wrong_code(message.code)

    response = otp(tenant, PHONE, wrong, realm="sms")

    assert response.status_code == 403
    assert response.json() == {"error": "invalid_grant", "error_description": WRONG_PHONE}


def test_realm_must_match_the_connection_used_at_start(tenant: RunningTenant) -> None:
    message = start_sms(tenant)

    response = otp(tenant, PHONE, message.code, realm="email")

    assert (response.status_code, response.json()["error"]) == (403, "invalid_grant")


@pytest.mark.parametrize(
    ("fields", "status", "error"),
    [
        pytest.param({"grant_type": None}, 400, "invalid_request", id="grant_type-missing"),
        pytest.param({"client_id": None}, 400, "invalid_request", id="client_id-missing"),
        pytest.param({"client_id": "someone-else"}, 401, "access_denied", id="client-unknown"),
        pytest.param({"client_secret": None}, 401, "access_denied", id="secret-missing"),
        pytest.param({"client_secret": "nope"}, 401, "access_denied", id="secret-wrong"),
        pytest.param(
            {"grant_type": "password"}, 501, "unsupported_grant_type", id="grant-unsupported"
        ),
        pytest.param({"username": None}, 400, "invalid_request", id="username-missing"),
        pytest.param({"otp": None}, 400, "invalid_request", id="otp-missing"),
        pytest.param({"realm": None}, 400, "invalid_request", id="realm-missing"),
        pytest.param(
            {"realm": "Username-Password-Authentication"},
            400,
            "invalid_request",
            id="realm-not-a-connection",
        ),
        pytest.param({"username": "bob@example.com"}, 403, "invalid_grant", id="never-sent"),
    ],
)
def test_token_refuses_bad_requests(
    tenant: RunningTenant, fields: dict[str, object], status: int, error: str
) -> None:
    message = start_email(tenant)
    body: dict[str, Any] = {
        "grant_type": OTP_GRANT,
        "username": EMAIL,
        "otp": message.code,
        "realm": "email",
        **fields,
    }

    response = token(tenant, **body)

    assert (response.status_code, response.json()["error"]) == (status, error)
    assert_rate_headers(response)


@pytest.mark.parametrize(
    "credentials",
    [
        {"client_id": "someone-else"},
        {"client_secret": None},
        {"client_secret": "nope"},
        {"client_secret": ""},
    ],
    ids=["client-unknown", "secret-missing", "secret-wrong", "secret-empty"],
)
@pytest.mark.parametrize("grant_type", [OTP_GRANT, "authorization_code", "refresh_token"])
def test_bad_client_credentials_are_401_access_denied(
    tenant: RunningTenant, credentials: dict[str, object], grant_type: str
) -> None:
    response = token(tenant, grant_type=grant_type, **credentials)

    assert response.status_code == 401
    assert response.json() == {"error": "access_denied", "error_description": "Unauthorized"}


def test_an_unknown_grant_type_is_501(tenant: RunningTenant) -> None:
    response = token(tenant, grant_type="urn:example:no-such-grant")

    assert response.status_code == 501
    assert response.json() == {
        "error": "unsupported_grant_type",
        "error_description": "Unsupported grant type: urn:example:no-such-grant",
    }


def test_token_refuses_a_parameter_that_is_not_a_string(tenant: RunningTenant) -> None:
    message = start_email(tenant)
    assert message.code is not None

    response = token(
        tenant,
        as_json=True,
        grant_type=OTP_GRANT,
        username=EMAIL,
        otp=int(message.code),
        realm="email",
    )

    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


def test_realm_of_a_disabled_connection_is_not_found(make_tenant: MakeTenant) -> None:
    tenant = make_tenant(connections=("email",))

    response = otp(tenant, PHONE, "123456", realm="sms")

    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


def test_grant_type_not_allowed_for_the_client(make_tenant: MakeTenant) -> None:
    tenant = make_tenant(grant_types=("authorization_code",))
    message = start_email(tenant)

    response = otp(tenant, EMAIL, message.code)

    assert response.status_code == 403
    assert response.json() == {
        "error": "unauthorized_client",
        "error_description": f"Grant type '{OTP_GRANT}' not allowed for the client.",
    }


def test_an_unknown_audience_is_refused(tenant: RunningTenant) -> None:
    start(tenant, connection="email", email="aud@example.com", send="code")
    code = tenant.last_message(to="aud@example.com").code
    response = requests.post(
        f"{tenant.url}/oauth/token",
        json={
            "grant_type": "http://auth0.com/oauth/grant-type/passwordless/otp",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "realm": "email",
            "username": "aud@example.com",
            "otp": code,
            "scope": "openid",
            "audience": "https://not-registered.example/",
        },
        timeout=TIMEOUT,
    )
    assert (response.status_code, response.json()["error"]) == (403, "access_denied")
    assert "Service not found" in response.json()["error_description"]


def test_offline_access_adds_a_refresh_token_that_rotates(tenant: RunningTenant) -> None:
    body = log_in(tenant, scope="openid email offline_access")
    sid = decode(tenant, body["id_token"])["sid"]

    refreshed = token(tenant, grant_type="refresh_token", refresh_token=body["refresh_token"])

    assert refreshed.status_code == 200, refreshed.text
    new = refreshed.json()
    assert new["refresh_token"] not in ("", body["refresh_token"])
    assert new["access_token"] != body["access_token"]
    claims = decode(tenant, new["id_token"])
    assert (claims["sid"], claims["email"]) == (sid, EMAIL)


@pytest.mark.parametrize(
    ("fields", "status", "error"),
    [
        pytest.param({"refresh_token": "not-a-token"}, 403, "invalid_grant", id="unknown-token"),
        pytest.param({"refresh_token": None}, 400, "invalid_request", id="missing-token"),
        pytest.param({"scope": "openid email phone"}, 403, "invalid_scope", id="wider-scope"),
        pytest.param({"client_secret": "nope"}, 401, "access_denied", id="wrong-secret"),
    ],
)
def test_refresh_grant_refuses(
    tenant: RunningTenant, fields: dict[str, object], status: int, error: str
) -> None:
    body = log_in(tenant, scope="openid email offline_access")
    request = {"refresh_token": body["refresh_token"], **fields}

    response = token(tenant, grant_type="refresh_token", **request)

    assert (response.status_code, response.json()["error"]) == (status, error)


def test_refresh_grant_may_narrow_the_scope(tenant: RunningTenant) -> None:
    body = log_in(tenant, scope="openid email offline_access")

    response = token(
        tenant, grant_type="refresh_token", refresh_token=body["refresh_token"], scope="openid"
    )

    assert response.json()["scope"] == "openid"
    assert "email" not in decode(tenant, response.json()["id_token"])


def test_authorization_code_requires_the_same_redirect_uri(link_tenant: RunningTenant) -> None:
    message = start_link(link_tenant)
    assert message.link is not None
    code = redirect_query(follow(message.link))["code"]

    mismatch = token(
        link_tenant,
        grant_type="authorization_code",
        code=code,
        redirect_uri="http://app.test/elsewhere",
    )

    assert (mismatch.status_code, mismatch.json()["error"]) == (403, "invalid_grant")


def test_authorization_code_missing_is_invalid_request(tenant: RunningTenant) -> None:
    response = token(tenant, grant_type="authorization_code", redirect_uri=CALLBACK)

    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")
