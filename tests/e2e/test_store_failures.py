"""The SQLite file failing under gunicorn (3 workers): locked by another process,
corrupt, removed, or unable to grow (a full disk). Each time the gate fails closed and
says why: a request that needs the file gets the 503 page with Retry-After (never a
500, never a sign-in page for a signed-in person), and the log names the file and
SQLite's error.

Then a session due for renewal ("last seen", the idle timeout, a token refresh) while
the store fails, in process with a clock the tests move: the SQLite file locked by
another connection, and Redis stopped. Only "last seen" may be let go (the cached
session is forwarded); a session that should end, or a refresh that cannot be saved,
gets the 503.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from pwless_gate import PasswordlessGate
from pwless_gate.errors import StoreUnavailable
from pwless_gate.sessions import SEEN_EVERY, Session, SessionStore, idle_limit
from pwless_gate.stores import CookieStore
from pwless_gate.stores.redis import RedisStore, connect
from pwless_gate.stores.sqlite import SQLiteDatabase, SQLiteStore
from pwless_gate.throttle import MemoryThrottle

from ..helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    KEYS,
    FakeClock,
    Harness,
    RecordingApp,
    gate_config,
    hidden,
    http_sign_in,
    wrong_code,
)
from ..procs import BIN, Process, RedisServer, free_port, gunicorn, until, wait_for_port

pytestmark = pytest.mark.slow

TIMEOUT = 15
Serve = Callable[[], AbstractContextManager[tuple[str, Process]]]


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "gate.sqlite3"


@pytest.fixture
def serve(tenant: Any, tmp_path: Path, database: Path) -> Serve:
    def serve() -> AbstractContextManager[tuple[str, Process]]:
        return gunicorn(
            'pwless_gate:gate("tests.apps:whoami")',
            workers=3,
            env={
                "PWLESS_GATE_AUTH0_DOMAIN": tenant.url,
                "PWLESS_GATE_CLIENT_ID": CLIENT_ID,
                "PWLESS_GATE_CLIENT_SECRET": CLIENT_SECRET,
                "PWLESS_GATE_ALLOWED_DOMAINS": "*",  # anyone, on purpose
                "PWLESS_GATE_SECRET_KEY": "k" * 32,
                "PWLESS_GATE_STORE": f"sqlite://{database}",
                "PWLESS_GATE_SESSION_CACHE_TTL": "1",
            },
            log=tmp_path / "gunicorn.log",
        )

    return serve


def spread(browser: requests.Session, base: str, n: int = 9) -> list[requests.Response]:
    """``n`` concurrent requests for the app, each holding its worker a moment."""

    def fetch(_: int) -> requests.Response:
        return browser.get(f"{base}/hello?sleep=0.1", allow_redirects=False, timeout=TIMEOUT)

    with ThreadPoolExecutor(max_workers=3) as pool:
        return list(pool.map(fetch, range(n)))


def start(base: str, email: str) -> requests.Response:
    """Ask for a code: the throttle counts it in the file before anything is sent."""
    browser = requests.Session()
    page = browser.get(f"{base}/_gate/login", timeout=TIMEOUT)
    return browser.post(
        f"{base}/_gate/login",
        data={"csrf_token": hidden(page.text, "csrf_token"), "email": email},
        timeout=TIMEOUT,
    )


def assert_closed(answer: requests.Response) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.headers["Retry-After"].isdigit()
    assert "text/html" in answer.headers["Content-Type"]


def corrupt(database: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        part = Path(f"{database}{suffix}")
        size = part.stat().st_size
        with part.open("r+b") as f:
            f.write(os.urandom(max(size, 4096)))


def remove(database: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (corrupt, "DatabaseError (file is not a database)"),
        (remove, "FileGone (the file is gone; restart to start a new one)"),
    ],
    ids=["corrupt", "removed"],
)
def test_a_broken_file_fails_closed_on_every_worker(
    serve: Serve, tenant: Any, database: Path, damage: Callable[[Path], None], said: str
) -> None:
    with serve() as (base, process):
        browser, done = http_sign_in(base, tenant, "ada@example.com", next="/hello")
        assert done.status_code == 303, done.text
        assert {a.status_code for a in spread(browser, base)} == {200}

        damage(database)

        def refused_everywhere() -> bool:
            return {a.status_code for a in spread(browser, base)} == {503}

        # Each worker's cached entry lasts session_cache_ttl (1 s); then the file is asked.
        assert until(refused_everywhere, 10)
        for answer in spread(browser, base):
            assert_closed(answer)
        assert_closed(start(base, "bo@example.com"))
    assert f"SQLite at {database}: {said}" in process.output()


def test_a_locked_file_refuses_writes_and_recovers(
    serve: Serve, tenant: Any, database: Path
) -> None:
    with serve() as (base, process):
        browser, done = http_sign_in(base, tenant, "cy@example.com", next="/hello")
        assert done.status_code == 303, done.text
        holder = sqlite3.connect(database, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        try:
            # Reading needs no lock in WAL mode: the signed-in person goes on.
            assert {a.status_code for a in spread(browser, base)} == {200}
            # A sign-in must count its attempt: it waits the busy timeout, then 503.
            assert_closed(start(base, "dee@example.com"))
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert start(base, "dee@example.com").status_code == 200
    assert f"SQLite at {database}: OperationalError (database is locked)" in process.output()


#: The largest file the gate's processes may write in the "full" test: room for the
#: schema and a few sign-ins, then every write that grows a file fails. A file-size
#: limit (EFBIG, "disk I/O error") stands in for a full disk (ENOSPC, "database or disk
#: is full"): both are a write SQLite cannot make, and neither needs a filesystem of
#: the test's own.
FULL_AT_BYTES = 128 * 1024
LIMIT_FILE_SIZE = (
    "import os, resource, sys; "
    "resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]),) * 2); "
    "os.execv(sys.argv[2], sys.argv[2:])"
)


def test_a_file_that_cannot_grow_fails_closed(tenant: Any, tmp_path: Path, database: Path) -> None:
    port = free_port()
    process = Process(
        [
            sys.executable,
            "-c",
            LIMIT_FILE_SIZE,
            str(FULL_AT_BYTES),
            str(BIN / "gunicorn"),
            "--workers",
            "3",
            "--bind",
            f"127.0.0.1:{port}",
            'pwless_gate:gate("tests.apps:whoami")',
        ],
        env={
            "PWLESS_GATE_AUTH0_DOMAIN": tenant.url,
            "PWLESS_GATE_CLIENT_ID": CLIENT_ID,
            "PWLESS_GATE_CLIENT_SECRET": CLIENT_SECRET,
            "PWLESS_GATE_ALLOWED_DOMAINS": "*",  # anyone, on purpose
            "PWLESS_GATE_SECRET_KEY": "k" * 32,
            "PWLESS_GATE_STORE": f"sqlite://{database}",
            "PWLESS_GATE_SESSION_CACHE_TTL": "1",
            # All starts come from one IP: its own limit must not answer before the file.
            "PWLESS_GATE_THROTTLE_SEND_PER_IP": "1000/3600",
        },
        log=tmp_path / "gunicorn.log",
    )
    try:
        wait_for_port(port, process.proc)
        base = f"http://127.0.0.1:{port}"
        browser, done = http_sign_in(base, tenant, "ada@example.com", next="/hello")
        assert done.status_code == 303, done.text
        # Fewer than the tenant's 50 starts an hour from one IP (all come from the gate's).
        answers = [start(base, f"filler{i}@example.com") for i in range(45)]
        statuses = [a.status_code for a in answers]
        assert set(statuses) <= {200, 503}, statuses
        assert 503 in statuses, "the file never filled up"
        for i, answer in enumerate(answers):
            if answer.status_code == 503:
                assert_closed(answer)
                with pytest.raises(LookupError):  # counted nowhere, so nothing was sent
                    tenant.last_message(to=f"filler{i}@example.com")
            else:
                # A worker that opened a new connection after the error found room again
                # (the write-ahead log starts over once checkpointed): whole writes only.
                assert "Enter your code" in answer.text
                assert tenant.last_message(to=f"filler{i}@example.com").code
        # Reading needs no room: the signed-in person goes on.
        assert {a.status_code for a in spread(browser, base)} == {200}
    finally:
        process.stop()
    assert f"SQLite at {database}: OperationalError (disk I/O error)" in process.output()


AUDIENCE = "https://api.test"  # the tenant fixture's API with offline access


def gate_on_file(tenant: Any, clock: FakeClock, database: Path, **settings: Any) -> Harness:
    """An in-process gate whose sessions are in ``database``; a write waits 0.2 s for
    the lock (5 s by default), so a locked file fails quickly."""
    store = SQLiteStore(
        SQLiteDatabase(str(database), busy_timeout=0.2, clock=clock), keys=KEYS, clock=clock
    )
    app = RecordingApp()
    gate = PasswordlessGate(app, gate_config(tenant.url, **settings), clock=clock, store=store)
    return Harness(gate=gate, app=app, tenant=tenant)


@contextmanager
def write_locked(database: Path) -> Iterator[None]:
    """Another connection holds the file's write lock (reads still work: WAL)."""
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def assert_closed_here(answer: Any) -> None:
    assert answer.status_code == 503, answer.get_data(as_text=True)
    assert answer.headers["Retry-After"].isdigit()


