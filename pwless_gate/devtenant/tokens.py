"""The tokens the tenant issues.

id_tokens and audience-bound access tokens are RS256 JWTs signed with the
current key of the tenant's :class:`~.keys.KeyRing`, published in the JWKS;
access tokens take the shape of their API's token profile (see ``constants.py``).
Access tokens without an audience are opaque random strings, good only at
``/userinfo``. Refresh tokens rotate (see :mod:`.refresh`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .constants import (
    ACCESS_TOKEN_LIFETIME,
    CLIENT_CREDENTIALS_GTY,
    MACHINE_SUB_SUFFIX,
    RFC9068_TYP,
)
from .keys import KeyRing
from .refresh import RefreshTokens
from .users import Login


@dataclass(frozen=True)
class _AccessGrant:
    sub: str
    scopes: tuple[str, ...]
    expires_at: float
    #: Good at ``/userinfo``: always when opaque; a JWT only when it lists it in ``aud``.
    userinfo: bool


class TokenIssuer:
    """Mints token responses and remembers what each access and refresh token grants."""

    def __init__(
        self,
        key: KeyRing,
        clock: Callable[[], float],
        id_token_lifetime: int,
        *,
        refresh_tokens: RefreshTokens,
        access_token_lifetime: int = ACCESS_TOKEN_LIFETIME,
        roles_claim: str | None = None,
        roles: Mapping[str, tuple[str, ...]] | None = None,
        rfc9068_apis: frozenset[str] = frozenset(),
    ) -> None:
        self.key = key
        #: The APIs whose access tokens follow the RFC 9068 profile (the others: Auth0's).
        self.rfc9068_apis = rfc9068_apis
        #: As a post-login Action that sets ``event.authorization.roles`` under this
        #: claim in id_tokens and access tokens (JWTs) does; None: no such Action.
        self.roles_claim = roles_claim
        self.roles = dict(roles or {})
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

    def client_credentials(
        self, client_id: str, audience: str, scopes: tuple[str, ...], issuer: str
    ) -> dict[str, object]:
        """Return the ``/oauth/token`` success body of the client-credentials grant:
        a JWT access token for ``audience`` naming the machine (see ``constants.py``)."""
        now = int(self._clock())
        claims: dict[str, object] = {
            "iss": issuer,
            "sub": client_id + MACHINE_SUB_SUFFIX,
            "aud": audience,
            "iat": now,
            "exp": now + self.access_token_lifetime,
        }
        if scopes:
            claims["scope"] = " ".join(scopes)
        if audience in self.rfc9068_apis:
            claims.update(client_id=client_id, jti=_jti())
            token = self.key.sign(claims, RFC9068_TYP)
        else:
            claims.update(gty=CLIENT_CREDENTIALS_GTY, azp=client_id)
            token = self.key.sign(claims)
        body: dict[str, object] = {"access_token": token}
        if scopes:
            body["scope"] = " ".join(scopes)
        body["expires_in"] = self.access_token_lifetime
        body["token_type"] = "Bearer"  # noqa: S105 - the scheme name, not a secret
        return body

    def rotate(self, refresh_token: str, vet: Callable[[Login], None]) -> tuple[Login, str] | None:
        """Return the login a refresh token was issued for and the token replacing it,
        or None when it is refused; ``vet`` may refuse it too, by raising, once reuse
        detection let it through (see :meth:`RefreshTokens.exchange`)."""
        return self.refresh_tokens.exchange(refresh_token, vet)

    def access(self, access_token: str) -> tuple[str, tuple[str, ...]] | None:
        """Return the ``sub`` and scopes of a live access token good at ``/userinfo``, or None."""
        grant = self._access.get(access_token)
        if grant is None or grant.expires_at <= self._clock() or not grant.userinfo:
            return None
        return grant.sub, grant.scopes

    def _access_token(self, login: Login, issuer: str, now: int) -> str:
        expires_at = now + self.access_token_lifetime
        userinfo = login.audience is None or "openid" in login.scopes
        if login.audience is None:
            token = secrets.token_urlsafe(24)
        else:
            # /userinfo joins the audience only with openid (as Auth0 does).
            audience = [login.audience, f"{issuer}userinfo"] if userinfo else login.audience
            claims: dict[str, object] = {
                "iss": issuer,
                "sub": login.user.sub,
                "aud": audience,
                "iat": now,
                "exp": expires_at,
                "azp": login.client_id,
                "scope": " ".join(login.scopes),
            }
            self._add_roles(claims, login)
            if login.audience in self.rfc9068_apis:
                claims["client_id"] = claims.pop("azp")
                claims["jti"] = _jti()
                token = self.key.sign(claims, RFC9068_TYP)
            else:
                token = self.key.sign(claims)
        self._access = {t: g for t, g in self._access.items() if g.expires_at > now}
        self._access[token] = _AccessGrant(login.user.sub, login.scopes, expires_at, userinfo)
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
        self._add_roles(claims, login)
        return self.key.sign(claims)

    def _add_roles(self, claims: dict[str, object], login: Login) -> None:
        """The user's roles under :attr:`roles_claim` (an empty list for none, as
        ``event.authorization.roles`` is), when an Action is set up to add them."""
        if self.roles_claim is not None:
            claims[self.roles_claim] = list(self.roles.get(login.user.identifier, ()))


def _jti() -> str:
    """A new token id, as the RFC 9068 profile gives each access token."""
    return secrets.token_urlsafe(16)
