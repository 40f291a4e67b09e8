"""One-time codes (the code and link flows) and the authorization codes links lead to."""

from __future__ import annotations

import enum
import hmac
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass

from .constants import AUTHORIZATION_CODE_LIFETIME, CODE_ATTEMPTS
from .users import Login, normalise


def constant_time_equal(given: str, expected: str) -> bool:
    """Compare two secrets in constant time (any text, not only ASCII, nor only what UTF-8
    can encode: JSON lets a request hold a lone surrogate such as ``"\\ud800"``)."""
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


class Outcome(enum.Enum):
    """The result of checking a one-time code."""

    ACCEPTED = "accepted"
    WRONG = "wrong"  # wrong, never sent, already used or superseded
    MAX_ATTEMPTS = "max_attempts"
    EXPIRED = "expired"


@dataclass
class _Pending:
    code: str
    issued_at: float
    failures: int = 0


class OneTimeCodes:
    """The live one-time code of each (connection, identifier).

    Only the latest code is valid; using it consumes it; the third failed
    attempt kills it until the next start.
    """

    def __init__(self, length: int, lifetime: float, clock: Callable[[], float]) -> None:
        self._length = length
        self._lifetime = lifetime
        self._clock = clock
        self._pending: dict[tuple[str, str], _Pending] = {}

    def issue(self, connection: str, identifier: str) -> str:
        """Return a new code for the identifier, replacing any earlier one."""
        code = "".join(secrets.choice(string.digits) for _ in range(self._length))
        key = (connection, normalise(connection, identifier))
        self._pending[key] = _Pending(code, self._clock())
        return code

    def check(self, connection: str, identifier: str, code: str) -> Outcome:
        """Check ``code`` for the identifier, consuming it when accepted."""
        key = (connection, normalise(connection, identifier))
        pending = self._pending.get(key)
        if pending is None:
            return Outcome.WRONG
        if pending.failures >= CODE_ATTEMPTS:
            return Outcome.MAX_ATTEMPTS
        if self._clock() - pending.issued_at >= self._lifetime:
            return Outcome.EXPIRED
        if not constant_time_equal(code, pending.code):
            pending.failures += 1
            return Outcome.MAX_ATTEMPTS if pending.failures >= CODE_ATTEMPTS else Outcome.WRONG
        del self._pending[key]
        return Outcome.ACCEPTED


@dataclass(frozen=True)
class _Issued:
    login: Login
    redirect_uri: str
    expires_at: float


class AuthorizationCodes:
    """Single-use authorization codes, each bound to a login and a redirect_uri."""

    def __init__(
        self, clock: Callable[[], float], lifetime: float = AUTHORIZATION_CODE_LIFETIME
    ) -> None:
        self._clock = clock
        self._lifetime = lifetime
        self._codes: dict[str, _Issued] = {}

    def issue(self, login: Login, redirect_uri: str) -> str:
        """Return a new code that redeems to ``login`` with ``redirect_uri``."""
        now = self._clock()
        self._codes = {c: i for c, i in self._codes.items() if i.expires_at > now}
        code = secrets.token_urlsafe(24)
        self._codes[code] = _Issued(login, redirect_uri, now + self._lifetime)
        return code

    def redeem(self, code: str) -> tuple[Login, str] | None:
        """Consume ``code``; return its login and redirect_uri, or None if unknown, used or old."""
        issued = self._codes.pop(code, None)
        if issued is None or issued.expires_at <= self._clock():
            return None
        return issued.login, issued.redirect_uri
