"""The Redis session store against a real redis-server, and (where the test is about
behaviour, not one server) against Redis Sentinel and Redis Cluster too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pwless_gate.config import Limit
from pwless_gate.errors import StoreUnavailable
from pwless_gate.sessions import SessionCache
from pwless_gate.stores.redis import RedisStore, connect
from pwless_gate.throttle import RedisThrottle

from .helpers import KEYS, FakeClock, make_session, session_key, unknown_value
from .procs import RedisServer, free_port, require_binary

pytestmark = pytest.mark.slow


def test_cookie_holds_only_a_random_id_and_ttl_is_remaining_life(
    any_redis_url: str, clock: FakeClock
) -> None:
    redis = connect(any_redis_url)
    store = RedisStore(redis, keys=KEYS, clock=clock)
    session = make_session(clock(), lifetime=600)
    value = store.save(session)
    assert len(value) == 87  # a 256-bit id, ".", its HMAC-SHA256: URL-safe base64
    assert "ada" not in value
    key = f"pwless_gate:session:{session_key(value)}"
    assert redis.exists(key)
    assert 590 <= redis.ttl(key) <= 600
    assert redis.get(f"pwless_gate:session:{value}") is None  # the id itself is not a key
    loaded = store.load(value)
    assert loaded is not None
    assert loaded.claims["email"] == "ada@example.com"


@pytest.mark.parametrize("value", ["", "x", "a" * 42, "a" * 44, "../../etc", "a" * 42 + "!"])
def test_malformed_ids_never_reach_redis(redis_url: str, value: str) -> None:
    assert RedisStore(connect(redis_url), keys=KEYS).load(value) is None


def test_unknown_id(any_redis_url: str) -> None:
    assert RedisStore(connect(any_redis_url), keys=KEYS).load(unknown_value()) is None


def test_revoke_and_update(any_redis_url: str, clock: FakeClock) -> None:
    store = RedisStore(connect(any_redis_url), keys=KEYS, clock=clock)
    value = store.save(make_session(clock()))
    assert store.update(value, make_session(clock())) == value
    store.revoke(value)
    assert store.load(value) is None


def test_sign_out_everywhere(any_redis_url: str, clock: FakeClock) -> None:
    store = RedisStore(connect(any_redis_url), keys=KEYS, clock=clock)
    cache = SessionCache(store, ttl=60, clock=clock)
    mine = [cache.save(make_session(clock(), sub="email|me")) for _ in range(3)]
    other = cache.save(make_session(clock(), sub="email|other"))
    assert cache.revoke_user("email|me") == 3
    assert all(cache.lookup(v) is None for v in mine)
    assert cache.lookup(other) is not None


class SignInDuringRead:
    """A Redis client on which another sign-in of the same person lands just after the
    user's list is read: the race a sign-out everywhere must not lose."""

    def __init__(self, redis: Any, clock: FakeClock) -> None:
        self._redis = redis
        self._other_host = RedisStore(redis, keys=KEYS, clock=clock)
        self._clock = clock
        self.saved: list[str] = []

    def smembers(self, key: str) -> Any:
        members = self._redis.smembers(key)
        if not self.saved:
            self.saved.append(self._other_host.save(make_session(self._clock(), sub="email|me")))
        return members

    def __getattr__(self, name: str) -> Any:
        return getattr(self._redis, name)


def test_a_sign_in_during_sign_out_everywhere_stays_listed(
    any_redis_url: str, clock: FakeClock
) -> None:
    redis = connect(any_redis_url)
    racing = SignInDuringRead(redis, clock)
    store = RedisStore(
        redis, keys=KEYS, clock=clock
    )  # knows the kind of Redis from the real client
    store._redis = racing  # then reads through the racing one
    before = [store.save(make_session(clock(), sub="email|me")) for _ in range(2)]
    assert store.revoke_user("email|me") == 2
    assert [store.load(v) for v in before] == [None, None]
    (during,) = racing.saved
    assert store.load(during) is not None  # it began after the sign-out was asked for
    assert store.revoke_user("email|me") == 1  # and is still listed: the next one ends it
    assert store.load(during) is None


def test_namespaces_keep_gates_apart(any_redis_url: str, clock: FakeClock) -> None:
    redis = connect(any_redis_url)
    value = RedisStore(redis, keys=KEYS, namespace="one", clock=clock).save(make_session(clock()))
    assert RedisStore(redis, keys=KEYS, namespace="two", clock=clock).load(value) is None


def test_unavailable_then_recovers(tmp_path: Path, clock: FakeClock) -> None:
    server = RedisServer(require_binary("redis-server", "Redis tests"), tmp_path)
    server.start()
    store = RedisStore(connect(server.url, timeout=0.5), keys=KEYS, clock=clock)
    value = store.save(make_session(clock()))
    server.stop()
    with pytest.raises(StoreUnavailable):
        store.load(value)
    with pytest.raises(StoreUnavailable):
        store.save(make_session(clock()))
    server.start()  # an empty Redis on the same port: the client reconnects by itself
    assert store.load(value) is None
    fresh = store.save(make_session(clock()))
    assert store.load(fresh) is not None
    server.stop()


def test_connection_refused_is_unavailable() -> None:
    store = RedisStore(connect(f"redis://127.0.0.1:{free_port()}/0", timeout=0.5), keys=KEYS)
    with pytest.raises(StoreUnavailable):
        store.load(unknown_value())


def test_redis_throttle_is_shared(any_redis_url: str, clock: FakeClock) -> None:
    limit = Limit.parse("3/60")
    one = RedisThrottle(connect(any_redis_url), clock=clock)
    two = RedisThrottle(connect(any_redis_url), clock=clock)
    assert [one.hit("send-id", "a", limit), two.hit("send-id", "a", limit)] == [0, 0]
    assert one.hit("send-id", "a", limit) == 0
    wait = two.hit("send-id", "a", limit)
    assert 1 <= wait <= 120  # a sliding window: at most two periods
    assert two.hit("send-id", "a", limit) > 0  # refused hits are not counted, still refused
    clock.advance(wait)
    assert one.hit("send-id", "a", limit) == 0
    assert two.hit("send-id", "b", limit) == 0
