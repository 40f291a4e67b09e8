"""examples/paste: the gate loaded by PasteDeploy from gate.ini, served for real."""

from __future__ import annotations

import sys
from typing import Any

import pytest
import requests
from paste.deploy import loadapp

from pwless_gate import PasswordlessGate

from ..helpers import hidden
from .support import EXAMPLES, TIMEOUT, serving, sign_in, use_gate_env

pytestmark = pytest.mark.slow

HERE = EXAMPLES / "paste"


@pytest.fixture
def pipeline(tenant: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    use_gate_env(tenant, monkeypatch)
    # `use = call:inventory:app_factory` imports from sys.path, as with gunicorn --chdir.
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.delitem(sys.modules, "inventory", raising=False)
    return loadapp("config:gate.ini", relative_to=str(HERE))


def test_settings_come_from_the_ini_section(pipeline: Any) -> None:
    assert isinstance(pipeline, PasswordlessGate)
    config = pipeline.config
    assert config.brand_name == "Inventory"
    assert config.allowed_domains == (".example.com",)
    assert config.public_paths == ("/health",)
    assert config.session_lifetime == 28800


def test_login_through_the_pipeline(pipeline: Any, tenant: Any) -> None:
    with serving(pipeline) as base:
        health = requests.get(base + "/health", allow_redirects=False, timeout=TIMEOUT)
        assert (health.status_code, health.text) == (200, "ok\n")

        _, page = sign_in(base, tenant, "barbara@eng.example.com", path="/stock")
        assert page.status_code == 200
        assert "<h1>Stock levels</h1>" in page.text
        assert '<strong id="remote-user">barbara@eng.example.com</strong>' in page.text

        # allowed_domains from the section: an outsider is sent no code at all.
        outsider = requests.Session()
        login_page = outsider.get(base + "/_gate/login", timeout=TIMEOUT)
        assert "Inventory" in login_page.text
        refused = outsider.post(
            base + "/_gate/login",
            data={
                "csrf_token": hidden(login_page.text, "csrf_token"),
                "email": "eve@elsewhere.org",
            },
            timeout=TIMEOUT,
        )
        assert refused.status_code == 200
        with pytest.raises(LookupError):
            tenant.last_message(to="eve@elsewhere.org")
