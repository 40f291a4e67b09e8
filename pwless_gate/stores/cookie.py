"""The stateless store: the whole session record sealed in a signed cookie.

Any number of workers and restarts share sessions with no server to run. The
price: a session cannot be ended before it expires (logout deletes the cookie
and drops it from this process's cache, but a copy of the cookie keeps
working), and nobody can be signed out everywhere.

Nor can processes agree on who refreshes a session's access token: each
process refreshes a session at most once (its other requests wait for that
refresh or go on with the still-valid token), but two processes, or a
request still carrying the cookie from before a refresh, may use the same
refresh token twice. Auth0 rotates refresh tokens and, outside the
application's reuse interval ("Rotation Overlap Period", 0 seconds by
default), revokes the whole family on a second use, which signs the person
out. With refresh tokens and more than one process, set that interval (a
few seconds covers concurrent requests) or use the Redis store, which
refreshes a session in one process at a time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import itsdangerous

from ..cookies import MAX_SESSION_COOKIE
from ..errors import SessionTooLarge
from ..sessions import Session

SESSION_SALT = "pwless-gate.session"


class CookieStore:
    """The record sealed in the cookie itself, signed with itsdangerous (HMAC-SHA256).

    ``keys`` is oldest first: every key verifies, the last one signs.
    """

    def __init__(self, keys: Sequence[bytes]) -> None:
        self._serializer = itsdangerous.URLSafeSerializer(
            list(keys), salt=SESSION_SALT, signer_kwargs={"digest_method": hashlib.sha256}
        )

    def save(self, session: Session) -> str:
        """The signed record. Raises :class:`SessionTooLarge` when it would not fit in
        cookies (too many claims for this store)."""
        value = str(self._serializer.dumps(session.to_record()))
        if len(value) > MAX_SESSION_COOKIE:
            raise SessionTooLarge(len(value), MAX_SESSION_COOKIE)
        return value

    def load(self, cookie_value: str) -> Session | None:
        try:
            record = self._serializer.loads(cookie_value)
            return Session.from_record(record)
        except (itsdangerous.BadData, KeyError, TypeError, ValueError):
            return None

    def revoke(self, cookie_value: str) -> None:
        """Nothing to forget: the record lives in the browser's cookie."""

    def update(self, cookie_value: str, session: Session) -> str:
        return self.save(session)
