"""examples/gunicorn/gunicorn.conf.py: gunicorn started with the production config."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from ..procs import BIN, Process, free_port, wait_for_port
from .support import EXAMPLES, TIMEOUT, gunicorn_env, sign_in

pytestmark = pytest.mark.slow


CONFIG = EXAMPLES / "gunicorn" / "gunicorn.conf.py"


@pytest.fixture
def production(tenant: Any, tmp_path: Path) -> Iterator[tuple[str, Process]]:
    """The legacy tool under gunicorn.conf.py, bound to a free port through GUNICORN_BIND."""
    port = free_port()
    server = Process(
        [
            str(BIN / "gunicorn"),
            "-c",
            str(CONFIG),
            "--chdir",
            str(EXAMPLES / "legacy_app"),
        ],
        env={
            **gunicorn_env(tenant, tmp_path),
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            # Two workers instead of (2 x CPUs) + 1, and idle connections
            # dropped after a second rather than lingering while workers stop:
            # both only keep the test quick.
            "WEB_CONCURRENCY": "2",
            "GUNICORN_KEEPALIVE": "1",
            "PWLESS_GATE_TRUSTED_PROXIES": "0",
        },
        log=tmp_path / "gunicorn.log",
    )
    try:
        wait_for_port(port, server.proc)
        yield f"http://127.0.0.1:{port}", server
    finally:
        server.stop()


def test_login_under_the_production_config(production: tuple[str, Process], tenant: Any) -> None:
    base, server = production
    # No proxy is trusted: a client claiming https gets no Secure cookie, so
    # gunicorn (forwarded_allow_ips) and the gate (trusted_proxies) agree.
    claimed = requests.get(
        base + "/_gate/login", headers={"X-Forwarded-Proto": "https"}, timeout=TIMEOUT
    )
    assert claimed.status_code == 200
    assert claimed.headers.get("Set-Cookie")
    assert "secure" not in claimed.headers["Set-Cookie"].lower()
    assert "__Host-" not in claimed.headers["Set-Cookie"]

    browser, page = sign_in(base, tenant, "dennis@example.com", path="/orders?q=marker-7f3a")
    assert page.status_code == 200
    assert '<strong id="remote-user">dennis@example.com</strong>' in page.text

    browser.close()
    server.stop()
    log = server.output()
    assert "[INFO] Using worker: gthread" in log
    assert '"POST /_gate/verify HTTP/1.1" 303' in log
    # Paths only: no query string (nor the ?next= that carried it) is logged.
    assert "marker-7f3a" not in log
    # The gate's audit events reach gunicorn's log, with the address masked; so does its
    # start-up line, logged while each worker loads the app.
    assert "login_succeeded" in log
    assert "[INFO] sessions and throttle counters in SQLite at" in log
    assert "dennis@example.com" not in log


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("PWLESS_GATE_CLIENT_SECRET", ""),
        ("PWLESS_GATE_AUTH0_TIMEOUT", "abc"),
        ("PWLESS_GATE_AUTH0_TIMEOUT", "nan"),
        ("PWLESS_GATE_AUTH0_TIMEOUT", "inf"),
        ("PWLESS_GATE_AUTH0_TIMEOUT", "1e308"),
        ("PWLESS_GATE_TRUSTED_PROXIES", "for=1,proto=x"),
    ],
    ids=[
        "missing",
        "unreadable-number-the-config-reads",
        "nan-the-config-reads",
        "inf-the-config-reads",
        "too-large-the-config-reads",
        "unreadable-proxies-the-config-reads",
    ],
)
def test_a_bad_setting_stops_gunicorn_before_it_serves(
    tenant: Any, tmp_path: Path, setting: str, value: str
) -> None:
    """One line naming the setting, even for the ones the config file reads itself."""
    server = Process(
        [str(BIN / "gunicorn"), "-c", str(CONFIG), "--chdir", str(EXAMPLES / "legacy_app")],
        env={
            **gunicorn_env(tenant, tmp_path),
            "GUNICORN_BIND": f"127.0.0.1:{free_port()}",
            setting: value,
        },
        log=tmp_path / "gunicorn.log",
    )
    try:
        assert server.proc.wait(TIMEOUT) == 1
    finally:
        server.stop()
    log = server.output()
    assert f"Error: {setting}:" in log
    assert "Traceback" not in log
    assert "Booting worker" not in log


def test_per_header_proxy_counts_are_read_by_the_config(tenant: Any, tmp_path: Path) -> None:
    """README's ``for=1,proto=1``: gunicorn then believes X-Forwarded-Proto from the proxy
    (loopback here), as the gate does: the cookie is the Secure ``__Host-`` one."""
    port = free_port()
    server = Process(
        [str(BIN / "gunicorn"), "-c", str(CONFIG), "--chdir", str(EXAMPLES / "legacy_app")],
        env={
            **gunicorn_env(tenant, tmp_path),
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": "1",
            "GUNICORN_KEEPALIVE": "1",
            "PWLESS_GATE_TRUSTED_PROXIES": "for=1,proto=1",
        },
        log=tmp_path / "gunicorn.log",
    )
    try:
        wait_for_port(port, server.proc)
        page = requests.get(
            f"http://127.0.0.1:{port}/_gate/login",
            headers={"X-Forwarded-Proto": "https"},
            timeout=TIMEOUT,
        )
        assert page.status_code == 200
        assert page.headers["Set-Cookie"].startswith("__Host-")
    finally:
        server.stop()
    assert "Traceback" not in server.output()
