"""Keeping a session alive: access-token refresh and the idle timeout.

Neither is on the hot path: a cached session carries ``refresh_at``, the
moment it next needs attention (its access token is about to expire, or
half its idle allowance is used), and only then does the middleware come
here. The answer is the entry to forward with (and a new cookie when the
record moved), a sign-in to ask for, or "Auth0 is unavailable".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .auth0 import Auth0Client
from .errors import Auth0Unavailable, PwlessGateError
from .sessions import ACCESS_TOKEN_MARGIN, CachedSession, SessionCache


@dataclass(frozen=True)
class Renewal:
    """What to do with the request: forward ``entry`` (setting ``cookie`` if not None),
    challenge (``entry`` None, not ``unavailable``), or answer 503 (``unavailable``)."""

    entry: CachedSession | None
    cookie: str | None = None
    unavailable: bool = False


class Renewer:
    """Refreshes access tokens and slides the idle timeout."""

    def __init__(
        self,
        *,
        auth0: Auth0Client,
        sessions: SessionCache,
        clock: Callable[[], float],
        idle_timeout: int,
    ) -> None:
        self._auth0 = auth0
        self._sessions = sessions
        self._clock = clock
        self._idle = idle_timeout

    def renew(self, value: str, entry: CachedSession) -> Renewal:
        session = entry.session
        now = self._clock()
        if self._idle and now - session.seen_at > self._idle:
            self._sessions.revoke(value)
            return Renewal(None)
        changes: dict[str, Any] = {"seen_at": now} if self._idle else {}
        expires = session.access_expires_at
        if session.access_token and expires is not None and expires <= now + ACCESS_TOKEN_MARGIN:
            still_valid = expires > now
            if session.refresh_token is None:
                if not still_valid:
                    self._sessions.revoke(value)
                    return Renewal(None)
            else:
                try:
                    tokens = self._auth0.refresh(session.refresh_token)
                except Auth0Unavailable:
                    if not still_valid:
                        return Renewal(None, unavailable=True)
                except PwlessGateError:
                    self._sessions.revoke(value)
                    return Renewal(None)
                else:
                    changes.update(
                        access_token=tokens.access_token,
                        access_expires_at=now + tokens.expires_in,
                        refresh_token=tokens.refresh_token or session.refresh_token,
                    )
        if not changes:
            return Renewal(entry)
        new_value = self._sessions.replace(value, dataclasses.replace(session, **changes))
        if new_value is None:  # ended meanwhile (logout, sign out everywhere): stay ended
            return Renewal(None)
        fresh = self._sessions.lookup(new_value)
        return Renewal(fresh, cookie=new_value if new_value != value else None)
