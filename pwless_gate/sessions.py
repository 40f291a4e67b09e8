"""Sessions: the record, the stores that keep it, and the verified-session cache.

The stores themselves are in :mod:`pwless_gate.stores`. In front of every
store sits :class:`SessionCache`, a bounded,
thread-safe cache keyed by the cookie value, so an authenticated request
costs a dictionary lookup and an expiry check. Only records that passed
signature and expiry checks ever enter it; a flood of forged cookies cannot
grow it.

A signed-cookie session cannot be revoked before it expires: logout deletes
the cookie and drops it from this process's cache. Use a server-side store
when revocation everywhere matters. The server-side stores are also a
:class:`SessionIndex`: they list a person's sessions and end one of them by
its :attr:`Session.handle` (the sessions page, ``pwless-gate sessions``).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

from cachetools import FIFOCache

from .useragents import bounded

#: Seconds before an access token expires when the gate refreshes it.
ACCESS_TOKEN_MARGIN = 60
#: How often, at most, a listed session's "last seen" is written (seconds).
SEEN_EVERY = 60


def idle_seen_every(idle_timeout: int) -> float:
    """With an idle timeout, how long after its "last seen" (``seen_at``) a request
    writes it again: a quarter of the timeout, and no more than :data:`SEEN_EVERY`.

    Writing on every request would cost a store write (or, with signed cookies, a new
    cookie) per request; writing this often costs at most one per session, process and
    period, and for a timeout of 4 minutes or more no more writes than "last seen" of a
    listed session already makes. The period bounds what the record may lag behind the
    person's last request, so it is what the session may outlive its timeout by (see
    :func:`idle_limit`): a quarter of it, never more than a minute.
    """
    return min(idle_timeout / 4, SEEN_EVERY)


def idle_limit(idle_timeout: int) -> float:
    """How long after its recorded "last seen" a session ends: the timeout, plus the
    period of :func:`idle_seen_every`, plus one second.

    Every request since "last seen" was written came before ``seen_at`` plus the
    period, or it would have written it again; the record keeps whole seconds, so
    ``seen_at`` as read may be up to a second before the write. A session therefore
    never ends before ``idle_timeout`` seconds without a request, and always has
    after ``idle_limit`` seconds without one.
    """
    return idle_timeout + idle_seen_every(idle_timeout) + 1


#: The longest client IP kept in a record (an IPv6 address with a zone fits).
MAX_IP = 64
#: What a session handle looks like: 96 bits, URL-safe base64.
HANDLE = re.compile(r"^[A-Za-z0-9_-]{16}$")


@dataclass(frozen=True, slots=True)
class User:
    """The signed-in person, as the wrapped app sees it in ``pwless_gate.user``.

    ``roles`` are read from the claim ``PWLESS_GATE_ROLES_CLAIM`` names (empty
    when it is not set or the token has none).

    .. versionchanged:: 0.2.0
       ``roles``.
    """

    sub: str
    email: str | None
    phone_number: str | None
    name: str | None
    claims: Mapping[str, Any]
    roles: tuple[str, ...] = ()

    @classmethod
    def from_claims(
        cls, claims: Mapping[str, Any], roles_claim: str | None = None, *, own: bool = False
    ) -> User:
        """The user the verified ``claims`` describe; roles from ``claims[roles_claim]``.

        ``user.claims`` is a read-only view of a copy of ``claims``; with ``own``, of
        ``claims`` itself, when it is a dict nobody changes (a cached session's own: a
        cache of thousands of sessions then holds one dict of claims per session, not two).
        """

        def text(key: str) -> str | None:
            value = claims.get(key)
            return value if isinstance(value, str) else None

        return cls(
            sub=str(claims["sub"]),
            email=text("email"),
            phone_number=text("phone_number"),
            name=text("name"),
            claims=MappingProxyType(claims if own and type(claims) is dict else dict(claims)),
            roles=roles_of(claims, roles_claim),
        )


def roles_of(claims: Mapping[str, Any], roles_claim: str | None) -> tuple[str, ...]:
    """The roles in ``claims[roles_claim]``: a list of strings (other items are
    ignored) or one string; () when there is no such claim."""
    if roles_claim is None:
        return ()
    value = claims.get(roles_claim)
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(dict.fromkeys(v for v in value if isinstance(v, str)))
    return ()


@dataclass(frozen=True, slots=True)
class Session:
    """One signed-in browser. ``remote_user`` is the email or E.164 number."""

    sid: str
    remote_user: str
    connection: str
    claims: Mapping[str, Any]
    created_at: float
    expires_at: float
    access_token: str | None = None
    access_expires_at: float | None = None
    refresh_token: str | None = None
    #: The last time the idle timeout was pushed back (0: never, use created_at).
    seen_at: float = 0.0
    #: The id its owner sees on the sessions page and sends to end it. Random for a
    #: new session; for a record written before handles existed, derived from ``sid``
    #: (stable, and the cookie value cannot be worked out from it either).
    handle: str = ""
    #: The client's IP at sign-in, through trusted proxies ("" when not known).
    ip: str = ""
    #: A short browser summary such as "Firefox on Linux" ("" when not known).
    agent: str = ""

    def __post_init__(self) -> None:
        if not self.seen_at:
            object.__setattr__(self, "seen_at", self.created_at)
        if not self.handle:
            object.__setattr__(self, "handle", derived_handle(self.sid))

    def to_record(self) -> dict[str, Any]:
        record = {
            "sid": self.sid,
            "u": self.remote_user,
            "c": self.connection,
            "cl": dict(self.claims),
            "ca": int(self.created_at),
            "ex": int(self.expires_at),
            "sa": int(self.seen_at),
            "h": self.handle,
        }
        if self.ip:
            record["ip"] = self.ip
        if self.agent:
            record["ua"] = self.agent
        if self.access_token:
            record.update(at=self.access_token, ate=self.access_expires_at)
        if self.refresh_token:
            record["rt"] = self.refresh_token
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Session:
        """Raises ``KeyError``/``TypeError``/``ValueError`` on a malformed record."""
        claims = record["cl"]
        if not isinstance(claims, dict) or not isinstance(claims.get("sub"), str):
            raise ValueError("session record has no claims")
        return cls(
            sid=str(record["sid"]),
            remote_user=str(record["u"]),
            connection=str(record["c"]),
            claims=claims,
            created_at=float(record["ca"]),
            expires_at=float(record["ex"]),
            access_token=record.get("at"),
            access_expires_at=record.get("ate"),
            refresh_token=record.get("rt"),
            seen_at=float(record.get("sa") or record["ca"]),
            handle=_handle(record.get("h")),
            ip=bounded(record.get("ip"))[:MAX_IP],
            agent=bounded(record.get("ua")),
        )


def new_session_id() -> str:
    """A random 256-bit session id."""
    return secrets.token_urlsafe(32)


def new_handle() -> str:
    """A random 96-bit session handle (16 URL-safe characters)."""
    return secrets.token_urlsafe(12)


def derived_handle(sid: str) -> str:
    """The handle of a session recorded without one: a hash of its ``sid``."""
    digest = hashlib.sha256(b"pwless-gate handle\x00" + sid.encode()).digest()[:12]
    return base64.urlsafe_b64encode(digest).decode()


def oldest_first(session: Session) -> tuple[float, str, str]:
    """The sort key of listings: when it started (to the second), then who, then the
    handle, so every listing of the same sessions has the same order."""
    return (session.created_at, session.remote_user, session.handle)


def _handle(value: object) -> str:
    """A stored handle if it is well-formed, else "" (so one is derived)."""
    return value if isinstance(value, str) and HANDLE.match(value) else ""


class SessionStore(Protocol):
    """Where session records live between requests."""

    def save(self, session: Session) -> str:
        """Store ``session``; return the cookie value that finds it again."""

    def load(self, cookie_value: str) -> Session | None:
        """The session for a cookie value, or None if unknown, forged or malformed."""

    def revoke(self, cookie_value: str) -> None:
        """Forget the session, where the store can."""

    def update(self, cookie_value: str, session: Session) -> str | None:
        """Replace the record; return the cookie value that finds it now, or None when
        the session was ended meanwhile (nothing is written then)."""


@runtime_checkable
class SessionIndex(Protocol):
    """A store that lists the sessions it holds and ends them one by one (SQLite, Redis)."""

    def sessions_of(self, sub: str) -> list[Session]:
        """The live sessions of the user ``sub``, oldest first."""

    def all_sessions(self) -> list[Session]:
        """Every live session, oldest first (a scan: for operators, not for requests)."""

    def revoke_where(self, sub: str, select: Callable[[Session], bool]) -> int:
        """End the live sessions of ``sub`` for which ``select`` is true; return how many."""


@dataclass(frozen=True, slots=True)
class CachedSession:
    """A verified session with the environ keys the wrapped app will get."""

    session: Session
    user: User
    environ: dict[str, Any] = field(repr=False)
    #: Until when the cache may answer for it without asking the store again.
    fresh_until: float = 0.0
    #: When the session next needs attention (token refresh, idle timeout); None: never.
    refresh_at: float | None = None

    @property
    def expires_at(self) -> float:
        return self.session.expires_at


def _cached(
    session: Session,
    fresh_until: float,
    idle_timeout: int = 0,
    touch_every: int = 0,
    roles_claim: str | None = None,
) -> CachedSession:
    user = User.from_claims(session.claims, roles_claim, own=True)
    environ: dict[str, Any] = {
        "REMOTE_USER": session.remote_user,
        "pwless_gate.user": user,
        "pwless_gate.auth_method": "session",
    }
    times = []
    if session.access_token:
        environ["pwless_gate.access_token"] = session.access_token
        times.append((session.access_expires_at or 0) - ACCESS_TOKEN_MARGIN)
    if idle_timeout:
        times.append(session.seen_at + idle_seen_every(idle_timeout))
    if touch_every:
        times.append(session.seen_at + touch_every)
    refresh_at = min(times) if times else None
    return CachedSession(
        session=session,
        user=user,
        environ=environ,
        fresh_until=min(fresh_until, session.expires_at),
        refresh_at=refresh_at,
    )


class SessionCache:
    """Bounded, thread-safe cache of verified sessions in front of a store.

    Reads take no lock: a FIFO cache is not reordered by a read, and one
    dictionary read is atomic in CPython. Writes and evictions hold the lock.
    An entry is trusted for ``ttl`` seconds (never past the session's end),
    then the store is asked again, so a revoked session is refused by every
    process within ``ttl``.

    ``touch_every`` (seconds, 0 for never) makes a session due for renewal
    that long after its ``seen_at``, so "last seen" is written at most that
    often per session and process, never on every request. ``roles_claim``
    names the claim the users' roles are read from.
    """

    def __init__(
        self,
        store: SessionStore,
        *,
        maxsize: int = 10_000,
        ttl: float = 5.0,
        idle_timeout: int = 0,
        clock: Callable[[], float] = time.time,
        admit: Callable[[Session], bool] | None = None,
        touch_every: int = 0,
        roles_claim: str | None = None,
    ) -> None:
        self.store = store
        self.touch_every = touch_every
        self.roles_claim = roles_claim
        self._admit = admit
        self._idle = idle_timeout
        self._cache: FIFOCache[str, CachedSession] = FIFOCache(maxsize=maxsize)
        self._lock = threading.Lock()
        self._ttl = ttl
        self._clock = clock

    def __len__(self) -> int:
        return len(self._cache)

    def lookup(self, cookie_value: str) -> CachedSession | None:
        """The verified, unexpired session for a cookie value, or None.

        Errors of the store (Redis down) propagate; the cache does not hide them.
        """
        # One read that cannot race: cachetools' get() is "in" then "[]", and
        # another thread may evict or replace the entry between the two.
        try:
            entry: CachedSession | None = self._cache[cookie_value]
        except KeyError:
            entry = None
        now = self._clock()
        if entry is not None and now < entry.fresh_until:
            return entry
        session = self.store.load(cookie_value)
        if (
            session is None
            or session.expires_at <= now
            or (self._admit is not None and not self._admit(session))
        ):
            if entry is not None:
                self.forget(cookie_value)
            return None
        entry = _cached(session, now + self._ttl, self._idle, self.touch_every, self.roles_claim)
        with self._lock:
            self._cache[cookie_value] = entry
        return entry

    def save(self, session: Session) -> str:
        """Store a new session; return its cookie value."""
        value = self.store.save(session)
        with self._lock:
            self._cache[value] = self._entry(session)
        return value

    def replace(self, cookie_value: str, session: Session) -> str | None:
        """Replace a session's record (after a token refresh); return its cookie value,
        or None when the store says the session was ended meanwhile."""
        value = self.store.update(cookie_value, session)
        with self._lock:
            self._cache.pop(cookie_value, None)
            if value is not None:
                self._cache[value] = self._entry(session)
        return value

    def _entry(self, session: Session) -> CachedSession:
        return _cached(
            session, self._clock() + self._ttl, self._idle, self.touch_every, self.roles_claim
        )

    def forget(self, cookie_value: str) -> None:
        with self._lock:
            self._cache.pop(cookie_value, None)

    def revoke_user(self, sub: str) -> int:
        """Drop every session of ``sub`` here and in the store, if the store can."""
        revoke_user = getattr(self.store, "revoke_user", None)
        if revoke_user is None:
            raise TypeError(
                f"{type(self.store).__name__} cannot revoke sessions; use SQLite or Redis"
            )
        with self._lock:
            mine = [k for k, v in self._cache.items() if v.session.claims.get("sub") == sub]
            for key in mine:
                self._cache.pop(key, None)
        return int(revoke_user(sub))

    @property
    def index(self) -> SessionIndex | None:
        """The store, when it can list and end sessions one by one; else None."""
        return self.store if isinstance(self.store, SessionIndex) else None

    def sessions_of(self, sub: str) -> list[Session]:
        """The live sessions of ``sub``; raises ``TypeError`` when the store cannot list."""
        return self._index().sessions_of(sub)

    def revoke_where(self, sub: str, select: Callable[[Session], bool]) -> int:
        """End the sessions of ``sub`` that ``select`` picks, here and in the store;
        returns how many the store ended. Raises ``TypeError`` as :meth:`sessions_of`."""
        index = self._index()
        with self._lock:
            mine = [
                k
                for k, v in self._cache.items()
                if v.session.claims.get("sub") == sub and select(v.session)
            ]
            for key in mine:
                self._cache.pop(key, None)
        return index.revoke_where(sub, select)

    def _index(self) -> SessionIndex:
        index = self.index
        if index is None:
            raise TypeError(
                f"{type(self.store).__name__} cannot list or end sessions; use SQLite or Redis"
            )
        return index

    def revoke(self, cookie_value: str) -> None:
        """Drop the session from this process and from the store."""
        self.forget(cookie_value)
        self.store.revoke(cookie_value)
