"""The gate with the SQLite store under gunicorn with three workers: logout seen by every
worker, throttles shared by them, sessions kept across a restart; and in process, a
failing file failing closed."""

from __future__ import annotations

import itertools
import json
import sqlite3
import stat
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path
from typing import Any

import pytest
import requests

from ..helpers import CLIENT_ID, CLIENT_SECRET, FakeClock, browser_session, hidden, http_sign_in
from ..procs import BIN, Process, free_port, gunicorn
from .test_scale import until

pytestmark = pytest.mark.slow

LOG_CONFIG = {
    "version": 1,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "root": {"level": "WARNING", "handlers": ["stderr"]},
    "loggers": {"pwless_gate": {"level": "INFO"}},
}

Serve = Callable[..., AbstractContextManager[tuple[str, Process]]]


@pytest.fixture(params=["default", "explicit"])
def store_settings(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """The default store (nothing but a state directory set), or a file named by URL."""
    if request.param == "default":
        return {"PWLESS_GATE_STATE_DIR": str(tmp_path / "state")}
    return {"PWLESS_GATE_STORE": f"sqlite://{tmp_path / 'gate.sqlite3'}"}


@pytest.fixture
def database(tmp_path: Path, store_settings: dict[str, str]) -> Path:
    if "PWLESS_GATE_STATE_DIR" in store_settings:
        return tmp_path / "state" / "pwless-gate.sqlite3"
    return tmp_path / "gate.sqlite3"


@pytest.fixture
def serve(tenant: Any, tmp_path: Path, store_settings: dict[str, str]) -> Serve:
    """A context manager running gunicorn (3 sync workers, more ``args``) on the SQLite
    ``database``, with more settings in ``env``."""
    numbers = itertools.count()

    def serve(*args: str, **env: str) -> AbstractContextManager[tuple[str, Process]]:
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
                **store_settings,
                **env,
            },
            log=tmp_path / f"gunicorn-{next(numbers)}.log",
        )

    return serve


@pytest.fixture
def base(serve: Serve) -> Iterator[str]:
    with ExitStack() as stack:
        url, _ = stack.enter_context(serve(PWLESS_GATE_SESSION_CACHE_TTL="1"))
        yield url


def login(base: str, tenant: Any, email: str) -> requests.Session:
    browser, done = http_sign_in(base, tenant, email, next="/hello")
    assert done.status_code == 303, done.text
    return browser


def spread(browser: requests.Session, base: str, n: int = 12) -> list[requests.Response]:
    """``n`` concurrent requests, each holding its worker a moment, so all workers answer."""

    def fetch(_: int) -> requests.Response:
        return browser.get(f"{base}/hello?sleep=0.2", allow_redirects=False, timeout=10)

    with ThreadPoolExecutor(max_workers=6) as pool:
        return list(pool.map(fetch, range(n)))


def test_logout_on_one_worker_refuses_the_old_cookie_on_all(
    base: str, tenant: Any, database: Path
) -> None:
    browser = login(base, tenant, "ada@example.com")
    value = browser.cookies.get("pwless_gate_session")
    assert value is not None
    assert len(value) == 87  # an opaque id and its signature, not the record
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

    def refused_everywhere() -> bool:
        return {a.status_code for a in spread(copy, base)} == {302}

    assert until(refused_everywhere, 5)
    assert stat.S_IMODE(database.stat().st_mode) == 0o600


