"""Benchmark 6: many people signing in at once through gunicorn and one SQLite file.

200 browsers sign in through a gate served by gunicorn with 4 sync workers
and the default store (one SQLite file shared by the workers for sessions
and throttle counters), against the local tenant in its own process: first
all 200 ask for a code at the same moment, then all 200 enter it, 25 at the
same moment each second (the tenant, like Auth0 on a small plan, answers
about 30 token requests a second and refuses the rest with 429, which would
measure Auth0's limit rather than the gate). Each browser comes from its own
loopback address (``X-Forwarded-For`` behind one trusted proxy), so neither
the gate's nor the tenant's per-IP limits are what is measured; the gate's
throttles stay at their defaults and count in the file. What must hold:
every sign-in ends signed in (303), and no worker logs a "database is
locked" error, a store failure (503) or a traceback.
"""

from __future__ import annotations

import html
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.helpers import CLIENT_ID, CLIENT_SECRET
from tests.procs import dev_tenant

from .fixtures import SECRET_KEY
from .servers import Server, start_gunicorn

SIGN_INS = 200
WORKERS = 4
TIMEOUT = 60.0
#: Code entries let through per second: under the tenant's ~30 token requests a second.
VERIFY_GROUP = 25
_HIDDEN = re.compile(r'name="(csrf_token|tx)" value="([^"]*)"')


@dataclass
class Phase:
    """One wave of concurrent requests: its answers and how long the wave took."""

    statuses: list[int] = field(default_factory=list)
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


@dataclass
class Result:
    start: Phase
    verify: Phase
    signed_in: int
    locked_lines: list[str]
    sqlite_path: Path


def _hidden(page: str) -> dict[str, str]:
    return {name: html.unescape(value) for name, value in _HIDDEN.findall(page)}


def _address(i: int) -> str:
    return f"127.0.{i // 250 + 1}.{i % 250 + 1}"


def _wave(count: int, task: Callable[[int], int], group: int | None = None) -> Phase:
    """Run ``task(i)`` for every ``i`` at once, released together by a barrier; with
    ``group``, released ``group`` at a time, one group a second."""
    group = group or count
    barriers = [threading.Barrier(min(group, count - start)) for start in range(0, count, group)]
    phase = Phase()
    began = time.monotonic()

    def run(i: int) -> int:
        time.sleep(max(0.0, began + i // group - time.monotonic()))
        barriers[i // group].wait(timeout=TIMEOUT)
        try:
            return task(i)
        except requests.RequestException as exc:
            phase.errors.append(f"{type(exc).__name__}: {exc}")
            return 0

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=count) as pool:
        phase.statuses = list(pool.map(run, range(count)))
    phase.seconds = time.perf_counter() - started
    return phase


@contextmanager
def _gate(workdir: Path, tenant_url: str, database: Path) -> Iterator[Server]:
    env = {
        "PWLESS_GATE_AUTH0_DOMAIN": tenant_url,
        "PWLESS_GATE_CLIENT_ID": CLIENT_ID,
        "PWLESS_GATE_CLIENT_SECRET": CLIENT_SECRET,
        "PWLESS_GATE_SECRET_KEY": SECRET_KEY,
        "PWLESS_GATE_ALLOWED_DOMAINS": "example.com",
        "PWLESS_GATE_TRUSTED_PROXIES": "1",
        "PWLESS_GATE_STATE_DIR": str(database.parent),  # the default store, in its own place
    }
    server = start_gunicorn(
        "signins", 'pwless_gate:gate("bench.apps:hello")', workdir, workers=WORKERS, env=env
    )
    try:
        yield server
    finally:
        server.stop()


def run(workdir: Path) -> Result:
    database = workdir / "signins" / "pwless-gate.sqlite3"
    with (
        dev_tenant(workdir, "--trust-forwarded-for") as tenant_url,
        _gate(workdir, tenant_url, database) as server,
    ):
        base = server.url.rstrip("/")
        browsers = [requests.Session() for _ in range(SIGN_INS)]
        pages: dict[int, dict[str, str]] = {}

        def start(i: int) -> int:
            headers = {"X-Forwarded-For": _address(i)}
            browser = browsers[i]
            page = browser.get(f"{base}/_gate/login", headers=headers, timeout=TIMEOUT)
            form = {**_hidden(page.text), "email": f"rush{i}@example.com", "send": "code"}
            sent = browser.post(f"{base}/_gate/login", data=form, headers=headers, timeout=TIMEOUT)
            pages[i] = _hidden(sent.text)
            return sent.status_code

        started = _wave(SIGN_INS, start)
        outbox = requests.get(f"{tenant_url}/_dev/outbox", timeout=TIMEOUT).json()["messages"]
        codes = {message["to"]: message["code"] for message in outbox if message.get("code")}

        def verify(i: int) -> int:
            headers = {"X-Forwarded-For": _address(i)}
            form = {**pages.get(i, {}), "code": codes.get(f"rush{i}@example.com", "")}
            done = browsers[i].post(
                f"{base}/_gate/verify",
                data=form,
                headers=headers,
                allow_redirects=False,
                timeout=TIMEOUT,
            )
            return done.status_code

        verified = _wave(SIGN_INS, verify, group=VERIFY_GROUP)
        signed_in = sum(
            browsers[i].get(f"{base}/", allow_redirects=False, timeout=TIMEOUT).status_code == 200
            for i in range(SIGN_INS)
        )
        log = server.process.output()
    troubles = ("locked", "unavailable", "Traceback", "Error")
    locked = [line for line in log.splitlines() if any(word in line for word in troubles)]
    return Result(started, verified, signed_in, locked, database)
