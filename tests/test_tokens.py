"""id_token verification against forged tokens, with a key set passed in."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from pwless_gate import TokenError
from pwless_gate.tokens import TokenVerifier

ISSUER = "https://tenant.example/"
CLIENT = "client-123"
NOW = 1_800_000_000


class Keys:
    """An RSA key, its JWKS, and a fetcher that counts its calls."""

    def __init__(self, kid: str = "k1") -> None:
        self.kid = kid
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.fetches = 0
        self.published = [self.jwk()]

    def jwk(self) -> dict[str, Any]:
        data = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key()))
        data.update(kid=self.kid, use="sig", alg="RS256")
        return dict(data)

    def fetch(self) -> dict[str, Any]:
        self.fetches += 1
        return {"keys": list(self.published)}

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        return jwt.encode(
            claims, self.private, algorithm="RS256", headers={"kid": self.kid, **header}
        )


def claims(**changes: Any) -> dict[str, Any]:
    base = {"iss": ISSUER, "aud": CLIENT, "sub": "email|abc", "iat": NOW, "exp": NOW + 36000}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


@pytest.fixture
def keys() -> Keys:
    return Keys()


@pytest.fixture
def verifier(keys: Keys) -> TokenVerifier:
    return TokenVerifier(issuer=ISSUER, client_id=CLIENT, fetch_jwks=keys.fetch, clock=lambda: NOW)


def test_valid_token(verifier: TokenVerifier, keys: Keys) -> None:
    got = verifier.verify(keys.sign(claims(nonce="n1")), nonce="n1", connection="email")
    assert got["sub"] == "email|abc"
    verifier.verify(keys.sign(claims()))
    assert keys.fetches == 1


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "change",
    [
        {"iss": "https://evil.example/"},
        {"iss": "https://tenant.example"},
        {"aud": "other-client"},
        {"aud": [CLIENT, "other"], "azp": "other"},
        {"azp": "other"},
        {"exp": NOW - 61},
        {"iat": NOW + 3600},
        {"nbf": NOW + 3600},
        {"sub": None},
        {"exp": "tomorrow"},
    ],
    ids=[
        "wrong-iss",
        "iss-no-slash",
        "wrong-aud",
        "aud-list-wrong-azp",
        "wrong-azp",
        "expired",
        "issued-in-future",
        "not-yet-valid",
        "no-sub",
        "exp-not-number",
    ],
)
def test_rejected_claims(verifier: TokenVerifier, keys: Keys, change: dict[str, Any]) -> None:
    with pytest.raises(TokenError):
        verifier.verify(keys.sign(claims(**change)))


def test_leeway_allows_small_skew(verifier: TokenVerifier, keys: Keys) -> None:
    verifier.verify(keys.sign(claims(exp=NOW - 30, iat=NOW + 30)))


def test_nonce_mismatch_and_missing(verifier: TokenVerifier, keys: Keys) -> None:
    with pytest.raises(TokenError):
        verifier.verify(keys.sign(claims(nonce="other")), nonce="mine")
    with pytest.raises(TokenError):
        verifier.verify(keys.sign(claims()), nonce="mine")


def test_other_connection_refused(verifier: TokenVerifier, keys: Keys) -> None:
    with pytest.raises(TokenError):
        verifier.verify(keys.sign(claims(sub="sms|abc")), connection="email")


def test_alg_none_refused(verifier: TokenVerifier) -> None:
    token = f"{b64({'alg': 'none', 'kid': 'k1'})}.{b64(claims())}."
    with pytest.raises(TokenError):
        verifier.verify(token)


def test_hs256_with_public_key_refused(verifier: TokenVerifier, keys: Keys) -> None:
    public_pem = keys.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = b64({"alg": "HS256", "kid": "k1", "typ": "JWT"})
    body = b64(claims())
    import hashlib
    import hmac

    mac = hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    token = f"{header}.{body}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    with pytest.raises(TokenError):
        verifier.verify(token)


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "a.b", "....", "é.é.é"])
def test_malformed_tokens(verifier: TokenVerifier, token: str) -> None:
    with pytest.raises(TokenError):
        verifier.verify(token)


def test_signed_by_another_key_refused(verifier: TokenVerifier) -> None:
    impostor = Keys(kid="k1")
    with pytest.raises(TokenError):
        verifier.verify(impostor.sign(claims()))


def test_unknown_kid_refetches_once_then_is_rate_limited(keys: Keys) -> None:
    now = [float(NOW)]
    verifier = TokenVerifier(
        issuer=ISSUER, client_id=CLIENT, fetch_jwks=keys.fetch, clock=lambda: now[0], min_refresh=30
    )
    verifier.verify(keys.sign(claims()))
    rotated = Keys(kid="k2")
    keys.published.append(rotated.jwk())
    # A new kid right away is within min_refresh: refused without a refetch.
    with pytest.raises(TokenError):
        verifier.verify(rotated.sign(claims()))
    assert keys.fetches == 1
    now[0] += 31
    assert verifier.verify(rotated.sign(claims()))["sub"] == "email|abc"
    assert keys.fetches == 2
    forged = Keys(kid="k-forged")
    for _ in range(20):
        with pytest.raises(TokenError):
            verifier.verify(forged.sign(claims()))
    assert keys.fetches == 2


def test_real_time_default_clock(keys: Keys) -> None:
    verifier = TokenVerifier(issuer=ISSUER, client_id=CLIENT, fetch_jwks=keys.fetch)
    fresh = int(time.time())
    assert verifier.verify(keys.sign(claims(iat=fresh, exp=fresh + 60)))