def test_last_seen_due_while_the_file_is_locked_forwards_the_session(
    tenant: Any, clock: FakeClock, database: Path
) -> None:
    harness = gate_on_file(tenant, clock, database)
    assert harness.login("ada@example.com").status_code == 303
    value = harness.client.get_cookie("pwless_gate_session").value
    with write_locked(database):
        clock.advance(SEEN_EVERY + 1)  # "last seen" is due: the write cannot be made
        assert harness.client.get("/hello").status_code == 200
        assert harness.client.get("/hello").status_code == 200  # tried again, forwarded
    assert harness.client.get("/hello").status_code == 200
    stored = harness.gate.sessions.store.load(value)
    assert stored is not None
    assert stored.seen_at == int(clock())  # written once the file was free


def test_an_idle_session_the_locked_file_cannot_end_gets_503(
    tenant: Any, clock: FakeClock, database: Path
) -> None:
    harness = gate_on_file(tenant, clock, database, session_idle_timeout=600)
    assert harness.login("bo@example.com").status_code == 303
    assert harness.client.get("/hello").status_code == 200
    calls = len(harness.app.calls)
    clock.advance(idle_limit(600) + 1)
    with write_locked(database):
        assert_closed_here(harness.client.get("/hello"))
    assert len(harness.app.calls) == calls  # never forwarded
    assert harness.client.get("/hello").status_code == 302  # ended once it could be


