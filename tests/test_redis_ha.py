"""Redis Sentinel and Redis Cluster specifics, against real processes: what a store and
a throttle say about where they are (never a password), the key layout in a cluster
(the slots a multi-key command needs), and failing closed when nothing answers."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from pwless_gate.config import Limit
from pwless_gate.errors import StoreUnavailable
from pwless_gate.stores.redis import LazyCluster, RedisStore, connect, current_master, location
from pwless_gate.throttle import Hit, RedisThrottle

from .helpers import KEYS, FakeClock, make_session, session_key, unknown_value
from .procs import RedisClusterNodes, RedisSentinels, free_port

pytestmark = pytest.mark.slow


def test_sentinel_location_names_the_service_and_sentinels_never_the_password(
    redis_sentinels: RedisSentinels,
) -> None:
    redis = connect(redis_sentinels.url)
    hosts = ",".join(f"127.0.0.1:{port}" for port in redis_sentinels.sentinel_ports)
    assert location(redis) == f"Redis Sentinel {redis_sentinels.service} at {hosts}"
    assert current_master(redis) == f"127.0.0.1:{redis_sentinels.master.port}"
    assert RedisStore(redis, keys=KEYS).load(unknown_value()) is None  # the password was right


def test_cluster_location_names_the_nodes_given(redis_cluster: RedisClusterNodes) -> None:
    redis = connect(redis_cluster.url)
    assert isinstance(redis, LazyCluster)
    hosts = ",".join(f"127.0.0.1:{node.port}" for node in redis_cluster.nodes)
    assert location(redis) == f"Redis Cluster at {hosts}"
    assert location(redis.client()) == location(redis)  # a RedisCluster made by hand, too
    assert current_master(redis) is None


def test_a_wrong_password_is_unavailable_naming_no_password(
    redis_sentinels: RedisSentinels, redis_cluster: RedisClusterNodes
) -> None:
    for url, good in [
        (redis_sentinels.url, redis_sentinels.password),
        (redis_cluster.url, redis_cluster.password),
    ]:
        wrong = url.replace(
            good.replace("/", "%2F").replace("@", "%40").replace(" ", "%20"), "nope"
        )
        assert wrong != url
        with pytest.raises(StoreUnavailable) as caught:
            RedisStore(connect(wrong), keys=KEYS).load(unknown_value())
        assert "nope" not in str(caught.value)
        assert str(caught.value).startswith(("Redis Sentinel ", "Redis Cluster "))


@pytest.mark.parametrize(
    ("url", "where"),
    [
        ("redis+sentinel://:pw@127.0.0.1:{port}/gate-master", "Redis Sentinel gate-master at "),
        ("redis+cluster://:pw@127.0.0.1:{port}", "Redis Cluster at "),
    ],
    ids=["sentinel", "cluster"],
)
def test_nothing_answering_is_unavailable_naming_the_location_and_error(
    url: str, where: str, clock: FakeClock
) -> None:
    port = free_port()
    redis = connect(url.format(port=port), timeout=0.5)  # connects on first use only
    store = RedisStore(redis, keys=KEYS, clock=clock)
    throttle = RedisThrottle(redis, clock=clock)
    failures = []
    for attempt in (
        lambda: store.load(unknown_value()),
        lambda: store.save(make_session(clock())),
        lambda: store.revoke_user("email|me"),
        lambda: throttle.hit("send-id", "a", Limit.parse("3/60")),
    ):
        with pytest.raises(StoreUnavailable) as caught:
            attempt()
        failures.append(str(caught.value))
    for failure in failures:
        place, _, error = failure.partition(": ")
        assert place == f"{where}127.0.0.1:{port}"
        assert error.isidentifier()  # an error class name, nothing more
        assert "pw" not in failure


def test_a_gate_starts_while_the_cluster_is_away_and_fails_closed(make_harness: Any) -> None:
    harness = make_harness(store=f"redis+cluster://127.0.0.1:{free_port()}", redis_timeout=0.5)
    assert harness.client.get("/").status_code == 302  # no session: the sign-in page
    answer = harness.start("gus@example.com")  # the throttle needs the store
    assert answer.status_code == 503
    assert "Retry-After" in answer.headers
    assert harness.app.calls == []


def test_cluster_sessions_keep_their_names_and_are_revoked_across_nodes(
    redis_cluster: RedisClusterNodes, clock: FakeClock
) -> None:
    redis_cluster.flush()
    redis = connect(redis_cluster.url).client()
    store = RedisStore(redis, keys=KEYS, clock=clock)
    values = [store.save(make_session(clock(), sub="email|many")) for _ in range(12)]
    keys = [f"pwless_gate:session:{session_key(v)}" for v in values]
    user_key = f"pwless_gate:user:{hashlib.sha256(b'email|many').hexdigest()}"
    assert all(redis.exists(key) for key in keys)  # the plain names: no hash tag
    assert {k.encode() for k in keys} == redis.smembers(user_key)
    nodes = {redis.get_node_from_key(key).name for key in keys}
    assert len(nodes) >= 2  # twelve random ids land on more than one master
    assert store.update(values[0], make_session(clock(), sub="email|many")) == values[0]
    assert store.revoke_user("email|many") == 12
    assert not any(redis.exists(key) for key in keys)
    assert not redis.exists(user_key)
    assert store.update(values[0], make_session(clock(), sub="email|many")) is None


def test_cluster_throttle_counters_share_one_slot(
    redis_cluster: RedisClusterNodes, clock: FakeClock
) -> None:
    redis_cluster.flush()
    redis = connect(redis_cluster.url)
    throttle = RedisThrottle(redis, namespace="gate", clock=clock)
    step = [
        Hit("send-ip", "10.0.0.1", Limit.parse("30/3600")),
        Hit("send-id", "10.0.0.1|ada@example.com", Limit.parse("5/900")),
        Hit("send-id-total", "ada@example.com", Limit.parse("50/3600")),
    ]
    assert throttle.hit_all(step) == 0
    keys = [k.decode() for k in redis.scan_iter("*gate*")]
    assert len(keys) == 3
    assert all(key.startswith("{gate:throttle}:") for key in keys)
    assert len({redis.keyslot(key) for key in keys}) == 1
    # Without the tag the same three names would be spread over slots, refused together.
    assert len({redis.keyslot(key.replace("{gate:throttle}", "gate:throttle")) for key in keys}) > 1


@pytest.mark.parametrize("kind", ["sentinel", "cluster"])
def test_one_refresh_lock_at_a_time(
    kind: str, redis_sentinels: RedisSentinels, redis_cluster: RedisClusterNodes
) -> None:
    url = redis_sentinels.url if kind == "sentinel" else redis_cluster.url
    first, second = RedisStore(connect(url), keys=KEYS), RedisStore(connect(url), keys=KEYS)
    value = unknown_value()
    token = first.acquire_refresh_lock(value, 5)
    assert token is not None
    assert second.acquire_refresh_lock(value, 5) is None
    second.release_refresh_lock(value, "not-the-token")
    assert second.acquire_refresh_lock(value, 5) is None
    first.release_refresh_lock(value, token)
    again = second.acquire_refresh_lock(value, 5)
    assert again is not None
    second.release_refresh_lock(value, again)
