"""examples/plain_wsgi: a bare WSGI app wrapped in Python, served for real."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests

from ..helpers import BROWSER, gate_config
from .support import TIMEOUT, load_example, serving, sign_in, use_gate_env

pytestmark = pytest.mark.slow


def test_wrapped_with_a_gate_config(tenant: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    hello = load_example("plain_wsgi/hello.py", monkeypatch)
    app = hello.make_app(gate_config(tenant.url))
    with serving(app) as base:
        _, page = sign_in(base, tenant, "ada@example.com")
        assert page.status_code == 200
        assert "<strong id='remote-user'>ada@example.com</strong>" in page.text
        sub = re.search(r"<code id='sub'>([^<]+)</code>", page.text)
        assert sub is not None
        assert sub.group(1).startswith("email|")
        anonymous = requests.get(
            base + "/", headers=BROWSER, allow_redirects=False, timeout=TIMEOUT
        )
        assert anonymous.status_code == 302


def test_wrapped_from_the_environment(tenant: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    use_gate_env(tenant, monkeypatch)
    hello = load_example("plain_wsgi/hello.py", monkeypatch)
    with serving(hello.make_app()) as base:
        _, page = sign_in(base, tenant, "grace@example.com", path="/any/path")
        assert "<strong id='remote-user'>grace@example.com</strong>" in page.text
