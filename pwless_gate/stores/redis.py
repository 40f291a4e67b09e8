"""Sessions in Redis: the cookie holds only a random 256-bit id, signed with the secret key.

The signature is checked before Redis is asked (:mod:`~pwless_gate.stores.signed_ids`:
a session ends with the key that signed it). The record lives under
``<namespace>:session:<sha256 of the id>`` with a TTL
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

Redis Sentinel (``redis+sentinel://…``, see :mod:`pwless_gate.redis_urls`)
changes nothing above: the client asks the sentinels for the master on each
new connection, and a command on a connection to a master that failed over
is sent again, once, on a new one. Replication is asynchronous, so the last
writes before a master dies may be lost with it (a session that is gone is
a sign-in again, never a wrong one).

Redis Cluster (``redis+cluster://…``) runs a transaction or script only on
keys of one hash slot. The key names stay the ones above, without hash
tags: a session's slot follows from its random id (so sessions spread over
the masters), and every command on it, the refresh lock included, touches
one key. Only saving a session and "sign out everywhere" touch a session
and its user's list, which are in different slots and cannot share one by
the cookie id alone (the list is found by ``sub``, the record by the id).
In a cluster these are two steps instead of one transaction, in the order
that keeps the list a superset of the user's live sessions: a save lists
the session first and then writes it (if the write fails, the list holds
a name that ends with it); ``revoke_user`` deletes the listed sessions,
then takes exactly those off the list, so a session saved meanwhile stays
listed. The throttle's counters are the other multi-key command; see
:class:`~pwless_gate.throttle.RedisThrottle` for their one hash tag.

App tokens (:class:`RedisTokenStore`) live under
``<namespace>:apptoken:<sha256 of the token>``, a hash of the record (``r``),
the last use (``u``) and a first-use flag (``f``), expiring with the token;
each user's tokens are listed under ``<namespace>:user-tokens:<sha256 of sub>``.
As with sessions, in a cluster a token and its user's list are in different
slots: a new token is listed first and written second, a revoke deletes the
tokens first and takes them off the list second.

Saved forms (:class:`RedisFormStore`) live under ``<namespace>:form:<sha256 of
the handle>``, and who last signed in on a browser under
``<namespace>:browser-user:<hash of the browser id>``, each expiring with
its record. Every operation touches one key (taking a form is ``GET`` and
``DEL`` in one ``MULTI``), so a cluster needs no ordered steps.

Any Redis failure is raised as :class:`~pwless_gate.errors.StoreUnavailable`
naming the server and the error class (``Redis at 127.0.0.1:6379: ConnectionError``,
``Redis Sentinel mymaster at 10.0.0.1:26379,10.0.0.2:26379: MasterNotFoundError``,
``Redis Cluster at 10.0.0.1:6379,…: ClusterDownError``: hosts, never a password);
the gate then answers 503 for anything that needs the store (fail closed),
while sessions still in a process's cache keep working until their entry
expires. redis-py reconnects by itself when Redis returns.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from .. import redis_urls
from ..apptokens import AppToken, newest_first
from ..errors import ConfigError, StoreUnavailable
from ..redis_urls import host_port
from ..sessions import Session, oldest_first
from .signed_ids import SignedIds

#: Keys asked for per SCAN step (and read per MGET) when listing every session.
_SCAN_COUNT = 500
#: Deletes the lock only if it is still the caller's (it may have expired and been retaken).
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def connect(url: str, *, timeout: float = 1.0, setting: str = "PWLESS_GATE_STORE") -> Any:
    """A client for ``url`` with short timeouts; needs the ``redis`` extra.

    ``redis://``, ``rediss://``, ``unix://``: a ``redis.Redis``. ``redis+sentinel://``:
    the ``redis.Redis`` that ``Sentinel(…).master_for(service)`` gives, which asks the
    sentinels for the master on each new connection, so it follows a failover.
    ``redis+cluster://``: a :class:`LazyCluster`. None of them connects before its
    first command, so a gate starts while Redis is away (and answers 503 until it is back).
    """
    target = redis_urls.parse(url, setting)
    try:
        import redis
    except ImportError:
        raise ConfigError(
            setting, "needs the redis package: pip install 'pwless-gate[redis]'"
        ) from None
    options: dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "health_check_interval": 30,
    }
    if target.kind == "sentinel":
        from redis.backoff import NoBackoff
        from redis.retry import Retry
        from redis.sentinel import Sentinel

        sentinel = Sentinel(  # type: ignore[no-untyped-call]
            list(target.hosts),
            # A sentinel that does not answer is passed over for the next one at once.
            sentinel_kwargs={
                "socket_timeout": timeout,
                "socket_connect_timeout": timeout,
                "retry": Retry(NoBackoff(), 0),
            },
            retry_on_timeout=False,
            # One retry, at once: a connection to a master that failed over is
            # dropped and the command sent on a new one, to the master the
            # sentinels name now. redis-py's default (10, backing off to 1 s,
            # for each sentinel) would hold a request seconds while no master
            # answers; it gets a 503 instead, as with one Redis server.
            retry=Retry(NoBackoff(), 1),
            **options,
        )
        assert target.service is not None  # parse() insists on it
        return sentinel.master_for(  # type: ignore[no-untyped-call]
            target.service, db=target.db, username=target.username, password=target.password
        )
    if target.kind == "cluster":
        from redis.cluster import ClusterNode, RedisCluster

        def cluster() -> Any:
            return RedisCluster(
                startup_nodes=[
                    ClusterNode(host, port)  # type: ignore[no-untyped-call]
                    for host, port in target.hosts
                ],
                username=target.username,
                password=target.password,
                **options,
            )

        return LazyCluster(cluster, target.describe())
    try:
        return redis.Redis.from_url(url, retry_on_timeout=False, **options)
    except ValueError:
        # redis-py's words quote the part it could not read, which may be a piece of the
        # password (an unencoded "/" or "@" in it moves where the port seems to start).
        raise ConfigError(
            setting,
            f"{target.describe()}: redis-py cannot read this URL; percent-encode any "
            "/ ? # @ : in the user name or password (%2F %3F %23 %40 %3A)",
        ) from None


class LazyCluster:
    """A ``redis.cluster.RedisCluster`` made on first use, for :func:`connect`.

    RedisCluster's constructor asks the nodes for the slot map at once and
    raises when none answers; made here on the first command instead, an
    unreachable cluster is a failing command (StoreUnavailable, a 503) rather
    than a gate that cannot start. Every attribute is the real client's.
    """

    def __init__(self, make: Callable[[], Any], location: str) -> None:
        self._make = make
        self._client: Any = None
        self._lock = threading.Lock()
        self.location = location

    def client(self) -> Any:
        """The RedisCluster, made now if it was not yet (which may raise)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._make()
        return self._client

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_make", "_client", "_lock"):
            raise AttributeError(name)  # not set yet (a copy being made): never recurse
        return getattr(self.client(), name)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def is_cluster(redis: Any) -> bool:
    """Whether ``redis`` is a Redis Cluster client (keys of one command must share a slot)."""
    if isinstance(redis, LazyCluster):
        return True
    try:
        from redis.cluster import RedisCluster
    except ImportError:  # pragma: no cover - no client without the package
        return False
    return isinstance(redis, RedisCluster)


