"""JWT verification with PyJWT: the JWKS cache, id_tokens and access tokens.

:class:`JwksCache` holds the tenant's keys: fetched once and kept. A token
signed with a ``kid`` the cache does not know triggers one refetch, at most
every ``min_refresh`` seconds, so a key rotation at Auth0 is picked up and a
flood of forged ``kid`` values cannot turn into a flood of JWKS requests. A
fetch that failed is not tried again for a few seconds: while the tenant is
down, tokens with keys not yet known are answered "unavailable" at once
instead of each waiting out a timeout. One cache serves both verifiers of a
gate.

:class:`TokenVerifier` checks id_tokens (RS256 only, iss, aud is the client,
azp, exp/iat with leeway, nonce); :class:`AccessTokenVerifier` checks JWT
access tokens for an API (the same rules, with ``aud`` containing the API's
identifier). :func:`issued_for` applies the id_token's ``iss``, ``aud`` and
``azp`` rules again to claims kept from a sign-in (a session, an app token),
whose tenant or client may no longer be the gate's. This module trusts nothing
in a token before the signature is checked, and checks nothing about who may
enter (that is :mod:`pwless_gate.identity` for people,
:mod:`pwless_gate.machines` for machines).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeGuard

import jwt
from jwt.utils import base64url_decode, base64url_encode

from .errors import Auth0Unavailable, PwlessGateError, TokenError

ALGORITHM = "RS256"
REQUIRED_CLAIMS = ("iss", "sub", "aud", "exp", "iat")
#: Seconds after a failed JWKS fetch before the next try (until then: unavailable, 503).
RETRY_FAILED_FETCH = 5.0
#: The longest token header read (Auth0's are under 100 characters).
MAX_HEADER = 1024

JwksFetcher = Callable[[], dict[str, Any]]

#: base64url text without its padding (RFC 7515 section 2).
_BASE64URL = re.compile(rb"[A-Za-z0-9_-]*")


class _Jws(jwt.PyJWS):
    """PyJWT's JWS reading, a segment's alphabet checked by one regex.

    Recent PyJWT checks each character of each segment in a Python generator: about
    half of its work on an id_token, a third of the Python lines a sign-in runs. This
    is its check otherwise unchanged (padding, alphabet, canonical encoding), refusing
    the same segments with the same errors (``tests/test_tokens.py`` holds the two to
    it). A PyJWT without that method never calls this one.
    """

    @staticmethod
    def _decode_base64url_segment(segment: bytes, name: str) -> bytes:
        stripped = segment.rstrip(b"=")
        padding = len(segment) - len(stripped)
        if (
            padding > 2
            or (padding and len(segment) % 4 != 0)
            or len(stripped) % 4 == 1
            or _BASE64URL.fullmatch(stripped) is None
        ):
            raise jwt.DecodeError(f"Invalid {name} padding")
        try:
            decoded = base64url_decode(stripped)
        except (TypeError, binascii.Error) as err:
            raise jwt.DecodeError(f"Invalid {name} padding") from err
        if base64url_encode(decoded) != stripped:
            raise jwt.DecodeError(f"Invalid {name} padding")
        return decoded


class _Jwt(jwt.PyJWT):
    """PyJWT's JWT checks over :class:`_Jws` (a PyJWT before 2.11, with no JWS reader
    of its own, reads with the module's)."""

    def __init__(self) -> None:
        super().__init__()
        own = getattr(self, "_jws", None)
        if isinstance(own, jwt.PyJWS):
            self._jws = _Jws(options=own.options)


_JWT = _Jwt()


