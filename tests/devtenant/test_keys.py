"""Signing keys: certificates in the JWKS, and a rotation that verifiers survive."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import jwt
import requests
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from pwless_gate.devtenant import RunningTenant

from .calls import TIMEOUT, decode, log_in


def published(tenant: RunningTenant) -> list[dict[str, Any]]:
    keys: list[dict[str, Any]] = requests.get(
        f"{tenant.url}/.well-known/jwks.json", timeout=TIMEOUT
    ).json()["keys"]
    return keys


def _b64url_int(value: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")


def test_each_key_carries_its_certificate_and_thumbprint(tenant: RunningTenant) -> None:
    for key in published(tenant):
        der = base64.b64decode(key["x5c"][0])
        certificate = x509.load_der_x509_certificate(der)
        public = certificate.public_key()
        assert isinstance(public, rsa.RSAPublicKey)
        numbers = public.public_numbers()

        assert (numbers.n, numbers.e) == (_b64url_int(key["n"]), _b64url_int(key["e"]))
        sha1 = hashlib.sha1(der, usedforsecurity=False).digest()
        assert key["x5t"] == base64.urlsafe_b64encode(sha1).rstrip(b"=").decode()
        common_name = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        assert common_name[0].value == "127.0.0.1"
        assert certificate.issuer == certificate.subject  # self-signed, as Auth0's are


def test_rotation_signs_with_the_published_next_key(tenant: RunningTenant) -> None:
    before = [key["kid"] for key in published(tenant)]
    old_token = log_in(tenant)["id_token"]

    tenant.app.rotate_signing_key()
    after = [key["kid"] for key in published(tenant)]
    new_token = log_in(tenant, "bob@example.com")["id_token"]

    assert jwt.get_unverified_header(new_token)["kid"] == before[1] == after[0]
    assert after[2] == before[0]  # the old key stays published
    assert len(set(after)) == 3
    # A relying party with the JWKS verifies both.
    assert decode(tenant, old_token)["email"] == "ada@example.com"
    assert decode(tenant, new_token)["email"] == "bob@example.com"


def test_revoking_retired_keys_unpublishes_them(tenant: RunningTenant) -> None:
    first = published(tenant)[0]["kid"]
    tenant.app.rotate_signing_key()

    tenant.app.revoke_retired_keys()

    kids = [key["kid"] for key in published(tenant)]
    assert len(kids) == 2
    assert first not in kids