def location(redis: Any) -> str:
    """Where ``redis`` (a client :func:`connect` made, or one made by hand) connects, for
    messages and logs: the host and port or socket path, never a password or the database.

    ``Redis at 127.0.0.1:6379``, ``Redis at /run/redis.sock``,
    ``Redis Sentinel mymaster at 10.0.0.1:26379,10.0.0.2:26379`` (the sentinels: the
    master changes), ``Redis Cluster at 10.0.0.1:6379,10.0.0.2:6379`` (the nodes given).
    """
    if isinstance(redis, LazyCluster):
        return redis.location
    startup = getattr(getattr(redis, "nodes_manager", None), "startup_nodes", None)
    if startup is not None:
        nodes = [host_port(str(node.host), int(node.port)) for node in startup.values()]
        return f"Redis Cluster at {','.join(nodes)}"
    pool = getattr(redis, "connection_pool", None)
    manager = getattr(pool, "sentinel_manager", None)
    if manager is not None:
        sentinels = [
            host_port(str(kw.get("host")), int(kw.get("port", 26379)))
            for kw in (s.connection_pool.connection_kwargs for s in manager.sentinels)
        ]
        return f"Redis Sentinel {pool.service_name} at {','.join(sentinels)}"  # type: ignore[union-attr]
    kwargs = getattr(pool, "connection_kwargs", {})
    if kwargs.get("path"):
        return f"Redis at {kwargs['path']}"
    return f"Redis at {host_port(str(kwargs.get('host', 'localhost')), kwargs.get('port', 6379))}"