class JwksCache:
    """The tenant's signing keys by ``kid``, refetched for an unknown ``kid`` at most
    every ``min_refresh`` seconds. Thread-safe; shared by a gate's verifiers."""

    def __init__(
        self,
        fetch_jwks: JwksFetcher,
        *,
        clock: Callable[[], float] = time.time,
        min_refresh: float = 30.0,
    ) -> None:
        self._fetch = fetch_jwks
        self._clock = clock
        self._min_refresh = min_refresh
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._failed_at: float | None = None
        self._lock = threading.Lock()

    def key(self, kid: str) -> jwt.PyJWK:
        """The key for ``kid``; raises :class:`TokenError` for a ``kid`` the tenant does
        not publish, :class:`~pwless_gate.errors.Auth0Unavailable` when the keys cannot
        be fetched (and, without another try, for :data:`RETRY_FAILED_FETCH` seconds
        after a fetch failed: tokens with unknown ``kid`` values arriving while the
        tenant is down must not each wait out a timeout).

        A known key is read without waiting: the keys are replaced whole, never
        changed in place, and a fetch holds only its own lock. Any failed fetch
        counts (no answer, a 5xx, a 429 or another refusal, no usable key), so a
        stream of made-up ``kid`` values costs the tenant one fetch per
        :data:`RETRY_FAILED_FETCH` seconds at most, whatever it answers.
        """
        key = self._keys.get(kid)
        if key is not None:
            return key
        with self._lock:
            key = self._keys.get(kid)  # fetched by another thread while this one waited
            if key is not None:
                return key
            now = self._clock()
            if self._failed_at is not None and now - self._failed_at < RETRY_FAILED_FETCH:
                raise Auth0Unavailable(
                    "the tenant's signing keys could not be fetched "
                    f"{now - self._failed_at:.0f} s ago; the next try is after "
                    f"{RETRY_FAILED_FETCH:.0f} s",
                    status_code=503,
                )
            recently = self._fetched_at is not None and now - self._fetched_at < self._min_refresh
            if recently:
                raise TokenError(f"unknown kid {kid!r}")
            try:
                keys = _parse_jwks(self._fetch())
            except PwlessGateError as exc:
                self._failed_at = now
                if isinstance(exc, Auth0Unavailable):
                    raise
                raise Auth0Unavailable(
                    f"the tenant's signing keys could not be fetched: {exc}", status_code=503
                ) from exc
            if not keys:
                # Keep the keys known so far: an empty or unusable set is a failure.
                self._failed_at = now
                raise Auth0Unavailable(
                    "the tenant's JWKS holds no usable RS256 signing key", status_code=503
                )
            self._keys = keys
            self._failed_at = None
            self._fetched_at = now
            key = keys.get(kid)
        if key is None:
            raise TokenError(f"unknown kid {kid!r}")
        return key


