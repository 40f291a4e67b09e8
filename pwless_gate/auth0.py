"""The HTTP calls the gate makes to Auth0's Authentication API.

One :class:`~pwless_gate.transport.Transport` (kept-alive connections), explicit
connect/read timeouts, the end user's IP in ``auth0-forwarded-for``, and every
answer turned into a typed result or a typed exception
(:mod:`pwless_gate.errors`); failures to reach Auth0 are named as before, when
the client spoke through requests (``ConnectTimeout``, ``ReadTimeout``,
``ConnectionError``). POSTs are never sent twice: a retried
``/passwordless/start`` sends a second message and kills the first code, a
retried ``/oauth/token`` burns an attempt. Only a connection that failed to
open (nothing was sent) is tried once more.

This module does not decide anything about sessions or pages.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from .errors import (
    AUTH0_ERRORS,
    AccessDenied,
    AccountBlocked,
    Auth0Error,
    Auth0Unavailable,
    ClientAuthError,
    CodeExpired,
    RateLimited,
    TooManyAttempts,
    UnknownAudience,
    WrongCode,
)
from .metrics import Metrics
from .pacing import DecoyTransport, Pacer
from .transport import PACED_PATH, Answer, BaseTransport, Timeout, Transport, TransportError

log = logging.getLogger("pwless_gate.auth0")

OTP_GRANT = "http://auth0.com/oauth/grant-type/passwordless/otp"
DEFAULT_RETRY_AFTER = 60
#: The longest wait the gate passes on: Auth0's limits refill within the hour (50 sends
#: per hour per IP), so a longer ``Retry-After`` or ``x-ratelimit-reset`` is a bad value.
MAX_RETRY_AFTER = 3600
#: Seconds until a throttled IP gets one attempt back (Auth0: "about 15 minutes").
SUSPICIOUS_IP_RETRY_AFTER = 900
#: How Auth0's ``access_denied`` description begins when ``audience`` names no API of
#: the tenant ("Service not found: https://api.example.com/"), lower-cased.
SERVICE_NOT_FOUND = "service not found"


@dataclass(frozen=True)
class TokenSet:
    """What ``/oauth/token`` returned."""

    access_token: str
    id_token: str
    expires_in: int
    refresh_token: str | None = None
    scope: str | None = None


class Auth0Client:
    """Auth0's passwordless endpoints for a confidential client (one with a secret)."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        timeout: float = 5.0,
        http: Transport | None = None,
        clock: Callable[[], float] = time.time,
        metrics: Metrics | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        #: ``host[:port]`` of the tenant, for messages and logs.
        self.host = urlsplit(self.base_url).netloc
        self._metrics = metrics
        self.client_id = client_id
        self._secret = client_secret
        self._timeout = Timeout(connect=min(timeout, 3.05), read=timeout)
        self._http = http if http is not None else Transport(self.base_url, pacer=pacer)
        self._decoy = DecoyTransport(self._http, pacer)
        self._clock = clock

    def start(
        self,
        *,
        connection: str,
        identifier: str,
        send: str = "code",
        auth_params: Mapping[str, str] | None = None,
        forwarded_for: str | None = None,
        language: str | None = None,
        decoy: bool = False,
    ) -> dict[str, Any]:
        """``POST /passwordless/start``: send a code or link. Returns Auth0's body.

        With ``decoy``, ``identifier`` is not sent: Auth0 gets the same request
        for an identifier it can only refuse, and the answer is a send's (after
        as long as a send takes) when it refuses it, else Auth0's own, raised as
        a send's would be (see :mod:`pwless_gate.pacing`). So a refused
        identifier meets the same answers, quota and time as an allowed one.
        """
        body: dict[str, Any] = {
            "client_id": self.client_id,
            "client_secret": self._secret,
            "connection": connection,
            "phone_number" if connection == "sms" else "email": identifier,
            "send": send,
        }
        if auth_params:
            body["authParams"] = dict(auth_params)
        data = self._send(
            "POST",
            PACED_PATH,
            body,
            _headers(forwarded_for, language),
            http=self._decoy if decoy else self._http,
            decoy=decoy,
        )
        if not isinstance(data, dict):
            raise Auth0Unavailable("/passwordless/start answered with something not an object")
        return data

    def exchange_otp(
        self,
        *,
        realm: str,
        username: str,
        otp: str,
        scope: str,
        audience: str | None = None,
        forwarded_for: str | None = None,
    ) -> TokenSet:
        """The passwordless OTP grant. Raises :class:`WrongCode` and friends."""
        body = {
            "grant_type": OTP_GRANT,
            "client_id": self.client_id,
            "client_secret": self._secret,
            "realm": realm,
            "username": username,
            "otp": otp,
            "scope": scope,
        }
        if audience:
            body["audience"] = audience
        return _token_set(self._post("/oauth/token", body, _headers(forwarded_for)))

    def exchange_code(
        self, *, code: str, redirect_uri: str, forwarded_for: str | None = None
    ) -> TokenSet:
        """The authorization-code grant, after a magic link."""
        body = {
            "grant_type": "authorization_code",
            "client_id": self.client_id,
            "client_secret": self._secret,
            "code": code,
            "redirect_uri": redirect_uri,
        }
        return _token_set(self._post("/oauth/token", body, _headers(forwarded_for)))

    def refresh(self, refresh_token: str) -> TokenSet:
        """The refresh-token grant."""
        body = {
            "grant_type": "refresh_token",
            "client_id": self.client_id,
            "client_secret": self._secret,
            "refresh_token": refresh_token,
        }
        return _token_set(self._post("/oauth/token", body, {}))

    def jwks(self) -> dict[str, Any]:
        """The tenant's signing keys (``/.well-known/jwks.json``)."""
        return self._get("/.well-known/jwks.json")

    def discovery(self) -> dict[str, Any]:
        """The OpenID configuration document."""
        return self._get("/.well-known/openid-configuration")

    def logout_url(self, return_to: str) -> str:
        """Auth0's ``/v2/logout`` URL that ends its own session and comes back."""
        return self.base_url + self.logout_path(return_to)

    def logout_path(self, return_to: str) -> str:
        """:meth:`logout_url` without the origin (the path and query to request)."""
        query = urlencode({"client_id": self.client_id, "returnTo": return_to})
        return f"/v2/logout?{query}"

    def _post(self, path: str, body: Mapping[str, Any], headers: Mapping[str, str]) -> Any:
        return self._send("POST", path, body, headers)

    def _get(self, path: str) -> dict[str, Any]:
        data = self._send("GET", path)
        if not isinstance(data, dict):
            raise Auth0Unavailable(f"{path} answered with a {type(data).__name__}, not an object")
        return data

    def _send(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        http: BaseTransport | None = None,
        decoy: bool = False,
    ) -> Any:
        started = time.monotonic()
        outcome = "unavailable"
        try:
            data = self._exchange(method, path, body, headers, http or self._http)
            # A decoy's success is Auth0's expected refusal of the probe, answered as a
            # send after the pacer's wait: counted apart, or refused identifiers would
            # pass for Auth0's sends in its latency and success rates. Its failures are
            # Auth0's own answers, passed up at once, and counted as such.
            outcome = "decoy" if decoy else "ok"
            return data
        except Auth0Error:
            outcome = "error"
            raise
        finally:
            elapsed = time.monotonic() - started
            if self._metrics is not None:
                self._metrics.observe_auth0(path, elapsed, outcome)
            log.debug("%s %s: %s in %.0f ms", method, path, outcome, elapsed * 1000)

    def _exchange(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        http: BaseTransport,
    ) -> Any:
        try:
            # The transport never follows a redirect: a 307 would re-post the client
            # secret elsewhere.
            answer = http.request(method, path, json=body, headers=headers, timeout=self._timeout)
        except TransportError as exc:
            raise Auth0Unavailable(
                f"Auth0 at {self.host} {exc} ({method} {path})",
                status_code=503 if exc.unreachable else 502,
                outcome_unknown=exc.sent,
            ) from exc
        except ValueError as exc:  # a header or path that cannot be sent as it is
            raise Auth0Unavailable(
                f"Auth0 at {self.host} failed: {type(exc).__name__} ({method} {path})"
            ) from exc
        status = answer.status
        # 501 is how Auth0 refuses a grant type it does not know: an answer, not an outage.
        if status >= 500 and status != 501:
            raise Auth0Unavailable(f"Auth0 at {self.host} answered {status} ({method} {path})")
        try:
            data: object = answer.json()
        except (ValueError, RecursionError) as exc:
            if status != 429:
                raise Auth0Unavailable(
                    f"Auth0 at {self.host} answered {status} with a body that is "
                    f"not JSON ({method} {path})",
                    outcome_unknown=status == 200,
                ) from exc
            # A CDN or firewall in front of Auth0 says "too many" in HTML: still a rate
            # limit, with its Retry-After.
            data = None
        if status >= 400:
            raise self._error(answer, data)
        if status != 200:
            raise Auth0Unavailable(f"Auth0 at {self.host} answered {status} ({method} {path})")
        return data

    def _error(self, answer: Answer, data: object) -> Exception:
        body = data if isinstance(data, dict) else {}
        error = str(body.get("error") or body.get("code") or f"http_{answer.status}")
        description = str(body.get("error_description") or body.get("description") or "")
        return auth0_error(
            answer.status,
            error,
            description,
            retry_after=_retry_after(answer.headers, self._clock()),
        )


