"""Real tools through the gate with app tokens: pip, git, a CalDAV client and curl.

Each tool's server runs in gunicorn behind the gate on loopback: pypiserver,
dulwich's smart HTTP server and Radicale (``[auth] type = remote_user``). A
person signs in over HTTP, makes a token on the tokens page, and gives it to
the tool the way its users know: in pip's index URL or a ``.netrc``, as git's
password, as the CalDAV client's password, as curl's Bearer header. Without
a token the tools get 401, not the sign-in page.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from ..helpers import CLIENT_ID, CLIENT_SECRET, hidden, http_sign_in
from ..procs import gunicorn, require_binary

pytestmark = pytest.mark.slow

EMAIL = "ada@example.com"
DATA = Path(__file__).resolve().parents[1] / "data"
PACKAGE = "hello-gate"

Gate = Callable[..., AbstractContextManager[str]]


@pytest.fixture
def gate(tenant: Any, tmp_path: Path) -> Gate:
    """Starts gunicorn with the gate (app tokens on) around ``app`` (an app string of
    :mod:`tests.apps`) serving ``root``; yields the base URL."""

    @contextmanager
    def start(app: str, root: Path) -> Iterator[str]:
        env = {
            "PWLESS_GATE_AUTH0_DOMAIN": tenant.url,
            "PWLESS_GATE_CLIENT_ID": CLIENT_ID,
            "PWLESS_GATE_CLIENT_SECRET": CLIENT_SECRET,
            "PWLESS_GATE_ALLOWED_DOMAINS": "example.com",
            "PWLESS_GATE_SECRET_KEY": "k" * 32,
            "PWLESS_GATE_STORE": f"sqlite://{tmp_path / 'gate.sqlite3'}",
            "PWLESS_GATE_APP_TOKENS": "true",
            "TOOL_ROOT": str(root),
        }
        with gunicorn(
            f'pwless_gate:gate("tests.apps:{app}()")',
            workers=2,
            env=env,
            log=tmp_path / "gunicorn.log",
        ) as (url, _):
            yield url

    return start


def app_token(base: str, tenant: Any, name: str = "a tool") -> str:
    """Sign in over HTTP as a browser, make a token on the tokens page, return it."""
    browser, done = http_sign_in(base, tenant, EMAIL)
    assert done.status_code == 303, done.text
    page = browser.get(f"{base}/_gate/tokens", timeout=10)
    assert page.status_code == 200, page.text
    made = browser.post(
        f"{base}/_gate/tokens",
        data={"csrf_token": hidden(page.text, "csrf_token"), "name": name, "days": "7"},
        timeout=10,
    )
    assert made.status_code == 200, made.text
    found = re.search(r'value="(pwg_[0-9A-Za-z]+)"', made.text)
    assert found is not None
    return found.group(1)


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a tool: HOME in ``home``, none of this machine's pip or git
    settings (no mirror, no global config), no credential helpers."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "GIT_", "NETRC", "PWLESS_GATE_"))
    }
    env.update(
        HOME=str(home),
        PIP_CONFIG_FILE=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        **extra,
    )
    return env


def run(args: list[str], env: dict[str, str], cwd: Path | None = None) -> str:
    done = subprocess.run(
        args, env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"{args[:3]} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


# -- pip and pypiserver ----------------------------------------------------------------


def build_wheel(where: Path) -> None:
    """A tiny pure-Python wheel of ``hello-gate`` 1.0 in ``where``."""
    files = {
        "hello_gate/__init__.py": b'GREETING = "through the gate"\n',
        "hello_gate-1.0.dist-info/METADATA": (
            b"Metadata-Version: 2.1\nName: hello-gate\nVersion: 1.0\n"
        ),
        "hello_gate-1.0.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append("hello_gate-1.0.dist-info/RECORD,,")
    files["hello_gate-1.0.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    with zipfile.ZipFile(where / "hello_gate-1.0-py3-none-any.whl", "w") as wheel:
        for name, data in files.items():
            wheel.writestr(name, data)


def pip_install(index: str, target: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-cache-dir",
            "--disable-pip-version-check",
            "--target",
            str(target),
            "--index-url",
            index,
            PACKAGE,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def pypi(gate: Gate, tmp_path: Path) -> Iterator[str]:
    packages = tmp_path / "packages"
    packages.mkdir()
    build_wheel(packages)
    with gate("pypi", packages) as base:
        yield base


@pytest.mark.parametrize(
    "userinfo",
    [
        pytest.param("__token__:{token}", id="token-user"),
        pytest.param("{token}", id="token-as-user-name"),  # the form pip's docs show
    ],
)
def test_pip_with_a_token_in_the_index_url(
    pypi: str, tenant: Any, tmp_path: Path, userinfo: str
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(home)
    host = pypi.removeprefix("http://")
    refused = pip_install(f"http://{host}/simple/", tmp_path / "nothing", env)
    assert refused.returncode != 0
    assert "401" in refused.stdout + refused.stderr  # an honest refusal, not "no versions"

    token = app_token(pypi, tenant, "pip on my laptop")
    credentials = userinfo.format(token=token)
    installed = pip_install(f"http://{credentials}@{host}/simple/", tmp_path / "site", env)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert "through the gate" in (tmp_path / "site" / "hello_gate" / "__init__.py").read_text()


def test_pip_with_a_netrc(pypi: str, tenant: Any, tmp_path: Path) -> None:
    token = app_token(pypi, tenant, "pip with netrc")
    home = tmp_path / "home"
    home.mkdir()
    netrc = home / ".netrc"
    netrc.write_text(f"machine 127.0.0.1\nlogin {EMAIL}\npassword {token}\n")
    netrc.chmod(0o600)
    installed = pip_install(f"{pypi}/simple/", tmp_path / "site", clean_env(home))
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert (tmp_path / "site" / "hello_gate" / "__init__.py").exists()


# -- Java -------------------------------------------------------------------------------------


def test_java_httpurlconnection_answers_the_basic_challenge(
    pypi: str, tenant: Any, tmp_path: Path
) -> None:
    """Java's HttpURLConnection asks for ``text/html`` first, as older browsers do; it
    gets the Basic challenge (not the sign-in page), and its Authenticator answers it
    with the token."""
    java = shutil.which("java")
    if java is None:
        pytest.skip("java is not installed (optional, also under CI: the Java client test runs it)")
    token = app_token(pypi, tenant, "a Java tool")
    done = subprocess.run(
        [java, str(DATA / "TokenClient.java"), f"{pypi}/simple/", token],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].lower() == "asked scheme=basic", done.stdout
    assert lines[1] == f"status=200 url={pypi}/simple/", done.stdout
    assert PACKAGE in done.stdout


# -- git and dulwich ---------------------------------------------------------------------


def test_git_clones_and_pushes_with_a_token(gate: Gate, tenant: Any, tmp_path: Path) -> None:
    git = require_binary("git", "the git client test runs it")
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(
        home,
        GIT_AUTHOR_NAME="Ada",
        GIT_AUTHOR_EMAIL=EMAIL,
        GIT_COMMITTER_NAME="Ada",
        GIT_COMMITTER_EMAIL=EMAIL,
    )
    seed = tmp_path / "seed"
    run([git, "init", "-q", "-b", "main", str(seed)], env)
    (seed / "README").write_text("first\n")
    run([git, "add", "README"], env, cwd=seed)
    run([git, "commit", "-q", "-m", "first"], env, cwd=seed)
    repos = tmp_path / "repos"
    repos.mkdir()
    run([git, "clone", "-q", "--bare", str(seed), str(repos / "tool.git")], env)

    with gate("git_repos", repos) as base:
        host = base.removeprefix("http://")
        refused = subprocess.run(
            [git, "clone", f"http://{host}/tool.git", str(tmp_path / "refused")],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert refused.returncode != 0
        # git asks for a user name only after a 401 with a Basic challenge.
        assert "could not read Username" in refused.stderr

        token = app_token(base, tenant, "git")
        work = tmp_path / "work"
        run([git, "clone", "-q", f"http://__token__:{token}@{host}/tool.git", str(work)], env)
        assert (work / "README").read_text() == "first\n"
        (work / "NEWS").write_text("pushed through the gate\n")
        run([git, "add", "NEWS"], env, cwd=work)
        run([git, "commit", "-q", "-m", "second"], env, cwd=work)
        run([git, "push", "-q", "origin", "main"], env, cwd=work)

    log = run([git, "--git-dir", str(repos / "tool.git"), "log", "--format=%s", "main"], env)
    assert log.split() == ["second", "first"]


# -- CalDAV and Radicale -------------------------------------------------------------------


def test_a_caldav_client_makes_an_event(gate: Gate, tenant: Any, tmp_path: Path) -> None:
    import caldav

    root = tmp_path / "calendars"
    root.mkdir()
    with gate("calendars", root) as base:
        token = app_token(base, tenant, "calendar on my phone")
        with caldav.DAVClient(url=f"{base}/", username="__token__", password=token) as client:
            principal = client.principal()
            calendar = principal.make_calendar(name="Team")
            calendar.save_event(
                "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//EN\r\n"
                "BEGIN:VEVENT\r\nUID:gate-1@example.com\r\nDTSTAMP:20260301T090000Z\r\n"
                "DTSTART:20260302T090000Z\r\nDTEND:20260302T100000Z\r\n"
                "SUMMARY:Through the gate\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
            )
            [event] = calendar.events()
            assert "Through the gate" in event.data
        wrong = caldav.DAVClient(url=f"{base}/", username="__token__", password="pwg_x")
        with wrong, pytest.raises(caldav.lib.error.AuthorizationError):
            wrong.principal()
    stored = [p for p in root.rglob("*.ics") if ".Radicale.cache" not in p.parts]
    assert len(stored) == 1
    assert EMAIL in str(stored[0])  # Radicale filed it under the owner, from REMOTE_USER


# -- curl ------------------------------------------------------------------------------------


def test_curl_with_a_bearer_token(gate: Gate, tenant: Any, tmp_path: Path) -> None:
    curl = require_binary("curl", "the curl test runs it")
    with gate("pypi", tmp_path) as base:
        token = app_token(base, tenant)
        answer = subprocess.run(
            [curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", f"{base}/simple/"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert answer.stdout == "401"
        answer = subprocess.run(
            [curl, "-sS", "-f", "-H", f"Authorization: Bearer {token}", f"{base}/simple/"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        assert "Simple Index" in answer.stdout or "<html" in answer.stdout.lower()
        by_requests = requests.get(
            f"{base}/_gate/auth", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert by_requests.status_code == 202
        assert by_requests.headers["X-Auth-Request-User"] == EMAIL
