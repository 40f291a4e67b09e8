"""The nginx example: one gate protecting a non-Python app through auth_request."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from ..helpers import BROWSER, CLIENT_ID, CLIENT_SECRET, http_sign_in
from ..procs import ROOT, Process, free_port, gunicorn, require_binary, wait_for_port

pytestmark = pytest.mark.slow


def other_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Stands for the non-Python app: it only reads the headers nginx sets."""
    body = (
        f"user={environ.get('HTTP_X_FORWARDED_USER', '')} "
        f"email={environ.get('HTTP_X_FORWARDED_EMAIL', '')} "
        f"remote={environ.get('HTTP_REMOTE_USER', '')} "
        f"path={environ.get('PATH_INFO')}?{environ.get('QUERY_STRING', '')}"
    ).encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]


@pytest.fixture
def stack(tenant: Any, tmp_path: Path) -> Iterator[str]:
    nginx = require_binary("nginx", "the nginx example needs it")
    app_port, nginx_port = free_port(), free_port()
    app_server = make_server("127.0.0.1", app_port, other_app, threaded=True)
    threading.Thread(target=app_server.serve_forever, daemon=True).start()
    gate_env = {
        "PYTHONPATH": str(ROOT),
        "PWLESS_GATE_AUTH0_DOMAIN": tenant.url,
        "PWLESS_GATE_CLIENT_ID": CLIENT_ID,
        "PWLESS_GATE_CLIENT_SECRET": CLIENT_SECRET,
        "PWLESS_GATE_ALLOWED_DOMAINS": "*",  # anyone, on purpose
        "PWLESS_GATE_TRUSTED_PROXIES": "1",
    }
    with gunicorn(
        "--chdir",
        str(ROOT / "examples" / "nginx"),
        'pwless_gate:gate("gate_app:not_found")',
        env=gate_env,
        log=tmp_path / "gate.log",
    ) as (gate_url, _):
        config = (ROOT / "examples" / "nginx" / "nginx.conf").read_text()
        config = (
            config.replace("127.0.0.1:8000", gate_url.removeprefix("http://"))
            .replace("127.0.0.1:9000", f"127.0.0.1:{app_port}")
            .replace("127.0.0.1:8080", f"127.0.0.1:{nginx_port}")
        )
        (tmp_path / "nginx.conf").write_text(config)
        (tmp_path / "logs").mkdir()
        proxy = Process(
            [nginx, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-g", "daemon off;"],
            log=tmp_path / "nginx.log",
        )
        try:
            wait_for_port(nginx_port, proxy.proc)
            yield f"http://127.0.0.1:{nginx_port}"
        finally:
            proxy.stop()
            app_server.shutdown()


def test_nginx_auth_request_protects_another_app(stack: str, tenant: Any) -> None:
    base = stack
    spoof = {"X-Forwarded-User": "boss@example.com", "Remote-User": "boss@example.com"}
    anonymous = requests.get(
        f"{base}/reports/q3?year=2026&x=a%26b",
        headers={**spoof, **BROWSER},
        allow_redirects=False,
        timeout=10,
    )
    assert anonymous.status_code == 302
    location = anonymous.headers["Location"]
    assert location == "/_gate/login?next=%2Freports%2Fq3%3Fyear%3D2026%26x%3Da%2526b"
    api = requests.get(f"{base}/api", headers={"Accept": "application/json"}, timeout=10)
    assert api.status_code == 401
    curl = requests.get(f"{base}/api", headers={"Accept": "*/*"}, timeout=10)
    assert curl.status_code == 401
    assert curl.headers["WWW-Authenticate"].startswith("Basic realm=")
    assert requests.get(f"{base}/_gate/auth", timeout=10).status_code == 404

    browser, done = http_sign_in(
        base, tenant, "nx@example.com", next="/reports/q3?year=2026&x=a%26b", headers=spoof
    )
    assert done.status_code == 303
    landed = browser.get(base + done.headers["Location"], headers=spoof, timeout=10)
    assert landed.status_code == 200
    assert re.fullmatch(
        r"user=nx@example.com email=nx@example.com remote= path=/reports/q3\?year=2026&x=a%26b",
        landed.text,
    ), landed.text
