"""App tokens over HTTP with gunicorn (three workers), on SQLite and on Redis.

A token made in one worker works in every worker, survives a restart of
gunicorn, and is listed and revoked by ``pwless-gate tokens`` while the gate
runs; every worker then refuses it within ``session_cache_ttl`` (1 second).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
import requests

from pwless_gate.apptokens import new_token

from ..helpers import CLIENT_ID, CLIENT_SECRET, hidden, http_sign_in
from ..procs import BIN, ROOT, gunicorn, until

pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite", "redis"])
def gate_env(request: pytest.FixtureRequest, tenant: Any, tmp_path: Path) -> dict[str, str]:
    if request.param == "sqlite":
        store = f"sqlite://{tmp_path / 'gate.sqlite3'}"
    else:
        store = str(request.getfixturevalue("redis_url"))
    return {
        "PWLESS_GATE_AUTH0_DOMAIN": tenant.url,
        "PWLESS_GATE_CLIENT_ID": CLIENT_ID,
        "PWLESS_GATE_CLIENT_SECRET": CLIENT_SECRET,
        "PWLESS_GATE_ALLOWED_DOMAINS": "example.com",
        "PWLESS_GATE_SECRET_KEY": "k" * 32,
        "PWLESS_GATE_STORE": store,
        "PWLESS_GATE_APP_TOKENS": "true",
        "PWLESS_GATE_SESSION_CACHE_TTL": "1",
    }


@pytest.fixture
def serve(gate_env: dict[str, str], tmp_path: Path) -> Callable[[], AbstractContextManager[Any]]:
    def start() -> AbstractContextManager[Any]:
        return gunicorn(
            'pwless_gate:gate("tests.apps:whoami")',
            workers=3,
            env=gate_env,
            log=tmp_path / "gunicorn.log",
        )

    return start


def make_token(base: str, tenant: Any) -> str:
    browser, done = http_sign_in(base, tenant, "ada@example.com")
    assert done.status_code == 303, done.text
    page = browser.get(f"{base}/_gate/tokens", timeout=10)
    made = browser.post(
        f"{base}/_gate/tokens",
        data={"csrf_token": hidden(page.text, "csrf_token"), "name": "deploy script", "days": "30"},
        timeout=10,
    )
    found = re.search(r'value="(pwg_[0-9A-Za-z]+)"', made.text)
    assert found is not None, made.text
    return found.group(1)


def spread(base: str, token: str, n: int = 12) -> list[tuple[int, Any]]:
    """(status, answer) of ``n`` concurrent requests, each holding its worker a moment."""

    def fetch(_: int) -> tuple[int, Any]:
        answer = requests.get(
            f"{base}/hello?sleep=0.2",
            headers={"Authorization": f"Bearer {token}"},
            allow_redirects=False,
            timeout=10,
        )
        return answer.status_code, answer.json() if answer.status_code == 200 else None

    with ThreadPoolExecutor(max_workers=6) as pool:
        return list(pool.map(fetch, range(n)))


def refused(base: str, token: str) -> bool:
    """Every worker refuses the token: 401, or 429 once the refusals pass the IP's limit."""
    return {status for status, _ in spread(base, token)} <= {401, 429}


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(BIN / "pwless-gate"), "tokens", *args],
        env={**env, "PATH": str(BIN)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_tokens_work_in_every_worker_and_survive_a_restart(
    serve: Callable[[], AbstractContextManager[Any]], gate_env: dict[str, str], tenant: Any
) -> None:
    with serve() as (base, _):
        token = make_token(base, tenant)
        answers = spread(base, token)
        assert {status for status, _ in answers} == {200}
        assert len({body["pid"] for _, body in answers}) > 1  # several workers answered
        assert {body["auth_method"] for _, body in answers} == {"app-token"}
        assert {body["remote_user"] for _, body in answers} == {"ada@example.com"}
    with serve() as (base, _):
        assert {status for status, _ in spread(base, token)} == {200}
        listed = cli(gate_env, "list", "--user", "ada@example.com")
        assert "deploy script" in listed
        assert listed.strip().endswith("1 token")
        assert token not in listed
        [token_id] = re.findall(r"\s([A-Za-z0-9_-]{16})$", listed.splitlines()[0])
        assert cli(gate_env, "revoke", "--token-id", token_id).strip() == "revoked 1 token"
        assert until(lambda: refused(base, token), 6.0)
        assert cli(gate_env, "list").strip() == "0 tokens"


def test_an_operator_revokes_a_persons_tokens(
    serve: Callable[[], AbstractContextManager[Any]], gate_env: dict[str, str], tenant: Any
) -> None:
    with serve() as (base, _):
        first, second = make_token(base, tenant), make_token(base, tenant)
        for token in (first, second):
            assert {s for s, _ in spread(base, token)} == {200}
        assert cli(gate_env, "revoke", "--user", "ADA@example.com").strip() == "revoked 2 tokens"
        for token in (first, second):
            assert until(lambda t=token: refused(base, t), 6.0)


def test_a_wrong_token_counts_once_whichever_worker_refuses_it(
    gate_env: dict[str, str], tenant: Any, tmp_path: Path
) -> None:
    """A stale token retried across three workers is counted once on its IP's limit (two
    here), not once per worker: every answer is 401, never 429, and the IP's good token
    still gets in."""
    env = {**gate_env, "PWLESS_GATE_THROTTLE_APP_TOKEN_PER_IP": "2/300"}
    with gunicorn(
        'pwless_gate:gate("tests.apps:whoami")', workers=3, env=env, log=tmp_path / "g.log"
    ) as (base, _):
        token = make_token(base, tenant)
        stale = new_token()
        statuses = [status for _ in range(3) for status, _ in spread(base, stale)]
        assert statuses == [401] * 36
        assert {status for status, _ in spread(base, token)} == {200}