class UnsavableStore(CookieStore):
    """Signed cookies, but no record can be replaced (a store that stopped answering
    between reading the session and saving its refresh)."""

    def update(self, cookie_value: str, session: Session) -> str | None:
        raise StoreUnavailable("the store went away")


class RedisGoneAfterTheLock(RedisStore):
    """Redis that goes away once the refresh lock is taken: neither the refreshed
    record nor the lock's release reaches it."""

    def update(self, cookie_value: str, session: Session) -> str | None:
        raise StoreUnavailable("Redis went away")

    def release_refresh_lock(self, cookie_value: str, token: str) -> None:
        raise StoreUnavailable("Redis went away")


@pytest.mark.parametrize("kind", ["cookie", "redis"])
def test_a_refresh_that_cannot_be_saved_gets_503(
    tenant: Any, clock: FakeClock, request: pytest.FixtureRequest, kind: str
) -> None:
    config = gate_config(
        tenant.url,
        audience=AUDIENCE,
        scope="openid profile email offline_access",
        session_lifetime=3 * 86400,
    )
    if kind == "cookie":
        store: SessionStore = UnsavableStore(config.signing_keys)
    else:
        redis_url = request.getfixturevalue("redis_url")
        store = RedisGoneAfterTheLock(connect(redis_url), keys=KEYS, clock=clock)
    app = RecordingApp()
    gate = PasswordlessGate(app, config, clock=clock, store=store)
    harness = Harness(gate=gate, app=app, tenant=tenant)
    assert harness.login("cy@example.com").status_code == 303
    assert harness.client.get("/hello").status_code == 200
    calls = len(app.calls)
    clock.advance(86400 - 30)  # the access token is due (still valid for 30 s)
    assert_closed_here(harness.client.get("/hello"))
    assert tenant.app.refresh_exchanges == 1  # refreshed at Auth0, not saved here
    assert len(app.calls) == calls


@pytest.fixture
def redis_down(redis_server: RedisServer, redis_url: str) -> Iterator[Callable[[], None]]:
    """Stops the test's redis-server when called; it is started again afterwards."""
    try:
        yield redis_server.stop
    finally:
        redis_server.start()


def test_redis_down_while_a_cached_session_is_due(
    make_harness: Callable[..., Harness],
    clock: FakeClock,
    redis_url: str,
    redis_down: Callable[[], None],
) -> None:
    harness = make_harness(redis_url=redis_url, session_idle_timeout=600, session_cache_ttl=3600)
    assert harness.login("dee@example.com").status_code == 303
    assert harness.client.get("/").status_code == 200  # cached in this process
    clock.advance(100)  # "last seen" is due (every 60 s with this timeout)
    redis_down()
    assert harness.client.get("/").status_code == 200  # the cached session goes on
    calls = len(harness.app.calls)
    clock.advance(idle_limit(600))  # idle for longer than allowed since "last seen"
    assert_closed_here(harness.client.get("/"))
    assert len(harness.app.calls) == calls


class ForgetfulThrottle(MemoryThrottle):
    """A throttle whose store fails to keep an identifier's latest start (a full disk
    after the send): everything else works."""

    def remember(self, name: str, key: str, value: str, period: int) -> None:
        raise StoreUnavailable("the store is full")


def test_a_code_sent_is_said_sent_when_its_start_cannot_be_kept(
    tenant: Any, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """The latest start is kept after Auth0 sent the code: a store failing then must not
    turn a code on its way into a 503. Wrong codes count against this sign-in alone."""
    app = RecordingApp()
    gate = PasswordlessGate(
        app, gate_config(tenant.url), clock=clock, throttle=ForgetfulThrottle(clock=clock)
    )
    harness = Harness(gate=gate, app=app, tenant=tenant)
    started = harness.start("ada@example.com")
    assert started.status_code == 200
    assert "Enter your code" in started.get_data(as_text=True)
    code = tenant.last_message(to="ada@example.com").code
    assert "latest start not kept" in caplog.text
    answers = [harness.submit_code(started, wrong_code(code)) for _ in range(3)]
    assert [a.status_code for a in answers] == [400, 400, 400]
    assert "too many times" in answers[2].get_data(as_text=True)
