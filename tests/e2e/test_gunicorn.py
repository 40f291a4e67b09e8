"""Real gunicorn, three sync workers, the gate built by its factory string."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from ..helpers import BROWSER, CLIENT_ID, CLIENT_SECRET, http_sign_in
from ..procs import gunicorn

pytestmark = pytest.mark.slow


@pytest.fixture(params=[0, 1], ids=["steady", "recycled-each-request"])
def gunicorn_gate(
    tenant: Any, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[str, Path, int]]:
    """Three workers; with ``max_requests=1`` every request meets a fresh worker."""
    max_requests = request.param
    access_log = tmp_path / "access.log"
    env = {
        "PWLESS_GATE_AUTH0_DOMAIN": tenant.url,
        "PWLESS_GATE_CLIENT_ID": CLIENT_ID,
        "PWLESS_GATE_CLIENT_SECRET": CLIENT_SECRET,
        "PWLESS_GATE_ALLOWED_DOMAINS": "*",  # anyone, on purpose
    }
    with gunicorn(
        "--max-requests",
        str(max_requests),
        "--access-logfile",
        str(access_log),
        "--access-logformat",
        "%(p)s %(m)s %(U)s %(s)s",
        'pwless_gate:gate("tests.apps:whoami")',
        workers=3,
        env=env,
        log=tmp_path / "gunicorn.log",
    ) as (base, _):
        yield base, access_log, max_requests


def pids_by_path(access_log: Path) -> dict[str, set[str]]:
    seen: dict[str, set[str]] = {}
    for line in access_log.read_text().splitlines():
        match = re.match(r"<(\d+)> (\S+) (\S+) (\d+)", line)
        if match:
            seen.setdefault(match.group(3), set()).add(match.group(1))
    return seen


def login(base: str, tenant: Any, email: str) -> requests.Session:
    first = requests.get(
        f"{base}/deep/page?x=1", headers=BROWSER, allow_redirects=False, timeout=10
    )
    assert first.status_code == 302
    assert first.headers["Location"] == "/_gate/login?next=%2Fdeep%2Fpage%3Fx%3D1"
    browser, done = http_sign_in(base, tenant, email, next="/deep/page?x=1")
    assert done.status_code == 303, done.text
    assert done.headers["Location"] == "/deep/page?x=1"
    return browser


def test_login_across_three_workers(gunicorn_gate: tuple[str, Path, int], tenant: Any) -> None:
    base, access_log, max_requests = gunicorn_gate
    browsers = [login(base, tenant, f"worker{i}@example.com") for i in range(3)]

    def fetch(i: int) -> dict[str, Any]:
        answer = browsers[i % 3].get(
            f"{base}/deep/page?sleep=0.2", headers={"Connection": "close"}, timeout=10
        )
        assert answer.status_code == 200
        body: dict[str, Any] = answer.json()
        assert body["remote_user"] == f"worker{i % 3}@example.com"
        return body

    with ThreadPoolExecutor(max_workers=6) as pool:
        served_by = {body["pid"] for body in pool.map(fetch, range(12))}
    assert len(served_by) >= 2
    anonymous = requests.get(
        f"{base}/deep/page", headers=BROWSER, allow_redirects=False, timeout=10
    )
    assert anonymous.status_code == 302
    script = requests.get(f"{base}/deep/page", allow_redirects=False, timeout=10)
    assert script.status_code == 401
    if max_requests == 1:
        # Every step of every login met a fresh worker: the transaction, the
        # CSRF token and the session signed by one process held in another.
        pids = pids_by_path(access_log)
        steps = pids["/_gate/login"] | pids["/_gate/verify"]
        assert len(steps) == 9, pids
