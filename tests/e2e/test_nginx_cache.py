"""A shared cache in front of the gate never hands a signed-in page to anyone else.

nginx ``proxy_cache`` keyed by URL, in front of gunicorn serving the gated
``tests.apps:public_report``, an app that marks every page ``public,
max-age=600``. The control: the same app behind the same nginx without the
gate is cached and served to a stranger, so the gate's headers are what stop it.
"""

from __future__ import annotations

import getpass
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from werkzeug.serving import make_server

from pwless_gate import GateConfig, PasswordlessGate
from pwless_gate.testing import session_cookie

from ..apps import public_report
from ..helpers import BROWSER, CLIENT_ID, CLIENT_SECRET
from ..procs import ROOT, Process, free_port, gunicorn, require_binary, wait_for_port

pytestmark = pytest.mark.slow

#: Nothing listens here: the sessions come from session_cookie, not a tenant.
NO_TENANT = "http://127.0.0.1:9"
SECRET_KEY = "nginx-cache-test-secret-key-0123456789"
TIMEOUT = 10

NGINX_CONF = """
USER
worker_processes 1;
pid nginx.pid;
error_log stderr warn;
events { worker_connections 64; }

http {
    access_log off;
    proxy_cache_path cache levels=1:2 keys_zone=pages:1m max_size=10m inactive=10m
                     use_temp_path=off;

    server {
        listen 127.0.0.1:NGINX_PORT;
        proxy_cache pages;
        proxy_cache_key $scheme$host$request_uri;
        # Cache any 200 ten minutes; the upstream's Cache-Control, Set-Cookie
        # and Vary win, as they do by default.
        proxy_cache_valid 200 10m;
        add_header X-Cache-Status $upstream_cache_status always;
        proxy_set_header Host $http_host;

        location / { proxy_pass http://GATE_ADDRESS; }
        # The control: the same app, no gate in front of it.
        location /bare/ { proxy_pass http://BARE_ADDRESS/; }
    }
}
"""


@dataclass
class Stack:
    base: str
    gate: PasswordlessGate
    cache_dir: Path

    def get(self, path: str, cookie: str | None = None) -> requests.Response:
        headers = {**BROWSER, "Cookie": cookie} if cookie else BROWSER
        return requests.get(
            self.base + path, headers=headers, allow_redirects=False, timeout=TIMEOUT
        )

    def cached_bodies(self) -> list[bytes]:
        return [p.read_bytes() for p in self.cache_dir.rglob("*") if p.is_file()]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    nginx = require_binary("nginx", "the shared-cache test needs it")
    env = {
        "PYTHONPATH": str(ROOT),
        "PWLESS_GATE_AUTH0_DOMAIN": NO_TENANT,
        "PWLESS_GATE_CLIENT_ID": CLIENT_ID,
        "PWLESS_GATE_CLIENT_SECRET": CLIENT_SECRET,
        "PWLESS_GATE_SECRET_KEY": SECRET_KEY,
        "PWLESS_GATE_ALLOWED_DOMAINS": "example.com",
        "PWLESS_GATE_STATE_DIR": str(tmp_path / "state"),
    }
    # The same config in this process: a session it saves (in the same default SQLite
    # file) holds in gunicorn.
    gate = PasswordlessGate(public_report, GateConfig.from_env(env))
    bare = make_server("127.0.0.1", 0, public_report, threaded=True)
    threading.Thread(target=bare.serve_forever, daemon=True).start()
    nginx_port = free_port()
    try:
        with gunicorn(
            'pwless_gate:gate("tests.apps:public_report")', env=env, log=tmp_path / "gate.log"
        ) as (gate_url, _):
            config = (
                NGINX_CONF.replace("USER", _worker_user())
                .replace("NGINX_PORT", str(nginx_port))
                .replace("GATE_ADDRESS", gate_url.removeprefix("http://"))
                .replace("BARE_ADDRESS", f"127.0.0.1:{bare.port}")
            )
            (tmp_path / "nginx.conf").write_text(config)
            (tmp_path / "logs").mkdir()
            proxy = Process(
                [
                    nginx,
                    "-p",
                    str(tmp_path),
                    "-c",
                    str(tmp_path / "nginx.conf"),
                    "-g",
                    "daemon off;",
                ],
                log=tmp_path / "nginx.log",
            )
            try:
                wait_for_port(nginx_port, proxy.proc)
                yield Stack(f"http://127.0.0.1:{nginx_port}", gate, tmp_path / "cache")
            finally:
                proxy.stop()
    finally:
        bare.shutdown()
        bare.server_close()


def _worker_user() -> str:
    """Run as root, nginx's workers become ``nobody``, who cannot write the cache under
    ``tmp_path``; keep them the user we are. Otherwise nginx cannot switch users anyway."""
    return f"user {getpass.getuser()};" if os.geteuid() == 0 else ""


def test_a_signed_in_page_is_not_stored_and_a_stranger_is_challenged(stack: Stack) -> None:
    cookie = session_cookie(stack.gate, email="ada@example.com")

    mine = stack.get("/report", cookie)
    assert mine.status_code == 200
    assert mine.text == "report for ada@example.com"
    assert mine.headers["Cache-Control"] == "private, max-age=600"
    assert mine.headers["Vary"] == "Cookie"
    assert mine.headers["X-Cache-Status"] == "MISS"
    # Asked again, it comes from the app again: nothing was stored.
    assert stack.get("/report", cookie).headers["X-Cache-Status"] == "MISS"
    assert not any(b"ada@example.com" in body for body in stack.cached_bodies())

    stranger = stack.get("/report")
    assert stranger.status_code == 302
    assert stranger.headers["Location"] == "/_gate/login?next=%2Freport"
    assert stranger.headers["X-Cache-Status"] in ("MISS", "BYPASS")
    assert "ada" not in stranger.text


def test_control_without_the_gate_the_same_page_is_served_from_the_cache(stack: Stack) -> None:
    cookie = session_cookie(stack.gate, email="ada@example.com")

    first = stack.get("/bare/report", cookie)
    assert first.headers["Cache-Control"] == "public, max-age=600"
    assert first.headers["X-Cache-Status"] == "MISS"

    stranger = stack.get("/bare/report")
    assert stranger.headers["X-Cache-Status"] == "HIT"
    assert stranger.text == first.text
    assert any(first.content in body for body in stack.cached_bodies())
