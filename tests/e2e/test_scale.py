"""Many workers and many hosts: gunicorn sync and gthread workers, with and without Redis,
and two gunicorn instances (two "hosts") sharing one Redis."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import requests

from ..helpers import CLIENT_ID, CLIENT_SECRET, browser_session, hidden, http_sign_in
from ..procs import gunicorn

pytestmark = pytest.mark.slow

Start = Callable[..., str]


@pytest.fixture
def start_gate(tenant: Any, tmp_path: Path) -> Iterator[Start]:
    """Start gunicorn serving the gated whoami app; returns its base URL."""
    numbers = itertools.count()
    with ExitStack() as servers:

        def start(*, worker_class: str = "sync", redis_url: str | None = None, **env: str) -> str:
            environment = {
                "PWLESS_GATE_AUTH0_DOMAIN": tenant.url,
                "PWLESS_GATE_CLIENT_ID": CLIENT_ID,
                "PWLESS_GATE_CLIENT_SECRET": CLIENT_SECRET,
                "PWLESS_GATE_ALLOWED_DOMAINS": "*",  # anyone, on purpose
                **env,
            }
            if redis_url:
                environment["PWLESS_GATE_REDIS_URL"] = redis_url
            args = ["--worker-class", worker_class]
            if worker_class == "gthread":
                # Threads take every concurrent request into one process; recycling
                # workers after a few requests makes several processes serve them.
                args += ["--threads", "4", "--max-requests", "4"]
            base, _ = servers.enter_context(
                gunicorn(
                    *args,
                    'pwless_gate:gate("tests.apps:whoami")',
                    workers=3,
                    env=environment,
                    log=tmp_path / f"gunicorn-{next(numbers)}.log",
                )
            )
            return str(base)

        yield start


def login(base: str, tenant: Any, email: str) -> requests.Session:
    browser, done = http_sign_in(base, tenant, email, next="/hello")
    assert done.status_code == 303, done.text
    return browser


@pytest.mark.parametrize("worker_class", ["sync", "gthread"])
@pytest.mark.parametrize("store", ["cookie", "redis"])
def test_workers(
    start_gate: Start, tenant: Any, worker_class: str, store: str, request: pytest.FixtureRequest
) -> None:
    redis_url = request.getfixturevalue("redis_url") if store == "redis" else None
    base = start_gate(worker_class=worker_class, redis_url=redis_url)
    browsers = [login(base, tenant, f"w{i}-{store}@example.com") for i in range(3)]

    def fetch(i: int) -> int:
        answer = browsers[i % 3].get(f"{base}/hello?sleep=0.2", timeout=10)
        assert answer.status_code == 200
        assert answer.json()["remote_user"] == f"w{i % 3}-{store}@example.com"
        return int(answer.json()["pid"])

    with ThreadPoolExecutor(max_workers=6) as pool:
        pids = set(pool.map(fetch, range(12)))
    assert len(pids) >= 2


def until(predicate: Callable[[], bool], seconds: float) -> bool:
    """Poll ``predicate`` for at most ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def test_two_hosts_share_one_redis(start_gate: Start, tenant: Any, redis_url: str) -> None:
    settings = {"PWLESS_GATE_SESSION_CACHE_TTL": "1", "PWLESS_GATE_SECRET_KEY": "k" * 32}
    host_a = start_gate(redis_url=redis_url, **settings)
    host_b = start_gate(redis_url=redis_url, **settings)
    browser = login(host_a, tenant, "roam@example.com")
    cookie = browser.cookies.get("pwless_gate_session")
    other = browser_session()
    other.cookies.set("pwless_gate_session", cookie)
    answer = other.get(f"{host_b}/hello", allow_redirects=False, timeout=10)
    assert answer.status_code == 200
    assert answer.json()["remote_user"] == "roam@example.com"

    page = browser.get(f"{host_a}/_gate/logout", timeout=10)
    out = browser.post(
        f"{host_a}/_gate/logout", data={"csrf_token": hidden(page.text, "csrf_token")}, timeout=10
    )
    assert out.status_code == 200

    def refused_on_b() -> bool:
        return bool(
            other.get(f"{host_b}/hello", allow_redirects=False, timeout=10).status_code == 302
        )

    assert until(refused_on_b, 5)


def test_throttle_counters_are_shared_between_hosts(
    start_gate: Start, tenant: Any, redis_url: str
) -> None:
    settings = {"PWLESS_GATE_THROTTLE_SEND_PER_IDENTIFIER": "2/600"}
    hosts = [start_gate(redis_url=redis_url, **settings) for _ in range(2)]
    statuses = []
    for host in [hosts[0], hosts[1], hosts[0], hosts[1]]:
        browser = browser_session()
        page = browser.get(f"{host}/_gate/login", timeout=10)
        sent = browser.post(
            f"{host}/_gate/login",
            data={"csrf_token": hidden(page.text, "csrf_token"), "email": "same@example.com"},
            timeout=10,
        )
        statuses.append(sent.status_code)
    assert statuses == [200, 200, 429, 429]
