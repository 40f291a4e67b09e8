"""The gate under gunicorn (three workers) on Redis Sentinel and on Redis Cluster, over
real HTTP: a session outlives the master being killed once the sentinels promote the
replica, the outage in between is answered 200 or 503 with Retry-After (never 500);
on a cluster, logout on one worker is seen by all and the throttle is shared."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
import requests

from ..helpers import CLIENT_ID, CLIENT_SECRET, browser_session, hidden, http_sign_in
from ..procs import Process, RedisClusterNodes, RedisSentinels, gunicorn, require_binary, until
from .test_sqlite_gate import spread

pytestmark = pytest.mark.slow

Serve = Callable[..., AbstractContextManager[tuple[str, Process]]]

#: How long the sentinels may take to promote the replica before the test fails.
FAILOVER_DEADLINE = 20.0


@pytest.fixture
def sentinels(tmp_path: Path) -> Iterator[RedisSentinels]:
    """A set of its own: the test kills its master."""
    binary = require_binary("redis-server", "the Redis Sentinel tests need it")
    workdir = tmp_path / "sentinel"
    workdir.mkdir()
    found = RedisSentinels(binary, workdir)
    try:
        found.start()
        yield found
    finally:
        found.stop()


@pytest.fixture
def serve(
    tenant: Any, tmp_path: Path
) -> Callable[..., AbstractContextManager[tuple[str, Process]]]:
    """gunicorn (3 sync workers, more ``args``) on the store ``url``, more settings in ``env``."""
    numbers = itertools.count()

    def serve(url: str, *args: str, **env: str) -> AbstractContextManager[tuple[str, Process]]:
        return gunicorn(
            *args,
            'pwless_gate:gate("tests.apps:whoami")',
            workers=3,
            env={
                "PWLESS_GATE_AUTH0_DOMAIN": tenant.url,
                "PWLESS_GATE_CLIENT_ID": CLIENT_ID,
                "PWLESS_GATE_CLIENT_SECRET": CLIENT_SECRET,
                "PWLESS_GATE_ALLOWED_DOMAINS": "*",  # anyone, on purpose
                "PWLESS_GATE_SECRET_KEY": "k" * 32,
                "PWLESS_GATE_STORE": url,
                # Workers ask the store again each second: the failover cannot hide in a cache.
                "PWLESS_GATE_SESSION_CACHE_TTL": "1",
                "PWLESS_GATE_REDIS_TIMEOUT": "0.5",
                **env,
            },
            log=tmp_path / f"gunicorn-{next(numbers)}.log",
        )

    return serve


def login(base: str, tenant: Any, email: str) -> requests.Session:
    browser, done = http_sign_in(base, tenant, email, next="/hello")
    assert done.status_code == 303, done.text
    return browser


def kill_master(sentinels: RedisSentinels) -> float:
    """Make sure the replica has every write, kill the master by its pid (SIGKILL, a crash);
    returns when (time.monotonic()) it died.

    Replication is asynchronous: without the WAIT, writes acknowledged just
    before a crash may be lost in a failover, which is Redis's guarantee, not
    what this test is about.
    """
    assert sentinels.master.client().wait(1, 5000) == 1
    sentinels.master.kill()
    return time.monotonic()


def promoted(sentinels: RedisSentinels) -> bool:
    try:
        return sentinels.master_port() == sentinels.replica.port
    except Exception:  # a sentinel busy electing may not answer; ask again
        return False


def test_a_session_survives_killing_the_master(
    serve: Serve, sentinels: RedisSentinels, tenant: Any, tmp_path: Path
) -> None:
    with serve(sentinels.url) as (base, process):
        browser = login(base, tenant, "ada@example.com")
        assert {a.status_code for a in spread(browser, base, 6)} == {200}

        died = kill_master(sentinels)
        assert until(lambda: promoted(sentinels), FAILOVER_DEADLINE), "no failover in time"
        failover = time.monotonic() - died

        def served() -> bool:
            answer = browser.get(f"{base}/hello", allow_redirects=False, timeout=10)
            assert answer.status_code in (200, 503), answer.text
            return answer.status_code == 200

        # The workers' connections to the dead master are replaced at the next command.
        assert until(served, 5), "the old session was not served after the failover"
        answers = spread(browser, base, 6)
        assert {a.status_code for a in answers} == {200}
        assert {a.json()["remote_user"] for a in answers} == {"ada@example.com"}

        started = time.monotonic()
        fresh = login(base, tenant, "bo@example.com")  # a write to the new master
        assert fresh.get(f"{base}/hello", timeout=10).json()["remote_user"] == "bo@example.com"
        print(f"failover {failover:.1f}s, new sign-in {time.monotonic() - started:.1f}s")
        assert sentinels.replica.client().dbsize() >= 2  # both sessions on the new master
        assert sentinels.password not in process.output()


def test_the_outage_is_answered_200_or_503_never_500(
    serve: Serve, sentinels: RedisSentinels, tenant: Any
) -> None:
    with serve(sentinels.url) as (base, _):
        browser = login(base, tenant, "cy@example.com")
        answers: list[requests.Response] = []
        stop = threading.Event()

        def traffic(n: int) -> None:
            """Requests with the session; thread 0 also starts a sign-in (which needs the
            throttle, so the store) every half second, at most 30 of them."""
            own = browser_session()
            own.cookies.update(browser.cookies)
            starts, last_start = 0, 0.0
            while not stop.is_set():
                if n == 0 and starts < 30 and time.monotonic() - last_start > 0.5:
                    starts, last_start = starts + 1, time.monotonic()
                    other = browser_session()
                    page = other.get(f"{base}/_gate/login", timeout=10)
                    assert page.status_code == 200, page.text
                    answer = other.post(
                        f"{base}/_gate/login",
                        data={
                            "email": f"t{starts}@example.com",
                            "csrf_token": hidden(page.text, "csrf_token"),
                        },
                        timeout=10,
                    )
                else:
                    answer = own.get(f"{base}/hello", allow_redirects=False, timeout=10)
                answers.append(answer)

        workers = [threading.Thread(target=traffic, args=(n,)) for n in range(3)]
        for worker in workers:
            worker.start()
        try:
            kill_master(sentinels)
            assert until(lambda: promoted(sentinels), FAILOVER_DEADLINE), "no failover in time"
            seen = len(answers)
            assert until(lambda: len(answers) > seen + 20, 20)  # traffic after the promotion
        finally:
            stop.set()
            for worker in workers:
                worker.join(30)
        statuses = {a.status_code for a in answers}
        assert statuses <= {200, 503}, statuses
        unavailable = [a for a in answers if a.status_code == 503]
        assert unavailable, "no request met the outage"
        assert all(a.headers.get("Retry-After", "").isdigit() for a in unavailable)
        assert answers[-1].status_code == 200


@pytest.fixture
def cluster_url(redis_cluster: RedisClusterNodes) -> str:
    redis_cluster.flush()
    return redis_cluster.url


def test_cluster_logout_on_one_worker_refuses_the_old_cookie_on_all(
    serve: Serve, cluster_url: str, tenant: Any, redis_cluster: RedisClusterNodes
) -> None:
    with serve(cluster_url) as (base, process):
        browser = login(base, tenant, "dee@example.com")
        value = browser.cookies.get("pwless_gate_session")
        assert value is not None
        copy = browser_session()
        copy.cookies.set("pwless_gate_session", value)
        answers = spread(copy, base)
        assert {a.status_code for a in answers} == {200}
        assert len({a.json()["pid"] for a in answers}) >= 2  # cached in several workers

        page = browser.get(f"{base}/_gate/logout", timeout=10)
        out = browser.post(
            f"{base}/_gate/logout", data={"csrf_token": hidden(page.text, "csrf_token")}, timeout=10
        )
        assert out.status_code == 200
        assert until(lambda: {a.status_code for a in spread(copy, base)} == {302}, 5)
        assert redis_cluster.password not in process.output()


def test_cluster_throttle_counters_are_shared_by_the_workers(
    serve: Serve, cluster_url: str
) -> None:
    # Each worker answers one request and is replaced: a count kept in a process is lost.
    with serve(
        cluster_url, "--max-requests", "1", PWLESS_GATE_THROTTLE_SEND_PER_IDENTIFIER="2/600"
    ) as (base, _):

        def send() -> int:
            browser = browser_session()
            page = browser.get(f"{base}/_gate/login", timeout=10)
            sent = browser.post(
                f"{base}/_gate/login",
                data={"csrf_token": hidden(page.text, "csrf_token"), "email": "same@example.com"},
                timeout=10,
            )
            return sent.status_code

        assert [send() for _ in range(4)] == [200, 200, 429, 429]
