"""Fixtures shared by the whole suite: a controllable clock and a local tenant."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pwless_gate import PasswordlessGate
from pwless_gate.config import DEFAULT_SQLITE_FILE
from pwless_gate.devtenant import DevTenant, RunningTenant, serve_in_thread

from . import helpers
from .helpers import CLIENT_ID, CLIENT_SECRET, FakeClock, Harness, RecordingApp, gate_config
from .procs import (
    REDIS_KINDS,
    ROOT,
    RedisClusterNodes,
    RedisSentinels,
    RedisServer,
    redis_url_for,
    require_binary,
)

#: Where a gate started without a store would keep its state: no test may leave it there.
STRAY_STATE = ROOT / DEFAULT_SQLITE_FILE


@pytest.fixture(scope="session", autouse=True)
def gate_state(tmp_path_factory: pytest.TempPathFactory) -> bool:
    """Each gate of the tests keeps its default SQLite file in a directory of its own;
    whether ROOT already had a default file (from a demo) before the tests."""
    helpers.STATE_ROOT = str(tmp_path_factory.mktemp("state"))
    return STRAY_STATE.exists()


@pytest.fixture(autouse=True)
def no_stray_state(gate_state: bool) -> Iterator[None]:
    """Fails the test that leaves a default store in ROOT (a gate without a state_dir)."""
    yield
    if not gate_state and STRAY_STATE.exists():
        for suffix in ("", "-wal", "-shm"):
            STRAY_STATE.with_name(STRAY_STATE.name + suffix).unlink(missing_ok=True)
        pytest.fail(f"this test left the default store at {STRAY_STATE}: give its gate a state_dir")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def tenant_options() -> dict[str, Any]:
    """More ``DevTenant`` settings for ``tenant``; a module overrides it to vary them."""
    return {}


@pytest.fixture
def tenant(clock: FakeClock, tenant_options: dict[str, Any]) -> Iterator[RunningTenant]:
    """A local Auth0-compatible tenant on a free loopback port, sharing ``clock``.

    Set up as the README asks of a real one: magic links started by a server
    work, and the application trusts ``auth0-forwarded-for``.
    """
    settings: dict[str, Any] = {
        "allow_magiclink_verify_without_session": True,
        "trust_forwarded_for": True,
        **tenant_options,
    }
    app = DevTenant(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        clock=clock,
        allowed_callbacks=["http://localhost/_gate/callback"],
        allowed_logout_urls=["http://localhost/", "http://localhost/_gate/logout"],
        apis=["https://api.test", "https://api.internal.example/"],
        offline_access_apis=["https://api.test", "https://api.internal.example/"],
        **settings,
    )
    with serve_in_thread(app) as running:
        yield running


@pytest.fixture
def make_harness(tenant: Any, clock: FakeClock) -> Callable[..., Harness]:
    def make(**overrides: Any) -> Harness:
        app = RecordingApp()
        gate = PasswordlessGate(app, gate_config(tenant.url, **overrides), clock=clock)
        return Harness(gate=gate, app=app, tenant=tenant)

    return make


@pytest.fixture
def harness(make_harness: Callable[..., Harness]) -> Harness:
    return make_harness()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server on a free loopback port, for the whole session."""
    binary = require_binary("redis-server", "the Redis session store tests need it")
    server = RedisServer(binary, tmp_path_factory.mktemp("redis"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The server's URL, with an empty database for each test."""
    redis_server.start()
    redis_server.client().flushall()
    return redis_server.url


@pytest.fixture(scope="session")
def redis_sentinels(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisSentinels]:
    """A master, a replica and three sentinels, for the whole session (tests that kill
    the master make a set of their own)."""
    binary = require_binary("redis-server", "the Redis Sentinel tests need it")
    sentinels = RedisSentinels(binary, tmp_path_factory.mktemp("sentinel"))
    try:
        sentinels.start()
        yield sentinels
    finally:
        sentinels.stop()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterNodes]:
    """Three masters in a Redis Cluster, for the whole session."""
    binary = require_binary("redis-server", "the Redis Cluster tests need it")
    cli = require_binary("redis-cli", "the Redis Cluster tests create the cluster with it")
    cluster = RedisClusterNodes(binary, cli, tmp_path_factory.mktemp("cluster"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(params=REDIS_KINDS)
def any_redis_url(request: pytest.FixtureRequest) -> str:
    """A Redis URL of each kind (one server, Sentinel, Cluster), with empty databases."""
    return redis_url_for(request, request.param)
