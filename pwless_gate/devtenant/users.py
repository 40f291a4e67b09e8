"""Users of the local tenant and the logins they complete.

A user is created on the first successful login with an identifier (an email
address, stored lower-cased, or an E.164 phone number) and keeps its ``sub``
afterwards.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import quote

_SMS_PICTURE = "https://cdn.auth0.com/img/lock-sms-default.png"


def normalise(connection: str, identifier: str) -> str:
    """Return the form an identifier is stored and compared in."""
    return identifier.lower() if connection == "email" else identifier


@dataclass
class User:
    """A passwordless user. ``updated_at`` moves on every login."""

    sub: str
    connection: str
    identifier: str
    updated_at: float

    def claims(self, scopes: Iterable[str]) -> dict[str, object]:
        """Return the profile claims ``scopes`` grant (``sub`` included)."""
        scopes = set(scopes)
        claims: dict[str, object] = {"sub": self.sub}
        if "profile" in scopes:
            claims["name"] = self.identifier
            claims["nickname"] = self.identifier.split("@")[0]
            claims["picture"] = self._picture()
            claims["updated_at"] = _iso8601(self.updated_at)
        if self.connection == "email" and "email" in scopes:
            claims["email"] = self.identifier
            claims["email_verified"] = True
        if self.connection == "sms" and "phone" in scopes:
            claims["phone_number"] = self.identifier
            claims["phone_number_verified"] = True
        return claims

    def _picture(self) -> str:
        if self.connection != "email":
            return _SMS_PICTURE
        digest = hashlib.sha256(self.identifier.encode()).hexdigest()
        fallback = quote(f"https://cdn.auth0.com/avatars/{self.identifier[:2]}.png", safe="")
        return f"https://s.gravatar.com/avatar/{digest}?s=480&r=pg&d={fallback}"


@dataclass(frozen=True)
class Login:
    """What a successful login proved, carried into tokens, codes and refreshes."""

    user: User
    client_id: str
    scopes: tuple[str, ...]
    audience: str | None
    nonce: str | None
    sid: str


def split_scope(scope: str | None) -> tuple[str, ...]:
    """Return the distinct scopes of a space-separated list, in order."""
    return tuple(dict.fromkeys((scope or "").split()))


class Users:
    """The tenant's users, by (connection, identifier) and by ``sub``."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._by_identifier: dict[tuple[str, str], User] = {}
        self._by_sub: dict[str, User] = {}
        self._blocked: set[tuple[str, str]] = set()

    def log_in(self, connection: str, identifier: str) -> User:
        """Return the user for this identifier, created if new, with ``updated_at`` now."""
        key = (connection, normalise(connection, identifier))
        user = self._by_identifier.get(key)
        if user is None:
            user = User(f"{connection}|{secrets.token_hex(12)}", key[0], key[1], self._clock())
            self._by_identifier[key] = user
            self._by_sub[user.sub] = user
        user.updated_at = self._clock()
        return user

    def exists(self, connection: str, identifier: str) -> bool:
        """Return True when a login already created the user with this identifier."""
        return (connection, normalise(connection, identifier)) in self._by_identifier

    def by_sub(self, sub: str) -> User | None:
        """Return the user with this ``sub``, if any."""
        return self._by_sub.get(sub)

    def block(self, connection: str, identifier: str) -> None:
        """Refuse every later login of this identifier (403 ``access_denied``)."""
        self._blocked.add((connection, normalise(connection, identifier)))

    def is_blocked(self, connection: str, identifier: str) -> bool:
        """Return True when the identifier was blocked."""
        return (connection, normalise(connection, identifier)) in self._blocked


def _iso8601(timestamp: float) -> str:
    moment = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
