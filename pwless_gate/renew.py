"""Keeping a session alive: access-token refresh, the idle timeout, "last seen".

Neither is on the hot path: a cached session carries ``refresh_at``, the
moment it next needs attention (its access token is about to expire, or
"last seen" is due to be written again: :func:`~pwless_gate.sessions.idle_seen_every`),
and only then does the middleware come here. The answer is the entry to
forward with (and a new cookie when the record moved), a sign-in to ask for,
or 503 ("Auth0 or the store is unavailable").

The store failing here fails closed where it matters: a session that should
end (idle, refused by Auth0) but cannot be revoked, or a refresh whose result
cannot be saved, gets the 503; only a "last seen" that cannot be written is
let go (the cached session is forwarded and a later request writes it).
While writes keep failing "last seen" does not move, so the idle timeout
may end a session that was in use: the cost of failing closed.

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
import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from cachetools import TTLCache

from .auth0 import Auth0Client
from .errors import (
    Auth0Error,
    Auth0Unavailable,
    ClientAuthError,
    PwlessGateError,
    RateLimited,
    SessionTooLarge,
    StoreUnavailable,
)
from .identity import mask
from .sessions import ACCESS_TOKEN_MARGIN, CachedSession, Session, SessionCache, idle_limit

log = logging.getLogger("pwless_gate.sessions")

#: How often a process waiting for another one's refresh reads the store again.
_POLL_SECONDS = 0.05
#: How long a process remembers the refreshes it made, for requests that still
#: carry the session as it was (a cookie sent before the new one arrived).
_REMEMBER_SECONDS = 2 * ACCESS_TOKEN_MARGIN
_REMEMBER_MAX = 4096
#: How long a process remembers a refresh whose outcome it does not know, to say why
#: the next refresh of that session is refused, if it is (a week: past any access token).
_UNKNOWN_SECONDS = 7 * 86400


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
    challenge (``entry`` None, not ``unavailable``), or answer 503 (``unavailable``;
    ``retry_after``: the seconds Auth0 asked the gate to wait, when it said so)."""

    entry: CachedSession | None
    cookie: str | None = None
    unavailable: bool = False
    retry_after: int | None = None


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
        self._idle_limit = idle_limit(idle_timeout)
        self._wait = refresh_wait
        store = sessions.store
        self._shared = store if isinstance(store, RefreshLocks) else None
        self._local = _KeyedLocks()
        #: sid -> (the access token refreshed, the cookie value of the result).
        self._done: TTLCache[str, tuple[str, str]] = TTLCache(
            _REMEMBER_MAX, _REMEMBER_SECONDS, timer=time.monotonic
        )
        self._done_lock = threading.Lock()
        #: sid -> a digest of the refresh token whose refresh got no answer.
        self._unknown: TTLCache[str, bytes] = TTLCache(
            _REMEMBER_MAX, _UNKNOWN_SECONDS, timer=time.monotonic
        )

    def renew(self, value: str, entry: CachedSession) -> Renewal:
        """What to do with a request whose session is due. Errors of the store are
        answered here (:class:`Renewal` with ``unavailable``), never raised."""
        now = self._clock()
        if self._idle and now - entry.session.seen_at > self._idle_limit:
            # Another process may have seen the person since this one cached the entry.
            try:
                stored = self._reload(value)
            except StoreUnavailable as exc:
                log.warning("session store unavailable, idle session not ended: %s", exc)
                return Renewal(None, unavailable=True)
            if stored is None:
                return Renewal(None)
            if now - stored.session.seen_at > self._idle_limit:
                return self._end(value)
            entry = stored
        session = entry.session
        # "Last seen" moves with the idle timeout, and for a listed session (touch_every).
        touch = self._idle or self._sessions.touch_every
        changes: dict[str, Any] = {"seen_at": now} if touch else {}
        expires = session.access_expires_at
        if session.access_token and expires is not None and expires <= now + ACCESS_TOKEN_MARGIN:
            still_valid = expires > now
            if session.refresh_token is None:
                if not still_valid:
                    return self._end(value)
            else:
                return self._refresh(value, entry, changes, still_valid)
        if not changes:
            return Renewal(entry)
        return self._touch(value, entry, changes)

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
                return self._exchange(value, entry, changes, still_valid)
            return self._refresh_shared(self._shared, value, entry, changes, still_valid)
        except StoreUnavailable as exc:
            # Reading the store or taking its lock failed: nothing was refreshed.
            log.warning("session store unavailable, token not refreshed: %s", exc)
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
                    return self._exchange(value, stored, changes, still_valid)
                finally:
                    self._release(locks, value, token)
            if still_valid:
                return Renewal(entry)  # the lock holder refreshes; go on with the old token
            if time.monotonic() >= deadline:
                return Renewal(None, unavailable=True)
            time.sleep(_POLL_SECONDS)
            stored = self._reload(value)
            if stored is None or self._moved_on(stored, entry):
                return Renewal(stored)
            # Still due: the holder is at it, or gave up (then the lock is free again).

    @staticmethod
    def _release(locks: RefreshLocks, value: str, token: str) -> None:
        """Give the lock back; when the store does not answer, it lapses by itself, and
        the refresh's own answer (a 503 for one that could not be saved) stands."""
        try:
            locks.release_refresh_lock(value, token)
        except StoreUnavailable as exc:
            log.warning("session store unavailable, refresh lock left to lapse: %s", exc)

    def _exchange(
        self, value: str, entry: CachedSession, changes: dict[str, Any], still_valid: bool
    ) -> Renewal:
        """The refresh-token grant itself, and the record written with its result."""
        session = entry.session
        refresh_token = session.refresh_token
        assert refresh_token is not None
        try:
            tokens = self._auth0.refresh(refresh_token)
        except (Auth0Unavailable, RateLimited, ClientAuthError) as exc:
            # Not a refusal of the person: keep the session. The refresh token is unused,
            # unless the request reached Auth0 and its answer was lost (below).
            if isinstance(exc, ClientAuthError):
                log.error(
                    "token refresh refused the gate's own credentials (%s): check "
                    "PWLESS_GATE_CLIENT_ID and PWLESS_GATE_CLIENT_SECRET, and that the "
                    "application allows the Refresh Token grant; sessions are kept",
                    exc,
                )
            elif isinstance(exc, Auth0Unavailable) and exc.outcome_unknown:
                self._outcome_unknown(session, exc)
            if not still_valid:
                wait = exc.retry_after if isinstance(exc, RateLimited) else None
                return Renewal(None, unavailable=True, retry_after=wait)
            return self._touch(value, entry, changes) if changes else Renewal(entry)
        except PwlessGateError as exc:
            self._refused(session, exc)
            return self._end(value)
        with self._done_lock:
            self._unknown.pop(session.sid, None)
        changes = {
            **changes,
            "access_token": tokens.access_token,
            "access_expires_at": self._clock() + tokens.expires_in,
            "refresh_token": tokens.refresh_token or refresh_token,
        }
        try:
            renewal = self._write(value, session, changes)
        except StoreUnavailable as exc:
            # Forwarding the old record would keep a session the store may not have.
            log.error(
                "token refreshed for %s but not saved, the session store is unavailable "
                "(%s): its next refresh reuses the old refresh token",
                mask(session.remote_user),
                exc,
            )
            return Renewal(None, unavailable=True)
        if renewal.entry is not None and session.access_token:
            with self._done_lock:
                self._done[session.sid] = (session.access_token, renewal.cookie or value)
        return renewal

    def _outcome_unknown(self, session: Session, exc: Auth0Unavailable) -> None:
        """A refresh sent to Auth0 whose answer was lost: Auth0 may have carried it out."""
        assert session.refresh_token is not None
        with self._done_lock:
            self._unknown[session.sid] = _digest(session.refresh_token)
        log.warning(
            "token refresh for %s: outcome unknown (%s). If Auth0 carried it out, it "
            "rotated the refresh token and the gate's next refresh reuses the old one, "
            "which Auth0 accepts only within the application's Rotation Overlap Period "
            "(README, Refresh tokens)",
            mask(session.remote_user),
            exc,
        )

    def _refused(self, session: Session, exc: PwlessGateError) -> None:
        """Log why Auth0 refused a refresh; the session ends."""
        assert session.refresh_token is not None
        error = exc.error if isinstance(exc, Auth0Error) else type(exc).__name__
        with self._done_lock:
            lost = self._unknown.pop(session.sid, None)
        if lost is not None and hmac.compare_digest(lost, _digest(session.refresh_token)):
            log.warning(
                "token refresh for %s refused (%s), session ended: most likely the earlier "
                "refresh whose outcome was unknown was carried out and rotated the token, "
                "so this was a reuse; a longer Rotation Overlap Period lets it through",
                mask(session.remote_user),
                error,
            )
        else:
            log.info(
                "token refresh for %s refused (%s), session ended", mask(session.remote_user), error
            )

    def _touch(self, value: str, entry: CachedSession, changes: dict[str, Any]) -> Renewal:
        """Write "last seen" onto the record as the store has it now, not as this process
        cached it: another process may have refreshed the tokens since (its clock ahead
        of this one's), and writing the cached record back would restore a refresh token
        Auth0 has rotated away. Only a refresh landing between this read and this write
        is lost. When the store does not answer, go on with the cached entry: the
        session has not ended, and a later request writes it."""
        try:
            stored = self._reload(value)
            if stored is None:  # ended meanwhile (logout, sign out everywhere)
                return Renewal(None)
            return self._write(value, stored.session, changes)
        except StoreUnavailable as exc:
            log.warning('session store unavailable, "last seen" not written: %s', exc)
            return Renewal(entry)

    def _end(self, value: str) -> Renewal:
        """End the session; 503 when the store cannot end it (it must not be forwarded)."""
        try:
            self._sessions.revoke(value)
        except StoreUnavailable as exc:
            log.warning("session store unavailable, session not ended: %s", exc)
            return Renewal(None, unavailable=True)
        return Renewal(None)

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
            return self._end(value)
        if new_value is None:  # ended meanwhile (logout, sign out everywhere): stay ended
            return Renewal(None)
        fresh = self._sessions.lookup(new_value)
        return Renewal(fresh, cookie=new_value if new_value != value else None)


def _digest(token: str) -> bytes:
    """What is remembered of a refresh token: enough to know it again, not the token."""
    return hashlib.sha256(token.encode()).digest()


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
