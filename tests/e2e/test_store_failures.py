"""The SQLite file failing under gunicorn (3 workers): locked by another process,
corrupt, removed, or unable to grow (a full disk). Each time the gate fails closed and
says why: a request that needs the file gets the 503 page with Retry-After (never a
500, never a sign-in page for a signed-in person), and the log names the file and
SQLite's error."""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
import requests

from ..helpers import CLIENT_ID, CLIENT_SECRET, hidden, http_sign_in
from ..procs import BIN, Process, free_port, gunicorn, until, wait_for_port

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
FULL_AT_BYTES = 96 * 1024
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
