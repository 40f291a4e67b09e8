"""Machines: Auth0 client-credentials bearer tokens for the clients an operator allows.

A machine (a script, a CI job, another service) gets an access token from the
tenant with the client-credentials grant for the gate's ``audience`` and sends
it as ``Authorization: Bearer <JWT>``. :class:`Machines` admits it when the
token verifies as the tenant's access tokens do
(:class:`~pwless_gate.idtokens.AccessTokenVerifier`: RS256, ``iss``, ``aud``
contains ``audience``, ``exp``/``iat`` with leeway, the shared JWKS cache) and
names an allowed client: the client id (``azp``; ``client_id`` when there is no
``azp``) is one of ``allowed_clients``, ``sub`` is ``<client id>@clients``, and
``gty`` is ``client-credentials``. An API set to Auth0's RFC 9068 access token
profile issues tokens without ``gty`` (and with ``client_id`` for ``azp``, a
``jti``, header ``typ`` ``at+jwt``): without ``gty``, the header's ``typ`` must
be ``at+jwt`` (or ``application/at+jwt``), and ``sub`` ``<client id>@clients``
is what tells the grant (a person's token names the person). The wrapped app
then sees ``REMOTE_USER`` = ``sub`` and ``pwless_gate.auth_method`` =
``client-credentials``; no cookie is set.

Verified tokens are kept in a bounded cache keyed by a SHA-256 of the token
until they expire, so a machine's next request costs a hash and a lookup.
Refused tokens are not cached (each costs one signature check; a forged
``kid`` is rate-limited by the JWKS cache).

What it does not do: it takes no ``pwg_`` app tokens (:mod:`pwless_gate.apptokens`)
and no other scheme; it does not check scopes (the app reads ``scope`` from
the claims if it cares); a token cannot be revoked before it expires, as with
Auth0 itself (remove the client from ``allowed_clients`` and restart, or
delete the client grant and wait for ``exp``).
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cachetools import FIFOCache

from .errors import TokenError
from .idtokens import AccessTokenVerifier, signed_header
from .rules import MACHINE
from .sessions import CachedSession, Session, User

#: ``pwless_gate.auth_method`` of a request admitted by a client-credentials token.
AUTH_METHOD = MACHINE
#: The ``gty`` claim Auth0 puts in tokens of the client-credentials grant.
GRANT_TYPE_CLAIM = "client-credentials"
#: Header ``typ`` of an access token in the RFC 9068 profile (RFC 9068, 2.1; compared
#: without regard to case, as media types are).
AT_JWT_TYPES = frozenset({"at+jwt", "application/at+jwt"})
#: App tokens (another module's) start with this; such a bearer token is not a machine's.
APP_TOKEN_PREFIX = "pwg_"  # noqa: S105 - a prefix, not a secret
#: Longer bearer tokens are refused unread (Auth0's access tokens are about 1 KB).
MAX_TOKEN_BYTES = 8192
#: Three base64url parts: header, claims, signature.
_JWT_SHAPE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")


def bearer_token(headers: Mapping[str, Any]) -> str | None:
    """The token of an ``Authorization: Bearer`` header meant for machines, or None.

    None without the header, for another scheme, or for an app token (``pwg_…``).
    Anything else after ``Bearer`` is returned, well-formed or not, so that a
    malformed token is refused as ``invalid_token`` rather than ignored.
    """
    value = headers.get("HTTP_AUTHORIZATION")
    if not value or not isinstance(value, str):
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = token.strip()
    if token.startswith(APP_TOKEN_PREFIX):
        return None
    return token


class Machines:
    """Verifies client-credentials bearer tokens and caches the verified ones.

    ``allowed_clients`` are the client ids admitted; ``verifier`` checks the
    token itself; ``maxsize`` bounds the cache of verified tokens.
    """

    def __init__(
        self,
        verifier: AccessTokenVerifier,
        allowed_clients: Iterable[str],
        *,
        clock: Callable[[], float] = time.time,
        maxsize: int = 10_000,
    ) -> None:
        self.verifier = verifier
        self.allowed_clients = frozenset(allowed_clients)
        self._clock = clock
        self._cache: FIFOCache[bytes, CachedSession] = FIFOCache(maxsize=maxsize)
        self._lock = threading.Lock()

    def cached(self, token: str) -> CachedSession | None:
        """The machine a token verified earlier admits, while it lives; else None.

        No network, no signature check: a hash and a lookup.
        """
        entry = self._cache.get(_key(token))
        if entry is None:
            return None
        if entry.fresh_until < self._clock():
            with self._lock:
                self._cache.pop(_key(token), None)
            return None
        return entry

    def verify(self, token: str) -> CachedSession:
        """Verify ``token`` and return the machine it admits (cached until it expires).

        Raises :class:`~pwless_gate.errors.TokenError` for any token that is not
        a live client-credentials token of an allowed client for the audience,
        and :class:`~pwless_gate.errors.Auth0Unavailable` when the tenant's keys
        cannot be fetched.
        """
        entry = self.cached(token)
        if entry is not None:
            return entry
        if len(token) > MAX_TOKEN_BYTES or not _JWT_SHAPE.match(token):
            raise TokenError("not a JWT")
        claims = self.verifier.verify(token)
        self._check_client(claims, signed_header(token))
        entry = _entry(token, claims, claims["exp"] + self.verifier.leeway)
        with self._lock:
            self._cache[_key(token)] = entry
        return entry

    def _check_client(self, claims: Mapping[str, Any], header: Mapping[str, Any]) -> None:
        """Refuse a verified token that is no client-credentials token of an allowed
        client, in either of Auth0's access token profiles."""
        client_id = claims["azp"] if "azp" in claims else claims.get("client_id")
        sub = claims.get("sub")
        if not isinstance(client_id, str) or not isinstance(sub, str):
            raise TokenError("azp (or client_id) and sub must be strings")
        if "azp" in claims and "client_id" in claims and claims["client_id"] != client_id:
            raise TokenError("azp and client_id name different clients")
        if "gty" in claims:
            if claims["gty"] != GRANT_TYPE_CLAIM:
                raise TokenError("not a client-credentials token (gty)")
        elif not _at_jwt(header):
            # RFC 9068's profile has no gty; Auth0's own leaves it out of people's tokens.
            raise TokenError("no gty, and not an RFC 9068 access token (typ)")
        if client_id not in self.allowed_clients:
            raise TokenError(f"client {client_id!r} is not in PWLESS_GATE_ALLOWED_CLIENTS")
        if sub != client_id + "@clients":
            # A person's token names the person: without gty, this is what tells them apart.
            raise TokenError("sub does not name the client")


def _at_jwt(header: Mapping[str, Any]) -> bool:
    typ = header.get("typ")
    return isinstance(typ, str) and typ.lower() in AT_JWT_TYPES


def _key(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()


def _entry(token: str, claims: dict[str, Any], until: float) -> CachedSession:
    """The environ a verified machine's requests get, as a cache entry."""
    sub = str(claims["sub"])
    user = User.from_claims(claims)
    session = Session(
        sid="",
        remote_user=sub,
        connection=AUTH_METHOD,
        claims=claims,
        created_at=float(claims["iat"]),
        expires_at=float(until),
    )
    environ: dict[str, Any] = {
        "REMOTE_USER": sub,
        "pwless_gate.user": user,
        "pwless_gate.auth_method": AUTH_METHOD,
        "pwless_gate.access_token": token,
    }
    return CachedSession(session=session, user=user, environ=environ, fresh_until=until)
