"""The answers AUTH0-API.md is silent on come from ``constants.py``, where they are changed."""

from __future__ import annotations

import html
from typing import Any

import pytest
import requests

from pwless_gate.devtenant import RunningTenant
from pwless_gate.devtenant import constants as c

from ..helpers import CLIENT_ID
from .calls import (
    CALLBACK,
    EMAIL,
    OTP_GRANT,
    PHONE,
    TIMEOUT,
    follow,
    log_in,
    redirect_query,
    start,
    start_email,
    start_link,
    token,
)


def raw_start(tenant: RunningTenant, body: bytes, content_type: str) -> requests.Response:
    return requests.post(
        f"{tenant.url}/passwordless/start",
        data=body,
        headers={"Content-Type": content_type},
        timeout=TIMEOUT,
    )


@pytest.mark.parametrize(
    ("fields", "error", "description"),
    [
        (
            {"client_id": "someone-else"},
            "bad.client_id",
            c.UNKNOWN_CLIENT.format(client_id="someone-else"),
        ),
        ({"send": 7}, "bad.send", c.SEND_NOT_A_STRING.format(type="integer")),
        ({"send": "fax"}, "bad.send", c.SEND_NOT_AN_OPTION.format(value='"fax"')),
        (
            {"connection": "sms", "email": None, "phone_number": PHONE, "send": "link"},
            "bad.send",
            c.SMS_SENDS_CODES_ONLY,
        ),
    ],
    ids=["unknown-client", "send-not-a-string", "send-not-an-option", "sms-link"],
)
def test_start_refusals(
    tenant: RunningTenant, fields: dict[str, Any], error: str, description: str
) -> None:
    body = {"connection": "email", "email": EMAIL, "send": "code", **fields}

    response = start(tenant, **body)

    assert response.status_code == 400
    assert response.json() == {"error": error, "error_description": description}


@pytest.mark.parametrize(
    ("body", "content_type", "status", "description"),
    [
        (b"{not json", "application/json", 400, c.INVALID_JSON),
        (b"[]", "application/json", 400, c.INVALID_JSON),
        (b"a=%ff", "application/x-www-form-urlencoded", 400, c.INVALID_PAYLOAD),
        (b"hello", "text/plain", 400, c.UNSUPPORTED_BODY),
        (
            b"{" + b" " * (c.MAX_BODY_BYTES + 1) + b"}",
            "application/json",
            413,
            c.BODY_TOO_LARGE.format(limit=c.MAX_BODY_BYTES),
        ),
    ],
    ids=["not-json", "not-an-object", "form-not-utf8", "other-type", "too-large"],
)
def test_bodies_that_cannot_be_read(
    tenant: RunningTenant, body: bytes, content_type: str, status: int, description: str
) -> None:
    response = raw_start(tenant, body, content_type)

    assert response.status_code == status
    assert response.json()["error_description"] == description
    if status == 413:
        assert response.json()["error"] == c.BODY_TOO_LARGE_ERROR


def test_an_audience_that_is_no_api(tenant: RunningTenant) -> None:
    message = start_email(tenant)

    response = token(
        tenant,
        grant_type=OTP_GRANT,
        username=EMAIL,
        otp=message.code,
        realm="email",
        scope="openid",
        audience="https://typo.test",
    )

    assert response.status_code == 403
    assert response.json() == {
        "error": "access_denied",
        "error_description": c.SERVICE_NOT_FOUND.format(audience="https://typo.test"),
    }


def test_a_refresh_asking_for_more_scopes(tenant: RunningTenant) -> None:
    body = log_in(tenant, scope="openid email offline_access")

    response = token(
        tenant,
        grant_type="refresh_token",
        refresh_token=body["refresh_token"],
        scope="openid email phone",
    )

    assert response.status_code == 403
    assert response.json() == {
        "error": "invalid_scope",
        "error_description": c.SCOPE_NOT_GRANTED.format(scopes="phone"),
    }


def test_a_link_to_a_callback_not_allowed(tenant: RunningTenant) -> None:
    message = start_link(tenant)
    assert message.link is not None

    response = follow(message.link)

    assert response.status_code == c.CALLBACK_MISMATCH_STATUS
    assert c.ERROR_PAGE_TITLE in response.text
    assert c.CALLBACK_MISMATCH.format(url=CALLBACK) in response.text


