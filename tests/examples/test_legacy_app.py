"""examples/legacy_app: an untouched WSGI module wrapped only by gunicorn's factory string."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from ..helpers import BROWSER
from ..procs import gunicorn
from .support import EXAMPLES, TIMEOUT, gunicorn_env, sign_in

pytestmark = pytest.mark.slow

SPOOF = {"Remote-User": "boss@example.com", "X-Forwarded-User": "boss@example.com"}


@pytest.fixture
def legacy(tenant: Any, tmp_path: Path) -> Iterator[str]:
    with gunicorn(
        "--chdir",
        str(EXAMPLES / "legacy_app"),
        'pwless_gate:gate("legacy_tool:application")',
        env=gunicorn_env(tenant, tmp_path),
        log=tmp_path / "gunicorn.log",
    ) as (base, _):
        yield base


def test_legacy_tool_sees_remote_user(legacy: str, tenant: Any) -> None:
    base = legacy
    anonymous = requests.get(
        base + "/orders", headers={**SPOOF, **BROWSER}, allow_redirects=False, timeout=TIMEOUT
    )
    assert anonymous.status_code == 302
    browser, page = sign_in(base, tenant, "margaret@example.com", path="/orders")
    assert page.status_code == 200
    assert '<strong id="remote-user">margaret@example.com</strong>' in page.text
    # A signed-in client cannot claim to be someone else either.
    spoofed = browser.get(base + "/orders", headers=SPOOF, timeout=TIMEOUT)
    assert '<strong id="remote-user">margaret@example.com</strong>' in spoofed.text
    assert "boss@" not in spoofed.text
