"""What the example tests share: loading an example module, serving it, signing in."""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from ..helpers import CLIENT_ID, CLIENT_SECRET, browser_session, http_sign_in, state_dir
from ..procs import ROOT

EXAMPLES = ROOT / "examples"
#: Seconds any one request may take before the test fails.
TIMEOUT = 10


def gate_env(tenant: Any) -> dict[str, str]:
    """The ``PWLESS_GATE_*`` variables that point a gate at the test tenant."""
    return {
        "PWLESS_GATE_AUTH0_DOMAIN": tenant.url,
        "PWLESS_GATE_CLIENT_ID": CLIENT_ID,
        "PWLESS_GATE_CLIENT_SECRET": CLIENT_SECRET,
        "PWLESS_GATE_ALLOWED_DOMAINS": "*",  # anyone, on purpose
    }


def use_gate_env(tenant: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Set :func:`gate_env` in this process's environment, and a state directory of this
    gate's own for its default store."""
    for name, value in gate_env(tenant).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PWLESS_GATE_STATE_DIR", state_dir())


def gunicorn_env(tenant: Any, tmp_path: Path) -> dict[str, str]:
    """:func:`gate_env`, plus gunicorn's control socket kept inside ``tmp_path``.

    gunicorn 25.1+ opens a control socket under ``$XDG_RUNTIME_DIR`` (else
    ``~/.gunicorn``); a per-test directory keeps concurrent runs apart.
    """
    return {**gate_env(tenant), "XDG_RUNTIME_DIR": str(tmp_path)}


def load_example(relative: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Import ``examples/<relative>`` under a private name, removed again after the test."""
    path = EXAMPLES / relative
    name = "example_" + "_".join(Path(relative).with_suffix("").parts)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    return module


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve ``app`` with Werkzeug's threaded server on a free loopback port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(TIMEOUT)


def sign_in(
    base: str, tenant: Any, email: str, path: str = "/"
) -> tuple[requests.Session, requests.Response]:
    """Sign in with an email code as a browser would, starting from ``path``.

    Returns the browser (its cookie jar holds the session) and the response
    the verify step was redirected to, that is ``path`` as the app serves it.
    """
    browser = browser_session()
    challenge = browser.get(base + path, allow_redirects=False, timeout=TIMEOUT)
    assert challenge.status_code == 302, challenge.text
    location = challenge.headers["Location"]
    assert location.startswith("/_gate/login?next="), location
    browser, verified = http_sign_in(base, tenant, email, next=path, browser=browser)
    assert verified.status_code == 303, verified.text
    assert verified.headers["Location"] == path
    landed = browser.get(base + path, timeout=TIMEOUT)
    return browser, landed
