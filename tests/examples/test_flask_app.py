"""examples/flask_app: Flask's wsgi_app wrapped by the gate, served for real."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from .support import TIMEOUT, load_example, serving, sign_in, use_gate_env

pytestmark = pytest.mark.slow


def test_flask_views_see_the_signed_in_user(tenant: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    use_gate_env(tenant, monkeypatch)
    notes = load_example("flask_app/notes.py", monkeypatch)
    app = notes.create_app()
    with serving(app) as base:
        browser, page = sign_in(base, tenant, "linus@example.com")
        assert page.status_code == 200
        assert '<strong id="email">linus@example.com</strong>' in page.text
        me = browser.get(base + "/api/me", timeout=TIMEOUT)
        assert me.status_code == 200
        body = me.json()
        assert body["remote_user"] == "linus@example.com"
        assert body["email"] == "linus@example.com"
        assert body["sub"].startswith("email|")
        # Not signed in, an API client gets the gate's 401, never the view.
        anonymous = requests.get(
            base + "/api/me", headers={"Accept": "application/json"}, timeout=TIMEOUT
        )
        assert anonymous.status_code == 401
