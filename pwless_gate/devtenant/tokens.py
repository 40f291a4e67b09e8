"""The tenant's signing key and the tokens it issues.

id_tokens and audience-bound access tokens are RS256 JWTs signed with an
RSA key generated at start-up, published with its ``kid`` in the JWKS.
Access tokens without an audience are opaque random strings, good only at
``/userinfo``. Refresh tokens rotate (see :mod:`.refresh`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from .constants import ACCESS_TOKEN_LIFETIME, RSA_KEY_BITS
from .refresh import RefreshTokens
from .users import Login


class SigningKey:
    """An RSA key pair, its JWK and its ``kid`` (the RFC 7638 thumbprint)."""

    def __init__(self, bits: int = RSA_KEY_BITS) -> None:
        self._private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        public = self._private.public_key().public_numbers()
        self._jwk = {"kty": "RSA", "n": _b64_uint(public.n), "e": _b64_uint(public.e)}
        canonical = json.dumps(self._jwk, sort_keys=True, separators=(",", ":"))
        self.kid = _b64(hashlib.sha256(canonical.encode()).digest())

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        """The public half, to verify what this key signed."""
        return self._private.public_key()

    def jwks(self) -> dict[str, object]:
        """Return the JSON Web Key Set publishing the public key."""
        return {"keys": [{**self._jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def sign(self, claims: dict[str, object]) -> str:
        """Return ``claims`` as an RS256 JWT whose header names this key."""
        return jwt.encode(claims, self._private, algorithm="RS256", headers={"kid": self.kid})


@dataclass(frozen=True)
class _AccessGrant:
    sub: str
    scopes: tuple[str, ...]
    expires_at: float


class TokenIssuer:
    """Mints token responses and remembers what each access and refresh token grants."""

    def __init__(
        self,
        key: SigningKey,
        clock: Callable[[], float],
        id_token_lifetime: int,
        *,
        refresh_tokens: RefreshTokens,
        access_token_lifetime: int = ACCESS_TOKEN_LIFETIME,
    ) -> None:
        self.key = key
        self._clock = clock
        self._id_token_lifetime = id_token_lifetime
        self._access: dict[str, _AccessGrant] = {}
        self.refresh_tokens = refresh_tokens
        #: ``expires_in`` of the access tokens issued from now on.
        self.access_token_lifetime = access_token_lifetime

    def respond(
        self, login: Login, issuer: str, *, refreshable: bool, refresh_token: str | None = None
    ) -> dict[str, object]:
        """Return the ``/oauth/token`` success body for ``login``.

        The id_token comes with the ``openid`` scope. A new refresh token
        family starts with ``offline_access`` when ``refreshable``;
        ``refresh_token``, a rotated one, is returned as it is.
        """
        now = int(self._clock())
        body: dict[str, object] = {"access_token": self._access_token(login, issuer, now)}
        if "openid" in login.scopes:
            body["id_token"] = self._id_token(login, issuer, now)
        if refreshable and "offline_access" in login.scopes:
            refresh_token = self.refresh_tokens.issue(login)
        if refresh_token is not None:
            body["refresh_token"] = refresh_token
        body["token_type"] = "Bearer"  # noqa: S105 - the scheme name, not a secret
        body["expires_in"] = self.access_token_lifetime
        if login.scopes:
            body["scope"] = " ".join(login.scopes)
        return body

    def refresh_login(self, refresh_token: str) -> Login | None:
        """Return the login a live refresh token was issued for, or None; nothing changes."""
        return self.refresh_tokens.login(refresh_token)

    def rotate(self, refresh_token: str) -> tuple[Login, str] | None:
        """Return the login a refresh token was issued for and the token replacing it,
        or None when it is refused (see :meth:`RefreshTokens.exchange`)."""
        return self.refresh_tokens.exchange(refresh_token)

    def access(self, access_token: str) -> tuple[str, tuple[str, ...]] | None:
        """Return the ``sub`` and scopes of a live access token, or None."""
        grant = self._access.get(access_token)
        if grant is None or grant.expires_at <= self._clock():
            return None
        return grant.sub, grant.scopes

    def _access_token(self, login: Login, issuer: str, now: int) -> str:
        expires_at = now + self.access_token_lifetime
        if login.audience is None:
            token = secrets.token_urlsafe(24)
        else:
            token = self.key.sign(
                {
                    "iss": issuer,
                    "sub": login.user.sub,
                    "aud": [login.audience, f"{issuer}userinfo"],
                    "iat": now,
                    "exp": expires_at,
                    "azp": login.client_id,
                    "scope": " ".join(login.scopes),
                }
            )
        self._access = {t: g for t, g in self._access.items() if g.expires_at > now}
        self._access[token] = _AccessGrant(login.user.sub, login.scopes, expires_at)
        return token

    def _id_token(self, login: Login, issuer: str, now: int) -> str:
        claims = login.user.claims(login.scopes)
        claims.update(
            iss=issuer,
            aud=login.client_id,
            iat=now,
            exp=now + self._id_token_lifetime,
            sid=login.sid,
        )
        if login.nonce is not None:
            claims["nonce"] = login.nonce
        return self.key.sign(claims)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64_uint(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))
