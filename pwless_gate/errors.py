"""The exceptions pwless-gate raises, under one root.

Every failure the gate can meet is one of these, so the edge of the gate (the
views) can turn it into a page or a JSON error with the right status without
matching on message text. Auth0's ``error`` strings are mapped to classes in
one table, :data:`AUTH0_ERRORS`, and nowhere else.
"""

from __future__ import annotations


class PwlessGateError(Exception):
    """Root of every exception pwless-gate raises on purpose."""


class ConfigError(PwlessGateError):
    """A setting is missing or invalid. Raised when the gate is built."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting}: {problem}")
        self.setting = setting
        self.problem = problem


class Auth0Error(PwlessGateError):
    """Auth0 answered with an error body.

    ``status_code`` is the HTTP status, ``error`` Auth0's machine-readable code
    and ``description`` its human text (never shown to end users verbatim).
    """

    def __init__(self, status_code: int, error: str, description: str = "") -> None:
        super().__init__(f"{status_code} {error}: {description}")
        self.status_code = status_code
        self.error = error
        self.description = description


class InvalidRequest(Auth0Error):
    """Auth0 refused the request itself (a malformed identifier, a bad connection)."""


class ClientAuthError(Auth0Error):
    """The gate's own client credentials or grant were refused: a configuration problem.

    Every 401 from Auth0 is one, whatever its ``error`` says: Auth0 answers bad
    client credentials with ``401 access_denied`` as often as with
    ``invalid_client``, and a 401 never refuses a person.
    """


class WrongCode(Auth0Error):
    """The one-time code or link was wrong, already used, or superseded."""


class TooManyAttempts(WrongCode):
    """The code was tried too often and is dead; a new one must be requested."""


class CodeExpired(WrongCode):
    """The code or link outlived its lifetime."""


class AccessDenied(Auth0Error):
    """Auth0 (a rule, an action, a block) refused this user."""


class UnknownAudience(Auth0Error):
    """The tenant has no API named by the gate's ``audience`` setting: a configuration
    problem, never a person refused.

    Auth0 answers it ``403 access_denied`` with "Service not found: <audience>", on
    ``/oauth/token`` and in a magic link's redirect.
    """


class AccountBlocked(Auth0Error):
    """Auth0's brute-force protection blocked this person's sign-ins from this IP.

    It lasts until the person opens the unblock link Auth0 emailed them, an
    administrator lifts it, or it expires (30 days): waiting a minute does not help.
    """


class RateLimited(Auth0Error):
    """Auth0 or a local throttle said "too many requests".

    ``retry_after`` is the number of seconds to wait before trying again.
    """

    def __init__(
        self, status_code: int, error: str, description: str = "", *, retry_after: int = 60
    ) -> None:
        super().__init__(status_code, error, description)
        self.retry_after = max(1, int(retry_after))


class Auth0Unavailable(PwlessGateError):
    """Auth0 could not be reached or did not answer sensibly.

    Timeouts, refused connections, 5xx answers and unparseable bodies. The
    original exception, if any, is the ``__cause__``. ``status_code`` is what
    the gate answers: 503 when Auth0 could not be reached in time, 502 when it
    answered nonsense. ``outcome_unknown`` is true when the request was sent and
    may have been carried out (no answer in time, the connection dropped while
    waiting for it, or a 200 that could not be read): a refresh token may have
    been rotated, a code used up. ``retry_after`` is the wait Auth0 asked for, when
    it limited the gate's calls (a token refresh that could not wait for it).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 502,
        outcome_unknown: bool = False,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.outcome_unknown = outcome_unknown
        self.retry_after = retry_after


class StoreUnavailable(PwlessGateError):
    """The shared store (Redis) could not be reached. The gate fails closed: 503."""


class SessionTooLarge(PwlessGateError):
    """A session does not fit in cookies: ``size`` characters, more than ``limit``.

    Only the signed-cookie store meets it, when the id_token's claims (and the
    tokens kept with an ``audience``) are too many for a cookie servers accept. A
    configuration problem, not the person's: nothing is saved and no cookie set.
    """

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"a session of {size} characters is over the {limit} cookies can hold")
        self.size = size
        self.limit = limit


class Refused(PwlessGateError):
    """The gate refuses a request to one of its own pages (a bad form, a wrong browser…).

    Carries the answer: ``status``, a short ``title`` and a ``message`` for the
    person, and extra response ``headers``.
    """

    def __init__(
        self,
        status: int,
        title: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        next: str = "/",
    ) -> None:
        super().__init__(f"{status} {title}")
        self.status = status
        self.title = title
        self.message = message
        self.headers = headers or {}
        self.next = next


class Throttled(PwlessGateError):
    """A local rate limit is used up; ``retry_after`` seconds until one more try fits."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"throttled for {retry_after} s")
        self.retry_after = retry_after


class TokenError(PwlessGateError):
    """An id_token was rejected (signature, algorithm, iss, aud, exp, nonce…)."""


#: Auth0 ``error`` codes → the exception class the client raises for them.
#: Codes not in the table raise :class:`Auth0Error` itself.
AUTH0_ERRORS: dict[str, type[Auth0Error]] = {
    "bad.client_id": ClientAuthError,
    "bad.connection": InvalidRequest,
    "bad.email": InvalidRequest,
    "bad.phone_number": InvalidRequest,
    "bad.authParams": InvalidRequest,
    "bad.request": InvalidRequest,
    "bad.send": InvalidRequest,
    "invalid_scope": InvalidRequest,
    "invalid_request": InvalidRequest,
    "sms_provider_error": InvalidRequest,
    "invalid_client": ClientAuthError,
    "unauthorized_client": ClientAuthError,
    "unsupported_grant_type": ClientAuthError,
    "invalid_grant": WrongCode,
    "access_denied": AccessDenied,
    # Brute-force protection; auth0_error() tells suspicious-IP throttling apart.
    "too_many_attempts": AccountBlocked,
    "too_many_requests": RateLimited,
}
