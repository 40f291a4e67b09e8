"""examples/django_app: RemoteUserMiddleware fed by the gate, under real gunicorn."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import requests

from ..helpers import BROWSER
from ..procs import BIN, gunicorn
from .support import EXAMPLES, TIMEOUT, gunicorn_env, sign_in

pytestmark = pytest.mark.slow

PROJECT = EXAMPLES / "django_app"


@pytest.fixture
def intranet(tenant: Any, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The project on gunicorn, its sqlite database migrated in ``tmp_path``."""
    database = tmp_path / "intranet.sqlite3"
    env = {**gunicorn_env(tenant, tmp_path), "DJANGO_SQLITE_PATH": str(database)}
    subprocess.run(
        [str(BIN / "python"), str(PROJECT / "manage.py"), "migrate", "--noinput", "-v", "0"],
        env={**os.environ, **env},
        cwd=PROJECT,
        check=True,
        timeout=60,
    )
    with gunicorn(
        "--chdir",
        str(PROJECT),
        'pwless_gate:gate("intranet.wsgi:application")',
        env=env,
        log=tmp_path / "gunicorn.log",
    ) as (base, _):
        yield base, database


def test_request_user_is_the_signed_in_email(intranet: tuple[str, Path], tenant: Any) -> None:
    base, database = intranet
    anonymous = requests.get(
        base + "/",
        headers={"Remote-User": "admin", **BROWSER},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"].startswith("/_gate/login")

    browser, page = sign_in(base, tenant, "katherine@example.com")
    assert page.status_code == 200
    assert '<strong id="username">katherine@example.com</strong>' in page.text
    me = browser.get(base + "/me.json", timeout=TIMEOUT).json()
    assert me["username"] == "katherine@example.com"
    assert me["is_authenticated"] is True
    assert me["sub"].startswith("email|")
    # RemoteUserBackend created exactly one Django user, named after the email.
    with closing(sqlite3.connect(database)) as db:
        users = db.execute("SELECT username FROM auth_user").fetchall()
    assert users == [("katherine@example.com",)]
