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


def test_jwks_publishes_two_keys_and_the_first_signs(tenant: RunningTenant) -> None:
    keys = requests.get(f"{tenant.url}/.well-known/jwks.json", timeout=TIMEOUT).json()["keys"]

    assert len(keys) == 2  # the signing key and the next one, as during Auth0's rotation
    for key in keys:
        assert (key["kty"], key["use"], key["alg"]) == ("RSA", "sig", "RS256")
        assert key["kid"]
        assert key["n"]
        assert key["e"] == "AQAB"
        assert len(key["x5c"]) == 1
        assert key["x5t"]
    assert keys[0]["kid"] != keys[1]["kid"]
    id_token = log_in(tenant)["id_token"]
    assert jwt.get_unverified_header(id_token)["kid"] == keys[0]["kid"]


@pytest.mark.parametrize("audience", [None, "https://api.test"], ids=["opaque", "jwt"])
def test_userinfo_without_openid(tenant: RunningTenant, audience: str | None) -> None:
    body = log_in(tenant, scope="profile email", audience=audience)

    response = requests.get(
        f"{tenant.url}/userinfo",
        headers={"Authorization": f"Bearer {body['access_token']}"},
        timeout=TIMEOUT,
    )

    if audience is None:  # an opaque token is for /userinfo, which has nothing to say
        assert (response.status_code, response.json()) == (200, {})
    else:  # a JWT lists /userinfo in its audience only with openid
        assert response.status_code == 401
        assert decode(tenant, body["access_token"], audience=audience)["aud"] == audience