def current_master(redis: Any) -> str | None:
    """The ``host:port`` the sentinels name as master now, for a Sentinel client; else None.

    Asks the sentinels (it may raise what redis-py raises)."""
    pool = getattr(redis, "connection_pool", None)
    if getattr(pool, "sentinel_manager", None) is None:
        return None
    host, port = pool.get_master_address()  # type: ignore[union-attr]
    return host_port(str(host), int(port))


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class _RedisRecords:
    """What the Redis stores share: the client, the key namespace, the clock, and the
    store's name in a failure (``StoreUnavailable("Redis at host:6379: TimeoutError")``)."""

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
        self._cluster = is_cluster(redis)

    def _fail(self, exc: Exception) -> StoreUnavailable:
        return StoreUnavailable(f"{self._location}: {type(exc).__name__}")


class RedisStore(_RedisRecords):
    """A :class:`~pwless_gate.sessions.SessionStore` in Redis.

    ``keys`` sign and check the cookie values (the gate's
    :attr:`~pwless_gate.config.GateConfig.signing_keys`, oldest first).
    """

    def __init__(
        self,
        redis: Any,
        *,
        keys: Sequence[bytes],
        namespace: str = "pwless_gate",
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(redis, namespace=namespace, clock=clock)
        self._ids = SignedIds(keys)

    def _key(self, sid: str) -> str:
        """Where the record of the session with the (verified) id ``sid`` lives."""
        return f"{self._namespace}:session:{_digest(sid)}"

    def _user_key(self, sub: str) -> str:
        return f"{self._namespace}:user:{_digest(sub)}"

    def _ttl(self, session: Session) -> int:
        return max(1, int(session.expires_at - self._clock()))

    def save(self, session: Session) -> str:
        sid, value = self._ids.new()
        self._write(sid, session)
        return value

    def update(self, cookie_value: str, session: Session) -> str | None:
        """Replace the record only if it still exists (``SET … XX``), in one step.

        A renewal racing a logout or "sign out everywhere" on another host can
        therefore never write the ended session back; None says it was ended. The
        value returned is signed with the newest key.
        """
        sid = self._ids.unsign(cookie_value)
        if sid is None:
            return None
        record = json.dumps(session.to_record(), separators=(",", ":"))
        try:
            written = self._redis.set(self._key(sid), record, ex=self._ttl(session), xx=True)
        except Exception as exc:
            raise self._fail(exc) from exc
        return self._ids.sign(sid) if written else None

    def _write(self, sid: str, session: Session) -> None:
        ttl = self._ttl(session)
        user_key = self._user_key(str(session.claims["sub"]))
        record = json.dumps(session.to_record(), separators=(",", ":"))
        try:
            if self._cluster:
                # Two slots: the index first, so no session is ever live and unlisted.
                self._index(self._redis.pipeline(transaction=True), user_key, sid, ttl)
                self._redis.set(self._key(sid), record, ex=ttl)
                return
            pipe = self._redis.pipeline(transaction=True)
            pipe.set(self._key(sid), record, ex=ttl)
            self._index(pipe, user_key, sid, ttl)
        except Exception as exc:  # redis-py has many exception types; all mean "not now"
            raise self._fail(exc) from exc

    def _index(self, pipe: Any, user_key: str, sid: str, ttl: int) -> None:
        """List the session under its user; the list lives as long as its longest session."""
        pipe.sadd(user_key, self._key(sid))
        pipe.expire(user_key, ttl, gt=True)
        pipe.expire(user_key, ttl, nx=True)
        pipe.execute()

    def load(self, cookie_value: str) -> Session | None:
        sid = self._ids.unsign(cookie_value)
        if sid is None:
            return None
        try:
            raw = self._redis.get(self._key(sid))
        except Exception as exc:
            raise self._fail(exc) from exc
        if raw is None:
            return None
        try:
            return Session.from_record(json.loads(raw))
        except (KeyError, TypeError, ValueError):
            return None

    def revoke(self, cookie_value: str) -> None:
        # Signed with a key kept or not: a session no longer accepted is ended all the same.
        sid = self._ids.named(cookie_value)
        if sid is None:
            return
        try:
            self._redis.delete(self._key(sid))
        except Exception as exc:
            raise self._fail(exc) from exc

    def acquire_refresh_lock(self, cookie_value: str, seconds: float) -> str | None:
        """Take the session's refresh lock for ``seconds`` (``SET NX PX``); return its
        token, or None when another process holds it."""
        token = secrets.token_hex(16)
        key = self._lock_key(cookie_value)
        try:
            taken = self._redis.set(key, token, nx=True, px=max(1, int(seconds * 1000)))
        except Exception as exc:
            raise self._fail(exc) from exc
        return token if taken else None

    def release_refresh_lock(self, cookie_value: str, token: str) -> None:
        """Give the lock back if ``token`` still holds it. Never raises: a lock not
        given back ends by itself after its few seconds."""
        key = self._lock_key(cookie_value)
        with contextlib.suppress(Exception):  # the refresh it guarded is done either way
            self._redis.eval(_RELEASE, 1, key, token)

    def _lock_key(self, cookie_value: str) -> str:
        """A session's refresh lock, by its id: the same whichever key signed the cookie
        value (one signed with a previous key and its renewal signed with the newest)."""
        sid = self._ids.unsign(cookie_value) or cookie_value
        return f"{self._namespace}:refresh:{_digest(sid)}"

    def revoke_user(self, sub: str) -> int:
        """Delete every session of the user ``sub``; returns how many there were."""
        user_key = self._user_key(sub)
        if self._cluster:
            return self._revoke_listed(user_key)
        try:
            keys = list(self._redis.smembers(user_key))
            if not keys:
                return 0
            # Only the listed sessions are taken off the list: one saved since the read
            # above stays listed (and alive: it began after this sign-out).
            pipe = self._redis.pipeline(transaction=True)
            for key in keys:
                pipe.delete(key)
            pipe.srem(user_key, *keys)
            results = pipe.execute()
        except Exception as exc:
            raise self._fail(exc) from exc
        return int(sum(results[:-1]))

    def _revoke_listed(self, user_key: str) -> int:
        """revoke_user in a cluster: the sessions are in other slots than their list, so
        no transaction; each is deleted (a pipeline sends them to their nodes), then
        taken off the list. A session saved meanwhile stays listed for the next call."""
        try:
            keys = list(self._redis.smembers(user_key))
            if not keys:
                return 0
            pipe = self._redis.pipeline(transaction=False)
            for key in keys:
                pipe.delete(key)
            deleted = pipe.execute()
            self._redis.srem(user_key, *keys)
        except Exception as exc:
            raise self._fail(exc) from exc
        return int(sum(deleted))

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
                    found.extend(s for s in map(_session, self._mget(batch)) if s)
                    batch = []
            if batch:
                found.extend(s for s in map(_session, self._mget(batch)) if s)
        except Exception as exc:
            raise self._fail(exc) from exc
        return sorted(found, key=oldest_first)

    def revoke_where(self, sub: str, select: Callable[[Session], bool]) -> int:
        """Delete the sessions of ``sub`` that ``select`` picks; returns how many went."""
        chosen = [key for key, session in self._members(sub) if select(session)]
        if not chosen:
            return 0
        try:
            # In a cluster the sessions and their list are in other slots: no transaction,
            # the deletes first, then the list (as _revoke_listed does).
            pipe = self._redis.pipeline(transaction=not self._cluster)
            for key in chosen:
                pipe.delete(key)
            if self._cluster:
                deleted = pipe.execute()
                self._redis.srem(self._user_key(sub), *chosen)
            else:
                pipe.srem(self._user_key(sub), *chosen)
                deleted = pipe.execute()[:-1]
        except Exception as exc:
            raise self._fail(exc) from exc
        return int(sum(deleted))

    def _mget(self, keys: list[Any]) -> list[Any]:
        """The values of ``keys``; in a cluster one read per slot (keys spread over them)."""
        if self._cluster:
            return list(self._redis.mget_nonatomic(keys))
        return list(self._redis.mget(keys))

    def _members(self, sub: str) -> list[tuple[Any, Session]]:
        """(key, session) for each live session in the user's set, oldest first."""
        user_key = self._user_key(sub)
        try:
            keys = sorted(self._redis.smembers(user_key))
            records = self._mget(keys) if keys else []
            gone = [key for key, raw in zip(keys, records, strict=True) if raw is None]
            if gone:
                self._redis.srem(user_key, *gone)
        except Exception as exc:
            raise self._fail(exc) from exc
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


#: Records a use of a token if it still exists: 1 for the first use, 0 for a later
#: one, -1 when it is gone (so a revoke racing a use never leaves a key behind).
_MARK_USED = """
if redis.call('exists', KEYS[1]) == 0 then return -1 end
local first = redis.call('hsetnx', KEYS[1], 'f', ARGV[1])
redis.call('hset', KEYS[1], 'u', ARGV[1])
return first
"""


class RedisTokenStore(_RedisRecords):
    """A :class:`~pwless_gate.apptokens.TokenStore` in Redis (one server, Sentinel, Cluster)."""

    def __init__(
        self,
        redis: Any,
        *,
        namespace: str = "pwless_gate",
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(redis, namespace=namespace, clock=clock)
        self._mark: Any = None

    def _key(self, key: str) -> str:
        return f"{self._namespace}:apptoken:{key}"

    def _user_key(self, sub: str) -> str:
        return f"{self._namespace}:user-tokens:{_digest(sub)}"

    def add_token(self, token: AppToken) -> None:
        ttl = max(1, int(token.expires_at - self._clock()))
        record = json.dumps(token.to_record(), separators=(",", ":"))
        user_key = self._user_key(token.sub)
        name = self._key(token.key)
        try:
            if self._cluster:  # two slots: the list first, so no token is live and unlisted
                self._list(self._redis.pipeline(transaction=True), user_key, name, ttl)
                pipe = self._redis.pipeline(transaction=True)
                pipe.hset(name, "r", record)
                pipe.expire(name, ttl)
                pipe.execute()
                return
            pipe = self._redis.pipeline(transaction=True)
            pipe.hset(name, "r", record)
            pipe.expire(name, ttl)
            self._list(pipe, user_key, name, ttl)
        except Exception as exc:  # redis-py has many exception types; all mean "not now"
            raise self._fail(exc) from exc

    @staticmethod
    def _list(pipe: Any, user_key: str, name: str, ttl: int) -> None:
        """List the token under its user; the list lives as long as its longest token."""
        pipe.sadd(user_key, name)
        pipe.expire(user_key, ttl, gt=True)
        pipe.expire(user_key, ttl, nx=True)
        pipe.execute()

    def find_token(self, key: str) -> AppToken | None:
        try:
            record, used = self._redis.hmget(self._key(key), ["r", "u"])
        except Exception as exc:
            raise self._fail(exc) from exc
        token = _token(key, record, used)
        return token if token is not None and token.expires_at > self._clock() else None

    def mark_token_used(self, key: str, at: float) -> bool | None:
        try:
            if self._mark is None:
                self._mark = self._redis.register_script(_MARK_USED)
            result = int(self._mark(keys=[self._key(key)], args=[int(at)]))
        except Exception as exc:
            raise self._fail(exc) from exc
        return None if result < 0 else bool(result)

    def tokens_of(self, sub: str) -> list[AppToken]:
        return sorted((t for _, t in self._members(sub)), key=newest_first)

    def all_tokens(self) -> list[AppToken]:
        prefix = self._key("")
        found: list[AppToken] = []
        try:
            for name in self._redis.scan_iter(match=prefix + "*", count=_SCAN_COUNT):
                text = name.decode() if isinstance(name, bytes) else str(name)
                record, used = self._redis.hmget(name, ["r", "u"])
                token = _token(text[len(prefix) :], record, used)
                if token is not None:
                    found.append(token)
        except Exception as exc:
            raise self._fail(exc) from exc
        now = self._clock()
        return sorted((t for t in found if t.expires_at > now), key=newest_first)

    def revoke_tokens(self, sub: str, select: Callable[[AppToken], bool]) -> int:
        chosen = [name for name, token in self._members(sub) if select(token)]
        if not chosen:
            return 0
        try:
            pipe = self._redis.pipeline(transaction=not self._cluster)
            for name in chosen:
                pipe.delete(name)
            if self._cluster:  # the tokens first, then their list (another slot)
                deleted = pipe.execute()
                self._redis.srem(self._user_key(sub), *chosen)
            else:
                pipe.srem(self._user_key(sub), *chosen)
                deleted = pipe.execute()[:-1]
        except Exception as exc:
            raise self._fail(exc) from exc
        return int(sum(deleted))

    def _members(self, sub: str) -> list[tuple[Any, AppToken]]:
        """(key name, token) for each live token in the user's list; names whose token
        is gone are taken off it."""
        user_key = self._user_key(sub)
        prefix = self._key("")
        try:
            names = sorted(self._redis.smembers(user_key))
            pipe = self._redis.pipeline(transaction=False)
            for name in names:
                pipe.hmget(name, ["r", "u"])
            values = pipe.execute() if names else []
            gone = [name for name, (record, _) in zip(names, values, strict=True) if record is None]
            if gone:
                self._redis.srem(user_key, *gone)
        except Exception as exc:
            raise self._fail(exc) from exc
        now = self._clock()
        found = []
        for name, (record, used) in zip(names, values, strict=True):
            text = name.decode() if isinstance(name, bytes) else str(name)
            token = _token(text[len(prefix) :], record, used)
            if token is not None and token.expires_at > now:
                found.append((name, token))
        return found


def _token(key: str, record: Any, used: Any) -> AppToken | None:
    """The token in a stored hash, or None when it is gone or malformed."""
    if record is None:
        return None
    try:
        return AppToken.from_record(key, json.loads(record), float(used or 0))
    except (KeyError, TypeError, ValueError):
        return None


class RedisFormStore(_RedisRecords):
    """A :class:`~pwless_gate.savedforms.FormStore` in Redis (one server, Sentinel, Cluster)."""

    def _ms(self, expires_at: float) -> int:
        return max(1, int((expires_at - self._clock()) * 1000))

    def put_form(self, key: str, record: str, expires_at: float) -> None:
        try:
            self._redis.set(f"{self._namespace}:form:{key}", record, px=self._ms(expires_at))
        except Exception as exc:
            raise self._fail(exc) from exc

    def get_form(self, key: str) -> str | None:
        try:
            raw = self._redis.get(f"{self._namespace}:form:{key}")
        except Exception as exc:
            raise self._fail(exc) from exc
        return _text(raw)

    def take_form(self, key: str) -> str | None:
        """``GET`` and ``DEL`` of one key in one transaction: one caller gets the record."""
        name = f"{self._namespace}:form:{key}"
        try:
            with self._redis.pipeline(transaction=True) as pipe:
                pipe.get(name)
                pipe.delete(name)
                raw, _ = pipe.execute()
        except Exception as exc:
            raise self._fail(exc) from exc
        return _text(raw)

    def put_browser_user(self, key: str, user: str, expires_at: float) -> None:
        try:
            self._redis.set(f"{self._namespace}:browser-user:{key}", user, px=self._ms(expires_at))
        except Exception as exc:
            raise self._fail(exc) from exc

    def get_browser_user(self, key: str) -> str | None:
        try:
            raw = self._redis.get(f"{self._namespace}:browser-user:{key}")
        except Exception as exc:
            raise self._fail(exc) from exc
        return _text(raw)


def _text(raw: Any) -> str | None:
    if raw is None:
        return None
    return raw.decode() if isinstance(raw, bytes) else str(raw)
