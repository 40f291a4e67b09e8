"""OpenID discovery, the JWKS and ``/userinfo``."""

from __future__ import annotations

import jwt
import pytest
import requests

from pwless_gate.devtenant import RunningTenant

from ..helpers import FakeClock
from .calls import (
    EMAIL,
    TIMEOUT,
    decode,
    log_in,
)


def test_userinfo_returns_the_claims_of_the_token(tenant: RunningTenant) -> None:
    body = log_in(tenant, scope="openid profile email")
    claims = decode(tenant, body["id_token"])

    response = requests.get(
        f"{tenant.url}/userinfo",
        headers={"Authorization": f"Bearer {body['access_token']}"},
        timeout=TIMEOUT,
    )

    assert response.status_code == 200
    info = response.json()
    assert info["sub"] == claims["sub"]
    assert (info["email"], info["email_verified"], info["nickname"]) == (EMAIL, True, "ada")


@pytest.mark.parametrize(
    "authorization",
    [None, "Basic YTpi", "Bearer ", "Bearer not-a-token", "EXPIRED"],
    ids=["missing", "basic", "empty-bearer", "unknown-token", "expired"],
)
def test_userinfo_requires_a_live_access_token(
    tenant: RunningTenant, clock: FakeClock, authorization: str | None
) -> None:
    if authorization == "EXPIRED":
        authorization = f"Bearer {log_in(tenant)['access_token']}"
        clock.advance(86401)
    headers = {"Authorization": authorization} if authorization else {}

    response = requests.get(f"{tenant.url}/userinfo", headers=headers, timeout=TIMEOUT)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_discovery_document_points_at_the_tenant(tenant: RunningTenant) -> None:
    config = requests.get(f"{tenant.url}/.well-known/openid-configuration", timeout=TIMEOUT).json()

    assert config["issuer"] == f"{tenant.url}/"
    assert config["token_endpoint"] == f"{tenant.url}/oauth/token"
    assert config["userinfo_endpoint"] == f"{tenant.url}/userinfo"
    assert config["jwks_uri"] == f"{tenant.url}/.well-known/jwks.json"
    assert config["end_session_endpoint"].startswith(tenant.url)
    assert config["id_token_signing_alg_values_supported"] == ["RS256"]
    assert tenant.app.issuer == config["issuer"]


def test_jwks_publishes_one_rsa_signing_key(tenant: RunningTenant) -> None:
    keys = requests.get(f"{tenant.url}/.well-known/jwks.json", timeout=TIMEOUT).json()["keys"]

    assert len(keys) == 1
    key = keys[0]
    assert (key["kty"], key["use"], key["alg"]) == ("RSA", "sig", "RS256")
    assert key["kid"]
    assert key["n"]
    assert key["e"] == "AQAB"
    id_token = log_in(tenant)["id_token"]
    assert jwt.get_unverified_header(id_token)["kid"] == key["kid"]