def auth0_error(
    status_code: int, error: str, description: str, *, retry_after: int = DEFAULT_RETRY_AFTER
) -> Auth0Error:
    """The typed exception for one Auth0 error answer (the one place that maps them)."""
    if status_code == 401:
        # Bad client credentials, whatever `error` says (often access_denied): the
        # gate's configuration, never a person refused.
        return ClientAuthError(status_code, error, description)
    cls = AUTH0_ERRORS.get(error, Auth0Error)
    if cls is AccessDenied and description.lower().startswith(SERVICE_NOT_FOUND):
        # The API the gate's audience names does not exist: the gate's setting, not a
        # person refused.
        return UnknownAudience(status_code, error, description)
    if cls is AccountBlocked and "suspicious" in description.lower():
        # Suspicious-IP throttling: every sign-in from the IP waits, not only this account's,
        # and for minutes: the x-ratelimit-* headers speak of the endpoint's own limit.
        retry_after = max(retry_after, SUSPICIOUS_IP_RETRY_AFTER)
        cls = RateLimited
    if cls is AccountBlocked:
        return AccountBlocked(status_code, error, description)
    if status_code == 429 or cls is RateLimited:
        return RateLimited(status_code, error, description, retry_after=retry_after)
    if cls is WrongCode:
        # Auth0 asks clients to branch on `error`; the description is the only
        # thing that tells these three apart, and only the page depends on it.
        lowered = description.lower()
        if "maximum number of attempts" in lowered:
            cls = TooManyAttempts
        elif "expired" in lowered:
            cls = CodeExpired
    return cls(status_code, error, description)


