"""Rotating refresh tokens: families, reuse detection, absolute and idle expiry.

What Auth0 does with refresh token rotation on (see ``constants.py`` for the
defaults and where they come from): every exchange returns a new refresh
token of the same *family* and retires the one used. A retired token may be
used again only while the reuse interval after its first use lasts, and only
if it is the one retired last; any other reuse revokes the whole family, so
every token of it is refused from then on. Reuse is detected before anything
else the request asks is checked (a scope not granted, a blocked user): such a
request still revokes the family. A family ends at its absolute
lifetime, counted from the login and never extended; each token also ends
when it has not been exchanged for the idle lifetime.

Not done here: non-rotating tokens, ``/oauth/revoke``, sender-constrained tokens.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from .users import Login


def _accept(login: Login) -> None:
    """The default vetting of an exchange: none."""


@dataclass
class _Family:
    login: Login
    expires_at: float
    revoked: bool = False
    #: The token retired last: the only one the reuse interval may let through.
    last_retired: str | None = None


@dataclass
class _Token:
    family: _Family
    idle_until: float
    used_at: float | None = None


class RefreshTokens:
    """The refresh tokens a tenant issued, grouped in families. Not thread-safe: the
    tenant's lock guards it."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        reuse_interval: float,
        absolute_lifetime: float,
        idle_lifetime: float,
    ) -> None:
        self._clock = clock
        self.reuse_interval = reuse_interval
        self.absolute_lifetime = absolute_lifetime
        self.idle_lifetime = idle_lifetime
        self._tokens: dict[str, _Token] = {}
        #: Exchanges asked for, refused ones included.
        self.exchanges = 0
        #: Families revoked because a retired token was used again.
        self.revoked_families = 0

    def issue(self, login: Login) -> str:
        """Start a family for ``login`` and return its first token."""
        now = self._clock()
        self._forget_ended(now)
        family = _Family(login, now + self.absolute_lifetime)
        return self._new_token(family, now)

    def exchange(
        self, token: str, vet: Callable[[Login], None] = _accept
    ) -> tuple[Login, str] | None:
        """Retire ``token`` and return its login and the family's new token.

        Reuse is detected before anything else: None when the token is
        unknown, expired, or its family revoked, and a retired token used
        again outside the reuse interval (or not the one retired last)
        revokes its family first, whatever else the request asks. Only then
        is ``vet`` called with the login; an exception from it refuses the
        exchange and leaves the token as it was.
        """
        now = self._clock()
        self.exchanges += 1
        entry = self._tokens.get(token)
        if entry is None:
            return None
        family = entry.family
        if not self._live(entry, now):
            return None
        if entry.used_at is not None:
            within = now < entry.used_at + self.reuse_interval
            if not (within and family.last_retired == token):
                family.revoked = True
                self.revoked_families += 1
                return None
        vet(family.login)
        if entry.used_at is None:
            entry.used_at = now
            family.last_retired = token
        return family.login, self._new_token(family, now)

    @staticmethod
    def _live(entry: _Token, now: float) -> bool:
        family = entry.family
        return not family.revoked and now < family.expires_at and now < entry.idle_until

    def _new_token(self, family: _Family, now: float) -> str:
        token = secrets.token_urlsafe(32)
        self._tokens[token] = _Token(family, now + self.idle_lifetime)
        return token

    def _forget_ended(self, now: float) -> None:
        ended = [
            token
            for token, entry in self._tokens.items()
            if now >= entry.family.expires_at or now >= entry.idle_until
        ]
        for token in ended:
            del self._tokens[token]