def decode(
    token: str,
    keys: JwksCache,
    *,
    issuer: str,
    audience: str,
    now: float,
    leeway: int,
) -> dict[str, Any]:
    """The claims of an RS256 JWT from ``issuer`` whose ``aud`` is or contains ``audience``.

    Checks the signature (``kid`` from ``keys``), ``iss``, ``aud``, the required
    claims, and ``exp``/``iat``/``nbf`` against ``now`` with ``leeway`` seconds.
    Raises :class:`TokenError`, or :class:`~pwless_gate.errors.Auth0Unavailable`
    when the keys cannot be fetched.
    """
    header = _header(token)
    if header.get("alg") != ALGORITHM:
        raise TokenError(f"algorithm {header.get('alg')!r} is not {ALGORITHM}")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenError("token header has no kid")
    key = keys.key(kid)
    try:
        claims: dict[str, Any] = _JWT.decode(
            token,
            key=key.key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            # Time is checked below against the injected clock.
            options={
                "require": list(REQUIRED_CLAIMS),
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise TokenError(f"rejected: {exc}") from exc
    _check_time(claims, now, leeway)
    return claims


def signed_header(token: str) -> dict[str, Any]:
    """The header of a token :func:`decode` accepted (so signed with the claims);
    raises :class:`TokenError` for one that is not base64url JSON."""
    return _header(token)


def _header(token: str) -> dict[str, Any]:
    """The token's header, read only to pick the algorithm and key: nothing in it is
    trusted until ``jwt.decode`` has checked the whole token (and read the header again).

    ``jwt.get_unverified_header`` would decode and check every part of the token,
    which ``jwt.decode`` then does once more.
    """
    segment = token.partition(".")[0] if isinstance(token, str) else ""
    if len(segment) > MAX_HEADER or not segment.isascii() or "=" in segment:
        raise TokenError("malformed token: header is not base64url")
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except ValueError as exc:  # binascii.Error and JSONDecodeError are ValueErrors
        raise TokenError(f"malformed token: {exc}") from exc
    if not isinstance(header, dict):
        raise TokenError("malformed token: header is not an object")
    return header


def _check_time(claims: dict[str, Any], now: float, leeway: int) -> None:
    exp, iat, nbf = claims.get("exp"), claims.get("iat"), claims.get("nbf", 0)
    if not (_number(exp) and _number(iat) and _number(nbf)):
        raise TokenError("exp, iat and nbf must be numbers")
    if now > exp + leeway:
        raise TokenError("token has expired")
    if iat > now + leeway or nbf > now + leeway:
        raise TokenError("token is not valid yet")


class TokenVerifier:
    """Verifies id_tokens issued by one Auth0 tenant for one client.

    ``keys`` is the gate's shared :class:`JwksCache`; without one, a cache of
    its own is made from ``fetch_jwks`` and ``min_refresh``.
    """

    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        fetch_jwks: JwksFetcher | None = None,
        clock: Callable[[], float] = time.time,
        leeway: int = 60,
        min_refresh: float = 30.0,
        keys: JwksCache | None = None,
    ) -> None:
        if keys is None:
            if fetch_jwks is None:
                raise TypeError("TokenVerifier needs keys or fetch_jwks")
            keys = JwksCache(fetch_jwks, clock=clock, min_refresh=min_refresh)
        self.issuer = issuer
        self.client_id = client_id
        self.keys = keys
        self._clock = clock
        self._leeway = leeway

    def verify(
        self, token: str, *, nonce: str | None = None, connection: str | None = None
    ) -> dict[str, Any]:
        """Return the claims of a valid id_token, or raise :class:`TokenError`.

        ``nonce``, when given, must equal the token's ``nonce`` claim;
        ``connection``, when given, must be the one that issued ``sub``
        (``email|…``, ``sms|…``). Raises
        :class:`~pwless_gate.errors.Auth0Unavailable` when the keys cannot be
        fetched.
        """
        claims = decode(
            token,
            self.keys,
            issuer=self.issuer,
            audience=self.client_id,
            now=self._clock(),
            leeway=self._leeway,
        )
        self._check_azp(claims)
        self._check_nonce(claims, nonce)
        if connection is not None and not str(claims["sub"]).startswith(connection + "|"):
            raise TokenError(f"token is not from the {connection} connection")
        return claims

    def _check_azp(self, claims: dict[str, Any]) -> None:
        if not _azp_allows(claims, self.client_id):
            raise TokenError("azp does not name this client")

    @staticmethod
    def _check_nonce(claims: dict[str, Any], nonce: str | None) -> None:
        if nonce is None:
            return
        got = claims.get("nonce")
        if not isinstance(got, str) or not hmac.compare_digest(got.encode(), nonce.encode()):
            raise TokenError("nonce does not match this sign-in")


def _azp_allows(claims: Mapping[str, Any], client_id: str) -> bool:
    """``azp`` names the client when there is one, and is there when ``aud`` names several."""
    aud = claims.get("aud")
    azp = claims.get("azp")
    if isinstance(aud, list) and len(aud) > 1 and azp != client_id:
        return False
    return azp is None or azp == client_id


def issued_for(claims: Mapping[str, Any], *, issuer: str, client_id: str) -> bool:
    """Whether claims kept from a verified id_token come from the tenant ``issuer`` for
    the client ``client_id``, by the rules :meth:`TokenVerifier.verify` applied at
    sign-in: ``iss`` is ``issuer``, ``aud`` is ``client_id`` or a list holding it, and
    ``azp`` names the client as :meth:`TokenVerifier.verify` wants it.

    A session or an app token outlives the settings it was made under: the state
    directory, Redis or a cookie may be kept when the gate is pointed at another tenant
    or client, whose sessions these are not.
    """
    aud = claims.get("aud")
    if isinstance(aud, str):
        audiences: list[Any] = [aud]
    elif isinstance(aud, list):
        audiences = aud
    else:
        return False
    return claims.get("iss") == issuer and client_id in audiences and _azp_allows(claims, client_id)


class AccessTokenVerifier:
    """Verifies JWT access tokens the tenant issued for one API (``audience``).

    The rules of id_tokens: RS256 only, ``iss``, ``aud`` is or contains
    ``audience``, ``exp``/``iat`` with ``leeway``, keys from the shared ``keys``.
    Who the token names is not checked here (see :mod:`pwless_gate.machines`).
    """

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        keys: JwksCache,
        clock: Callable[[], float] = time.time,
        leeway: int = 60,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.keys = keys
        self._clock = clock
        self.leeway = leeway

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a valid access token for :attr:`audience`; raises
        :class:`TokenError`, or :class:`~pwless_gate.errors.Auth0Unavailable` when
        the keys cannot be fetched."""
        return decode(
            token,
            self.keys,
            issuer=self.issuer,
            audience=self.audience,
            now=self._clock(),
            leeway=self.leeway,
        )


def _number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _parse_jwks(data: dict[str, Any]) -> dict[str, jwt.PyJWK]:
    keys: dict[str, jwt.PyJWK] = {}
    for entry in data.get("keys", []) if isinstance(data, dict) else []:
        if not isinstance(entry, dict) or entry.get("kty") != "RSA" or "kid" not in entry:
            continue
        if entry.get("use", "sig") != "sig":
            continue
        try:
            keys[str(entry["kid"])] = jwt.PyJWK(entry, algorithm=ALGORITHM)
        except jwt.PyJWTError:
            continue
    return keys