def _retry_after(headers: Mapping[str, str], now: float) -> int:
    """Seconds to wait, from ``Retry-After`` or ``x-ratelimit-reset`` (Unix seconds),
    between 1 and :data:`MAX_RETRY_AFTER`."""
    for name, relative in (("Retry-After", True), ("x-ratelimit-reset", False)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = int(float(value))
        except (ValueError, OverflowError):  # not a number; "inf", "1e999"
            continue
        return min(MAX_RETRY_AFTER, max(1, seconds if relative else seconds - int(now)))
    return DEFAULT_RETRY_AFTER


def _headers(forwarded_for: str | None, language: str | None = None) -> dict[str, str]:
    headers = {}
    if forwarded_for:
        headers["auth0-forwarded-for"] = forwarded_for
    if language:
        headers["x-request-language"] = language
    return headers


def _token_set(data: object) -> TokenSet:
    """The tokens of a 200 answer; one that lacks them was still an exchange carried
    out (``outcome_unknown``: a refresh token may have rotated)."""
    if not isinstance(data, dict):
        raise Auth0Unavailable(
            "/oauth/token answered with something that is not an object", outcome_unknown=True
        )
    access_token = data.get("access_token")
    id_token = data.get("id_token")
    if not isinstance(access_token, str) or not isinstance(id_token, str):
        raise Auth0Unavailable(
            "/oauth/token answered without an access_token and id_token", outcome_unknown=True
        )
    expires_in = data.get("expires_in", 86400)
    refresh_token = data.get("refresh_token")
    scope = data.get("scope")
    return TokenSet(
        access_token=access_token,
        id_token=id_token,
        expires_in=expires_in if isinstance(expires_in, int) else 86400,
        refresh_token=refresh_token if isinstance(refresh_token, str) else None,
        scope=scope if isinstance(scope, str) else None,
    )
