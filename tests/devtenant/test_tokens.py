"""The tokens the tenant issues: id_token claims and lifetime, JWT or opaque access tokens."""

from __future__ import annotations

import re

import jwt
import pytest
import requests

from pwless_gate.devtenant import RunningTenant

from ..helpers import CLIENT_ID, FakeClock
from .calls import (
    EMAIL,
    PHONE,
    TIMEOUT,
    MakeTenant,
    decode,
    log_in,
    otp,
    start_sms,
)


def test_email_id_token_claims(tenant: RunningTenant, clock: FakeClock) -> None:
    body = log_in(tenant, EMAIL, scope="openid profile email")

    claims = decode(tenant, body["id_token"])

    assert claims["iss"] == f"{tenant.url}/"
    assert claims["aud"] == CLIENT_ID
    assert claims["iat"] == int(clock.now)
    assert claims["exp"] - claims["iat"] == 36000
    assert claims["sid"]
    assert "nonce" not in claims
    assert (claims["email"], claims["email_verified"]) == (EMAIL, True)
    assert (claims["name"], claims["nickname"]) == (EMAIL, "ada")
    assert claims["picture"].startswith("https://")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", claims["updated_at"])
    assert jwt.get_unverified_header(body["id_token"])["alg"] == "RS256"


def test_sms_id_token_claims(tenant: RunningTenant) -> None:
    message = start_sms(tenant)

    body = otp(tenant, PHONE, message.code, realm="sms", scope="openid profile phone").json()
    claims = decode(tenant, body["id_token"])

    assert re.fullmatch(r"sms\|[0-9a-f]{24}", claims["sub"])
    assert (claims["name"], claims["nickname"]) == (PHONE, PHONE)
    assert (claims["phone_number"], claims["phone_number_verified"]) == (PHONE, True)
    assert claims["picture"].startswith("https://")
    assert "email" not in claims


@pytest.mark.parametrize("scope", ["openid profile", "openid profile email"])
def test_sms_id_token_has_the_phone_number_only_with_the_phone_scope(
    tenant: RunningTenant, scope: str
) -> None:
    message = start_sms(tenant)

    body = otp(tenant, PHONE, message.code, realm="sms", scope=scope).json()
    claims = decode(tenant, body["id_token"])

    assert claims["name"] == PHONE
    assert "phone_number" not in claims
    assert "phone_number_verified" not in claims


def test_id_token_lifetime_follows_the_setting(make_tenant: MakeTenant) -> None:
    tenant = make_tenant(id_token_lifetime=600)

    claims = decode(tenant, log_in(tenant)["id_token"])

    assert claims["exp"] - claims["iat"] == 600


def test_no_id_token_without_openid(tenant: RunningTenant) -> None:
    body = log_in(tenant, scope="profile email")

    assert "id_token" not in body
    assert "access_token" in body


def test_an_audience_makes_the_access_token_a_jwt(tenant: RunningTenant) -> None:
    body = log_in(tenant, scope="openid email", audience="https://api.test")

    claims = decode(tenant, body["access_token"], audience="https://api.test")

    assert claims["aud"] == ["https://api.test", f"{tenant.url}/userinfo"]
    assert (claims["azp"], claims["scope"]) == (CLIENT_ID, "openid email")
    userinfo = requests.get(
        f"{tenant.url}/userinfo",
        headers={"Authorization": f"Bearer {body['access_token']}"},
        timeout=TIMEOUT,
    )
    assert userinfo.json()["email"] == EMAIL


def test_without_an_audience_the_access_token_is_opaque(tenant: RunningTenant) -> None:
    access_token = log_in(tenant)["access_token"]

    with pytest.raises(jwt.DecodeError):
        jwt.get_unverified_header(access_token)
