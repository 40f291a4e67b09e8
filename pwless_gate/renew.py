"""Keeping a session alive: access-token refresh, the idle timeout, "last seen".

Neither is on the hot path: a cached session carries ``refresh_at``, the
moment it next needs attention (its access token is about to expire, or
half its idle allowance is used), and only then does the middleware come
here. The answer is the entry to forward with (and a new cookie when the
record moved), a sign-in to ask for, or "Auth0 is unavailable".

Auth0 rotates refresh tokens: a token used twice, outside the tenant's reuse
interval (none by default), revokes the whole family and signs the person
out. So a session is refreshed once, however many requests find it due at
the same moment. In one process the others wait for that refresh (or, while
the old access token is still valid, go on with it) and take its result.
Across processes a store that can (:class:`RefreshLocks`, Redis) holds a
short lock per session: the process that gets it refreshes, the others go
on with the still-valid token or wait and read the refreshed record from the
store. A store without shared state (signed cookies) cannot stop two
processes from refreshing the same session; only the reuse interval can.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from cachetools import TTLCache

from .auth0 import Auth0Client
from .errors import (
    Auth0Unavailable,
    ClientAuthError,
    PwlessGateError,
    RateLimited,
    SessionTooLarge,
    StoreUnavailable,
)
from .sessions import ACCESS_TOKEN_MARGIN, CachedSession, Session, SessionCache

log = logging.getLogger("pwless_gate.sessions")

#: How often a process waiting for another one's refresh reads the store again.
_POLL_SECONDS = 0.05
#: How long a process remembers the refreshes it made, for requests that still
#: carry the session as it was (a cookie sent before the new one arrived).
_REMEMBER_SECONDS = 2 * ACCESS_TOKEN_MARGIN
_REMEMBER_MAX = 4096


@runtime_checkable
class RefreshLocks(Protocol):
    """A store that lets one process at a time refresh a session (Redis)."""

    def acquire_refresh_lock(self, cookie_value: str, seconds: float) -> str | None:
        """Take the session's refresh lock for ``seconds``; return its token, or None
        when another process holds it."""

    def release_refresh_lock(self, cookie_value: str, token: str) -> None:
        """Give the lock back, if ``token`` still holds it."""


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
        refresh_wait: float = 11.0,
    ) -> None:
        """``refresh_wait``: the longest one refresh may take (the Auth0 call with its
        timeouts); a shared lock lasts that long and others wait no longer for it."""
        self._auth0 = auth0
        self._sessions = sessions
        self._clock = clock
        self._idle = idle_timeout
        self._wait = refresh_wait
        store = sessions.store
        self._shared = store if isinstance(store, RefreshLocks) else None
        self._local = _KeyedLocks()
        #: sid -> (the access token refreshed, the cookie value of the result).
        self._done: TTLCache[str, tuple[str, str]] = TTLCache(
            _REMEMBER_MAX, _REMEMBER_SECONDS, timer=time.monotonic
        )
        self._done_lock = threading.Lock()

    def renew(self, value: str, entry: CachedSession) -> Renewal:
        session = entry.session
        now = self._clock()
        if self._idle and now - session.seen_at > self._idle:
            self._sessions.revoke(value)
            return Renewal(None)
        # "Last seen" moves with the idle timeout, and for a listed session (touch_every).
        touch = self._idle or self._sessions.touch_every
        changes: dict[str, Any] = {"seen_at": now} if touch else {}
        expires = session.access_expires_at
        if session.access_token and expires is not None and expires <= now + ACCESS_TOKEN_MARGIN:
            still_valid = expires > now
            if session.refresh_token is None:
                if not still_valid:
                    self._sessions.revoke(value)
                    return Renewal(None)
            else:
                return self._refresh(value, entry, changes, still_valid)
        if not changes:
            return Renewal(entry)
        return self._write(value, session, changes)

    def _refresh(
        self, value: str, entry: CachedSession, changes: dict[str, Any], still_valid: bool
    ) -> Renewal:
        """One refresh per session in this process; the shared lock, if any, for the rest."""
        sid = entry.session.sid
        # While the old token is still good nobody needs to wait for the new one.
        if not self._local.acquire(sid, None if still_valid else self._wait):
            return Renewal(entry) if still_valid else Renewal(None, unavailable=True)
        try:
            done = self._refreshed_here(value, entry.session)
            if done is not None:
                return done
            if self._shared is None:
                return self._exchange(value, entry.session, changes, still_valid)
            try:
                return self._refresh_shared(self._shared, value, entry, changes, still_valid)
            except StoreUnavailable:
                return Renewal(entry) if still_valid else Renewal(None, unavailable=True)
        finally:
            self._local.release(sid)

    def _refresh_shared(
        self,
        locks: RefreshLocks,
        value: str,
        entry: CachedSession,
        changes: dict[str, Any],
        still_valid: bool,
    ) -> Renewal:
        """Refresh under the store's lock, or take the refresh another process made."""
        deadline = time.monotonic() + self._wait
        while True:
            token = locks.acquire_refresh_lock(value, self._wait)
            if token is not None:
                try:
                    stored = self._reload(value)
                    if (
                        stored is None
                        or self._moved_on(stored, entry)
                        or stored.session.refresh_token is None
                    ):
                        return Renewal(stored)
                    return self._exchange(value, stored.session, changes, still_valid)
                finally:
                    locks.release_refresh_lock(value, token)
            if still_valid:
                return Renewal(entry)  # the lock holder refreshes; go on with the old token
            if time.monotonic() >= deadline:
                return Renewal(None, unavailable=True)
            time.sleep(_POLL_SECONDS)
            stored = self._reload(value)
            if stored is None or self._moved_on(stored, entry):
                return Renewal(stored)
            # Still due: the holder is at it, or gave up (then the lock is free again).

    def _exchange(
        self, value: str, session: Session, changes: dict[str, Any], still_valid: bool
    ) -> Renewal:
        """The refresh-token grant itself, and the record written with its result."""
        assert session.refresh_token is not None
        try:
            tokens = self._auth0.refresh(session.refresh_token)
        except (Auth0Unavailable, RateLimited, ClientAuthError) as exc:
            # Not a refusal of the person: the refresh token is unused. Keep the session.
            if isinstance(exc, ClientAuthError):
                log.error(
                    "token refresh refused the gate's own credentials (%s): check "
                    "PWLESS_GATE_CLIENT_ID and PWLESS_GATE_CLIENT_SECRET, and that the "
                    "application allows the Refresh Token grant; sessions are kept",
                    exc,
                )
            if not still_valid:
                return Renewal(None, unavailable=True)
            if not changes:
                return self._current(value)
        except PwlessGateError:
            self._sessions.revoke(value)
            return Renewal(None)
        else:
            changes = {
                **changes,
                "access_token": tokens.access_token,
                "access_expires_at": self._clock() + tokens.expires_in,
                "refresh_token": tokens.refresh_token or session.refresh_token,
            }
        renewal = self._write(value, session, changes)
        if "access_token" in changes and renewal.entry is not None and session.access_token:
            with self._done_lock:
                self._done[session.sid] = (session.access_token, renewal.cookie or value)
        return renewal

    def _refreshed_here(self, value: str, session: Session) -> Renewal | None:
        """The result of this process's refresh of the session as the request has it."""
        with self._done_lock:
            done = self._done.get(session.sid)
        if done is None or done[0] != session.access_token:
            return None
        fresh = self._sessions.lookup(done[1])
        return Renewal(fresh, cookie=done[1] if fresh is not None and done[1] != value else None)

    def _reload(self, value: str) -> CachedSession | None:
        """The session as the store has it now, not as this process cached it."""
        self._sessions.forget(value)
        return self._sessions.lookup(value)

    def _current(self, value: str) -> Renewal:
        return Renewal(self._sessions.lookup(value))

    @staticmethod
    def _moved_on(stored: CachedSession, entry: CachedSession) -> bool:
        """True when another process refreshed the session since ``entry`` was read."""
        return stored.session.access_token != entry.session.access_token

    def _write(self, value: str, session: Session, changes: dict[str, Any]) -> Renewal:
        try:
            new_value = self._sessions.replace(value, dataclasses.replace(session, **changes))
        except SessionTooLarge as exc:
            # Longer tokens from a refresh no longer fit in the signed cookie: sign in again.
            log.error(
                "session ended: %s; use the SQLite or Redis store (PWLESS_GATE_STORE), "
                "or fewer claims",
                exc,
            )
            self._sessions.revoke(value)
            return Renewal(None)
        if new_value is None:  # ended meanwhile (logout, sign out everywhere): stay ended
            return Renewal(None)
        fresh = self._sessions.lookup(new_value)
        return Renewal(fresh, cookie=new_value if new_value != value else None)


class _KeyedLocks:
    """One lock per key (a session id), made when first wanted, dropped when unused."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, list[int]]] = {}

    def acquire(self, key: str, timeout: float | None) -> bool:
        """Take the key's lock: without waiting when ``timeout`` is None, else waiting
        up to ``timeout`` seconds. Returns whether it was taken."""
        with self._guard:
            lock, users = self._locks.setdefault(key, (threading.Lock(), [0]))
            users[0] += 1
        taken = lock.acquire(blocking=False) if timeout is None else lock.acquire(timeout=timeout)
        if not taken:
            self._drop(key)
        return taken

    def release(self, key: str) -> None:
        """Give back a lock :meth:`acquire` took."""
        self._locks[key][0].release()
        self._drop(key)

    def _drop(self, key: str) -> None:
        with self._guard:
            users = self._locks[key][1]
            users[0] -= 1
            if not users[0]:
                del self._locks[key]