@pytest.mark.parametrize("store_settings", ["default"], indirect=True)
def test_the_default_store_says_where_it_is(
    serve: Serve, tenant: Any, database: Path, tmp_path: Path
) -> None:
    assert not database.parent.exists()
    logging = tmp_path / "logging.json"  # the gate's INFO lines on stderr, as an operator would
    logging.write_text(json.dumps(LOG_CONFIG))
    with serve("--log-config-json", str(logging)) as (base, process):
        browser = login(base, tenant, "dee@example.com")
        assert (
            len(browser.cookies.get("pwless_gate_session") or "") == 87
        )  # a signed id, not a record
        with sqlite3.connect(database) as conn:
            assert conn.execute("SELECT COUNT(*) FROM sessions").fetchone() == (1,)
    assert stat.S_IMODE(database.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    said = [line for line in process.output().splitlines() if str(database) in line]
    assert said, process.output()
    assert "the default; PWLESS_GATE_STATE_DIR moves it" in said[0]


def test_an_unusable_state_dir_stops_start_up_naming_it(tenant: Any, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    log = tmp_path / "gunicorn.log"
    process = Process(
        [
            str(BIN / "gunicorn"),
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{free_port()}",
            'pwless_gate:gate("tests.apps:whoami")',
        ],
        env={
            "PWLESS_GATE_AUTH0_DOMAIN": tenant.url,
            "PWLESS_GATE_CLIENT_ID": CLIENT_ID,
            "PWLESS_GATE_CLIENT_SECRET": CLIENT_SECRET,
            "PWLESS_GATE_ALLOWED_DOMAINS": "*",  # anyone, on purpose
            "PWLESS_GATE_SECRET_KEY": "k" * 32,
            "PWLESS_GATE_STATE_DIR": str(blocker / "state"),
        },
        log=log,
    )
    try:
        assert process.proc.wait(30) == 4
    finally:
        process.stop()
    lines = [line for line in process.output().splitlines() if line.startswith("pwless-gate:")]
    assert lines == [
        f"pwless-gate: PWLESS_GATE_STATE_DIR: cannot create {blocker}/state/pwless-gate.sqlite3:"
        " Not a directory"
    ]


def test_throttle_counters_are_shared_by_the_workers(serve: Serve) -> None:
    # Each worker answers one request and is replaced: a count kept in a process is lost.
    with serve("--max-requests", "1", PWLESS_GATE_THROTTLE_SEND_PER_IDENTIFIER="2/600") as (
        base,
        _,
    ):

        def send(_: int) -> int:
            browser = browser_session()
            page = browser.get(f"{base}/_gate/login", timeout=10)
            sent = browser.post(
                f"{base}/_gate/login",
                data={"csrf_token": hidden(page.text, "csrf_token"), "email": "same@example.com"},
                timeout=10,
            )
            return sent.status_code

        assert [send(i) for i in range(4)] == [200, 200, 429, 429]


def test_a_restart_keeps_sessions(serve: Serve, tenant: Any) -> None:
    with serve() as (base, _):
        browser = login(base, tenant, "bo@example.com")
        assert browser.get(f"{base}/hello", timeout=10).json()["remote_user"] == "bo@example.com"
    with serve() as (base, _):
        answer = browser.get(f"{base}/hello", allow_redirects=False, timeout=10)
        assert answer.status_code == 200
        assert answer.json()["remote_user"] == "bo@example.com"


def test_a_failing_file_fails_closed(make_harness: Any, tmp_path: Path, clock: FakeClock) -> None:
    database = tmp_path / "gate.sqlite3"
    harness = make_harness(store=f"sqlite://{database}", session_cache_ttl=5)
    cached = harness.new_browser()
    assert harness.login("eve@example.com", client=cached).status_code == 303
    assert cached.get("/").status_code == 200
    uncached = harness.new_browser()
    assert harness.login("fay@example.com", client=uncached).status_code == 303
    harness.gate.sessions.forget(uncached.get_cookie("pwless_gate_session").value)
    with sqlite3.connect(database) as conn:  # as good as a corrupt file, for every query
        conn.execute("DROP TABLE sessions")
        conn.execute("DROP TABLE throttle")

    assert cached.get("/").status_code == 200  # still in this process's cache
    answer = uncached.get("/")
    assert answer.status_code == 503
    assert "Retry-After" in answer.headers
    assert harness.start("gus@example.com").status_code == 503  # the throttle needs the file
    clock.advance(6)
    assert cached.get("/").status_code == 503  # its cache entry expired
