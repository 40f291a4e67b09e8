"""Sessions in Redis: the cookie holds only a random 256-bit id.

The record lives under ``<namespace>:session:<sha256 of the id>`` with a TTL
equal to the session's remaining life, so a copy of the Redis data holds no
usable cookie. Each user's session keys are also listed under
``<namespace>:user:<sha256 of sub>`` for "sign out everywhere" and the
sessions page (members whose record expired are removed when the set is
read). Logout
deletes the record: every process stops accepting it once its
verified-session cache entry expires (``session_cache_ttl`` seconds).

A session's access token is refreshed by one process at a time: the
process that takes ``<namespace>:refresh:<sha256 of the id>`` (``SET NX PX``,
a few seconds) refreshes and writes the record, the others go on with the
still-valid token or wait for the record to change (see
:mod:`pwless_gate.renew`). Auth0 rotates refresh tokens and revokes the
whole family when one is used twice, so this is what keeps concurrent
requests from signing a person out.

Any Redis failure is raised as :class:`~pwless_gate.errors.StoreUnavailable`
naming the server and the error class (``Redis at 127.0.0.1:6379: ConnectionError``);
the gate then answers 503 for anything that needs the store (fail closed),
while sessions still in a process's cache keep working until their entry
expires. redis-py reconnects by itself when Redis returns.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

from ..errors import ConfigError, StoreUnavailable
from ..sessions import Session, new_session_id, oldest_first

_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{43}$")
#: Keys asked for per SCAN step (and read per MGET) when listing every session.
_SCAN_COUNT = 500
#: Deletes the lock only if it is still the caller's (it may have expired and been retaken).
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def connect(url: str, *, timeout: float = 1.0) -> Any:
    """A ``redis.Redis`` client for ``url`` with short timeouts; needs the ``redis`` extra."""
    try:
        import redis
    except ImportError:
        raise ConfigError(
            "PWLESS_GATE_REDIS_URL", "needs the redis package: pip install 'pwless-gate[redis]'"
        ) from None
    try:
        return redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            health_check_interval=30,
            retry_on_timeout=False,
        )
    except ValueError as exc:
        raise ConfigError("PWLESS_GATE_REDIS_URL", str(exc)) from None


def location(redis: Any) -> str:
    """Where ``redis`` (a ``redis.Redis`` client) connects, for messages and logs.

    ``Redis at 127.0.0.1:6379`` or ``Redis at /run/redis.sock``: the host and
    port or socket path, never a password or the database number.
    """
    kwargs = getattr(getattr(redis, "connection_pool", None), "connection_kwargs", {})
    if kwargs.get("path"):
        return f"Redis at {kwargs['path']}"
    host = str(kwargs.get("host", "localhost"))
    return f"Redis at {f'[{host}]' if ':' in host else host}:{kwargs.get('port', 6379)}"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class RedisStore:
    """A :class:`~pwless_gate.sessions.SessionStore` in Redis."""

    def __init__(
        self,
        redis: Any,
        *,
        namespace: str = "pwless_gate",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._namespace = namespace
        self._clock = clock
        self._location = location(redis)

    def _key(self, value: str) -> str:
        return f"{self._namespace}:session:{_digest(value)}"

    def _user_key(self, sub: str) -> str:
        return f"{self._namespace}:user:{_digest(sub)}"

    def _ttl(self, session: Session) -> int:
        return max(1, int(session.expires_at - self._clock()))

    def save(self, session: Session) -> str:
        value = new_session_id()
        self._write(value, session)
        return value

    def update(self, cookie_value: str, session: Session) -> str | None:
        """Replace the record only if it still exists (``SET … XX``), in one step.

        A renewal racing a logout or "sign out everywhere" on another host can
        therefore never write the ended session back; None says it was ended.
        """
        if not _SESSION_ID.match(cookie_value):
            return None
        record = json.dumps(session.to_record(), separators=(",", ":"))
        try:
            written = self._redis.set(
                self._key(cookie_value), record, ex=self._ttl(session), xx=True
            )
        except Exception as exc:
            raise StoreUnavailable(f"{self._location}: {type(exc).__name__}") from exc
        return cookie_value if written else None

    def _write(self, value: str, session: Session) -> None:
        ttl = self._ttl(session)
        user_key = self._user_key(str(session.claims["sub"]))
        record = json.dumps(session.to_record(), separators=(",", ":"))
        try:
            pipe = self._redis.pipeline(transaction=True)
            pipe.set(self._key(value), record, ex=ttl)
            pipe.sadd(user_key, self._key(value))
            pipe.expire(user_key, ttl, gt=True)
            pipe.expire(user_key, ttl, nx=True)
            pipe.execute()
        except Exception as exc:  # redis-py has many exception types; all mean "not now"
            raise StoreUnavailable(f"{self._location}: {type(exc).__name__}") from exc

    def load(self, cookie_value: str) -> Session | None:
        if not _SESSION_ID.match(cookie_value):
            return None
        try:
            raw = self._redis.get(self._key(cookie_value))
        except Exception as exc:
            raise StoreUnavailable(f"{self._location}: {type(exc).__name__}") from exc
        if raw is None:
            return None
        try:
            return Session.from_record(json.loads(raw))
        except (KeyError, TypeError, ValueError):
            return None

    def revoke(self, cookie_value: str) -> None:
        if not _SESSION_ID.match(cookie_value):
            return
        try:
            self._redis.delete(self._key(cookie_value))
        except Exception as exc:
            raise StoreUnavailable(f"{self._location}: {type(exc).__name__}") from exc

    def acquire_refresh_lock(self, cookie_value: str, seconds: float) -> str | None:
        """Take the session's refresh lock for ``seconds`` (``SET NX PX``); return its
        token, or None when another process holds it."""
        token = secrets.token_hex(16)
        key = f"{self._namespace}:refresh:{_digest(cookie_value)}"
        try:
            taken = self._redis.set(key, token, nx=True, px=max(1, int(seconds * 1000)))
        except Exception as exc:
            raise StoreUnavailable(f"{self._location}: {type(exc).__name__}") from exc
        return token if taken else None

    def release_refresh_lock(self, cookie_value: str, token: str) -> None:
        """Give the lock back if ``token`` still holds it. Never raises: a lock not
        given back ends by itself after its few seconds."""
        key = f"{self._namespace}:refresh:{_digest(cookie_value)}"
        with contextlib.suppress(Exception):  # the refresh it guarded is done either way
            self._redis.eval(_RELEASE, 1, key, token)

    def revoke_user(self, sub: str) -> int:
        """Delete every session of the user ``sub``; returns how many there were."""
        user_key = self._user_key(sub)
        try:
            keys = self._redis.smembers(user_key)
            pipe = self._redis.pipeline(transaction=True)
            for key in keys:
                pipe.delete(key)
            pipe.delete(user_key)
            results = pipe.execute()
        except Exception as exc:
            raise StoreUnavailable(f"{self._location}: {type(exc).__name__}") from exc
        return int(sum(results[:-1]))

    def sessions_of(self, sub: str) -> list[Session]:
        """The live sessions of ``sub``, oldest first, from the user's set; members
        whose record expired or was deleted are removed from the set."""
        return [session for _, session in self._members(sub)]

    def all_sessions(self) -> list[Session]:
        """Every live session, oldest first: a ``SCAN`` of the session keys (bounded
        ``COUNT`` per step), for operators."""
        found: list[Session] = []
        try:
            batch: list[Any] = []
            for key in self._redis.scan_iter(
                match=f"{self._namespace}:session:*", count=_SCAN_COUNT
            ):
                batch.append(key)
                if len(batch) >= _SCAN_COUNT:
                    found.extend(s for s in map(_session, self._redis.mget(batch)) if s)
                    batch = []
            if batch:
                found.extend(s for s in map(_session, self._redis.mget(batch)) if s)
        except Exception as exc:
            raise StoreUnavailable(f"{self._location}: {type(exc).__name__}") from exc
        return sorted(found, key=oldest_first)

    def revoke_where(self, sub: str, select: Callable[[Session], bool]) -> int:
        """Delete the sessions of ``sub`` that ``select`` picks; returns how many went."""
        chosen = [key for key, session in self._members(sub) if select(session)]
        if not chosen:
            return 0
        try:
            pipe = self._redis.pipeline(transaction=True)
            for key in chosen:
                pipe.delete(key)
            pipe.srem(self._user_key(sub), *chosen)
            results = pipe.execute()
        except Exception as exc:
            raise StoreUnavailable(f"{self._location}: {type(exc).__name__}") from exc
        return int(sum(results[:-1]))

    def _members(self, sub: str) -> list[tuple[Any, Session]]:
        """(key, session) for each live session in the user's set, oldest first."""
        user_key = self._user_key(sub)
        try:
            keys = sorted(self._redis.smembers(user_key))
            records = self._redis.mget(keys) if keys else []
            gone = [key for key, raw in zip(keys, records, strict=True) if raw is None]
            if gone:
                self._redis.srem(user_key, *gone)
        except Exception as exc:
            raise StoreUnavailable(f"{self._location}: {type(exc).__name__}") from exc
        found = [(key, _session(raw)) for key, raw in zip(keys, records, strict=True)]
        live = [(key, session) for key, session in found if session is not None]
        return sorted(live, key=lambda pair: oldest_first(pair[1]))


def _session(raw: Any) -> Session | None:
    """The session in a stored record, or None when it is gone or malformed."""
    if raw is None:
        return None
    try:
        return Session.from_record(json.loads(raw))
    except (KeyError, TypeError, ValueError):
        return None