def test_a_link_with_a_token_response_type(tenant: RunningTenant) -> None:
    tenant.app.allow_callback(CALLBACK)
    message = start_link(tenant, response_type="token")
    assert message.link is not None

    query = redirect_query(follow(message.link))

    assert query["error"] == "unsupported_response_type"
    assert query["error_description"] == c.UNSUPPORTED_RESPONSE_TYPE.format(response_type="token")


@pytest.mark.parametrize(
    ("fields", "description"),
    [
        ({"otp": None}, c.MISSING_PARAMETER.format(name="otp")),
        ({"otp": 123456}, c.INVALID_PARAMETER.format(name="otp")),
    ],
    ids=["otp-missing", "otp-not-a-string"],
)
def test_token_parameters(tenant: RunningTenant, fields: dict[str, Any], description: str) -> None:
    body = {"grant_type": OTP_GRANT, "username": EMAIL, "realm": "email", **fields}

    response = token(tenant, as_json=True, **body)

    assert response.status_code == 400
    assert response.json() == {"error": "invalid_request", "error_description": description}


@pytest.mark.parametrize(
    ("fields", "description"),
    [
        ({"email": None}, c.MISSING_PROPERTY.format(name="email")),
        ({"email": 7}, c.NOT_A_STRING.format(type="integer")),
        ({"authParams": "x"}, c.AUTH_PARAMS_NOT_AN_OBJECT.format(type="string")),
        (
            {"authParams": {"max_age": 5}},
            c.AUTH_PARAM_NOT_A_STRING.format(name="max_age", type="integer"),
        ),
    ],
    ids=["email-missing", "email-not-a-string", "authParams-not-an-object", "authParam-number"],
)
def test_start_schema_failures(
    tenant: RunningTenant, fields: dict[str, Any], description: str
) -> None:
    response = start(tenant, **{"connection": "email", "email": EMAIL, **fields})

    assert response.status_code == 400
    assert response.json()["error_description"] == description


@pytest.mark.parametrize(
    ("authorization", "challenge"),
    [(None, c.USERINFO_CHALLENGE), ("Bearer unknown", c.USERINFO_CHALLENGE_INVALID)],
    ids=["no-token", "unknown-token"],
)
def test_userinfo_refusals(
    tenant: RunningTenant, authorization: str | None, challenge: str
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}

    response = requests.get(f"{tenant.url}/userinfo", headers=headers, timeout=TIMEOUT)

    assert response.status_code == 401
    assert response.text == c.USERINFO_REFUSED
    assert response.headers["WWW-Authenticate"] == challenge


@pytest.mark.parametrize(
    ("path", "params", "text"),
    [
        (
            "/v2/logout",
            {"client_id": CLIENT_ID, "returnTo": "http://elsewhere.test/"},
            c.LOGOUT_URL_NOT_ALLOWED.format(parameter="returnTo", url="http://elsewhere.test/"),
        ),
        (
            "/oidc/logout",
            {"post_logout_redirect_uri": "http://elsewhere.test/"},
            c.OIDC_LOGOUT_CLIENT_REQUIRED,
        ),
    ],
    ids=["v2-logout-url-not-allowed", "oidc-logout-without-client"],
)
def test_logout_refusals(
    tenant: RunningTenant, path: str, params: dict[str, str], text: str
) -> None:
    response = requests.get(
        f"{tenant.url}{path}", params=params, allow_redirects=False, timeout=TIMEOUT
    )

    assert response.status_code == 400
    assert c.ERROR_PAGE_TITLE in response.text
    assert html.escape(text) in response.text


def test_a_link_without_a_response_type(tenant: RunningTenant) -> None:
    tenant.app.allow_callback(CALLBACK)
    message = start_link(tenant, response_type="")
    assert message.link is not None

    query = redirect_query(follow(message.link))

    assert query["error"] == "invalid_request"
    assert query["error_description"] == c.MISSING_PARAMETER.format(name="response_type")


@pytest.mark.parametrize(
    ("method", "path", "status", "error", "description"),
    [
        ("GET", "/authorize", 404, c.NOT_FOUND_ERROR, c.NOT_FOUND),
        ("GET", "/oauth/token", 405, c.METHOD_NOT_ALLOWED_ERROR, c.METHOD_NOT_ALLOWED),
    ],
    ids=["not-found", "method-not-allowed"],
)
def test_paths_and_methods_not_served(
    tenant: RunningTenant, method: str, path: str, status: int, error: str, description: str
) -> None:
    response = requests.request(method, f"{tenant.url}{path}", timeout=TIMEOUT)

    assert response.status_code == status
    assert response.json() == {"error": error, "error_description": description}
