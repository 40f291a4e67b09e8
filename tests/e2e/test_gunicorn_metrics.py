"""Metrics under real gunicorn: every scrape gives the totals of all workers.

Each worker counts in its own memory; with ``PROMETHEUS_MULTIPROC_DIR`` set
(prometheus-client's multiprocess mode) the workers write their counts to
files there and each scrape adds them all up, recycled workers' included.
gunicorn runs with the example production config, whose hooks empty that
directory at start and do prometheus-client's bookkeeping when a worker exits.
"""

from __future__ import annotations

import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from ..examples.support import EXAMPLES
from ..helpers import CLIENT_ID, CLIENT_SECRET, http_sign_in
from ..procs import ROOT, gunicorn

pytestmark = pytest.mark.slow

CONFIG = EXAMPLES / "gunicorn" / "gunicorn.conf.py"
SIGN_INS = 5
#: Each worker is replaced after this many requests: counts must outlive their worker.
MAX_REQUESTS = 4
CLOSE = {"Connection": "close"}  # each request may meet another worker


def events(text: str) -> dict[str, float]:
    """The ``pwless_gate_events_total`` samples of a scrape, by their labels."""
    found = {}
    for line in text.splitlines():
        match = re.match(r"pwless_gate_events_total(\{.*\}) (\S+)$", line)
        if match:
            found[match.group(1)] = float(match.group(2))
    return found


def test_every_scrape_gives_the_totals_of_all_workers(tenant: Any, tmp_path: Path) -> None:
    shared = tmp_path / "prometheus"
    shared.mkdir()
    (shared / "counter_999999.db").write_bytes(b"left by an earlier run")  # emptied at start
    access_log = tmp_path / "access.log"
    env = {
        "PWLESS_GATE_AUTH0_DOMAIN": tenant.url,
        "PWLESS_GATE_CLIENT_ID": CLIENT_ID,
        "PWLESS_GATE_CLIENT_SECRET": CLIENT_SECRET,
        "PWLESS_GATE_ALLOWED_DOMAINS": "example.com",
        "PWLESS_GATE_METRICS": "true",
        "PROMETHEUS_MULTIPROC_DIR": str(shared),
        "PWLESS_GATE_TRUSTED_PROXIES": "0",
        "GUNICORN_KEEPALIVE": "1",
    }
    with gunicorn(
        "-c",
        str(CONFIG),
        "--max-requests",
        str(MAX_REQUESTS),
        "--max-requests-jitter",
        "0",
        "--access-logfile",
        str(access_log),
        "--access-logformat",
        "%(p)s %(U)s %(s)s",
        'pwless_gate:gate("tests.apps:whoami")',
        workers=3,
        env=env,
        log=tmp_path / "gunicorn.log",
    ) as (base, _):
        for i in range(SIGN_INS):
            _, done = http_sign_in(base, tenant, f"user{i}@example.com", headers=CLOSE)
            assert done.status_code == 303, done.text

        def scrape(_: int) -> dict[str, float]:
            answer = requests.get(f"{base}/_gate/metrics", headers=CLOSE, timeout=10)
            assert answer.status_code == 200, answer.text
            return events(answer.text)

        with ThreadPoolExecutor(max_workers=3) as pool:
            scrapes = list(pool.map(scrape, range(12)))

    first = scrapes[0]
    assert first['{event="login_succeeded",reason="email"}'] == SIGN_INS
    assert first['{event="code_sent",reason="email-code"}'] == SIGN_INS
    assert all(seen == first for seen in scrapes)
    # Answered by several workers, most of them gone by the last scrape.
    answered = {
        line.split()[0]
        for line in access_log.read_text().splitlines()
        if " /_gate/metrics " in line
    }
    assert len(answered) >= 2, answered


def test_an_unusable_multiproc_dir_stops_the_gate_at_start(tmp_path: Path) -> None:
    """Else the first count of a request would fail (FileNotFoundError), and every scrape."""
    script = (
        "import sys\n"
        "from pwless_gate import ConfigError, PasswordlessGate\n"
        "from tests.helpers import RecordingApp, gate_config\n"
        "config = gate_config('http://127.0.0.1:9', metrics=True, state_dir=sys.argv[1])\n"
        "try:\n"
        "    PasswordlessGate(RecordingApp(), config)\n"
        "except ConfigError as exc:\n"
        "    print('refused', exc.setting)\n"
    )
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "missing"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stdout.strip() == "refused PROMETHEUS_MULTIPROC_DIR", done.stderr
