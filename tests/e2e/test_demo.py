"""``pwless-gate demo`` works with every method, its local tenant set up as the README asks."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from ..helpers import hidden
from ..procs import BIN, Process, free_port, wait_for_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Process]]:
    port = free_port()
    log = tmp_path_factory.mktemp("demo") / "demo.log"
    process = Process([str(BIN / "pwless-gate"), "demo", "--port", str(port)], log=log)
    try:
        wait_for_port(port, process.proc)
        yield f"http://127.0.0.1:{port}", process
    finally:
        process.stop()


def sent_to(process: Process, to: str, what: str) -> str:
    """The newest code or link the demo printed for ``to``."""
    pattern = re.compile(rf">>> \w+ to {re.escape(to)}: code (\d+)(?:\s+link (\S+))?")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found = pattern.findall(process.output())
        if found:
            code, link = found[-1]
            return str(code if what == "code" else link)
        time.sleep(0.05)
    raise AssertionError(f"nothing sent to {to}:\n{process.output()}")


def ask(base: str, browser: requests.Session, **fields: str) -> requests.Response:
    page = browser.get(f"{base}/_gate/login", timeout=10)
    form = {"csrf_token": hidden(page.text, "csrf_token"), "next": "/", **fields}
    answer = browser.post(f"{base}/_gate/login", data=form, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer


def signed_in_as(base: str, browser: requests.Session) -> str:
    page = browser.get(f"{base}/", timeout=10, allow_redirects=False)
    assert page.status_code == 200, page.text
    match = re.search(r'id="remote-user">([^<]*)<', page.text)
    assert match is not None
    return match.group(1)


@pytest.mark.parametrize(
    ("field", "who", "send"),
    [
        ("email", "ada@example.com", "code"),
        ("phone_number", "+14155550123", "code"),
    ],
    ids=["email-code", "sms-code"],
)
def test_codes(demo: tuple[str, Process], field: str, who: str, send: str) -> None:
    base, process = demo
    browser = requests.Session()
    fields = {field: who} if field == "phone_number" else {field: who, "send": send}
    sent = ask(base, browser, **fields)

    done = browser.post(
        f"{base}/_gate/verify",
        data={
            "csrf_token": hidden(sent.text, "csrf_token"),
            "tx": hidden(sent.text, "tx"),
            "code": sent_to(process, who, "code"),
        },
        timeout=10,
        allow_redirects=False,
    )

    assert done.status_code == 303, done.text
    assert signed_in_as(base, browser) == who


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_magic_link(demo: tuple[str, Process], host: str) -> None:
    """The link leads back to the address the person opened, either name of loopback."""
    base, process = demo
    base = base.replace("127.0.0.1", host)
    who = f"bo-{host}@example.com"
    browser = requests.Session()
    ask(base, browser, email=who, send="link")

    # The link goes to the demo's tenant, which sends the browser back to the gate.
    landing = browser.get(sent_to(process, who, "link"), timeout=10)
    assert landing.url.startswith(f"{base}/_gate/callback"), landing.text
    done = browser.post(
        f"{base}/_gate/callback",
        data={
            name: hidden(landing.text, name) for name in ("csrf_token", "code", "state", "shown_at")
        },
        timeout=10,
        allow_redirects=False,
    )

    assert done.status_code == 303, done.text
    assert signed_in_as(base, browser) == who


def test_a_port_in_use_says_so_without_the_banner(tmp_path: Any) -> None:
    """Nothing tells the person to open a page another program answers."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    with taken:
        port = taken.getsockname()[1]
        done = subprocess.run(
            [str(BIN / "pwless-gate"), "demo", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=tmp_path,
            env={**os.environ, "PWLESS_GATE_STATE_DIR": str(tmp_path)},
        )
    assert done.returncode == 1
    assert "open:" not in done.stdout
    assert f"Port {port} is in use" in done.stderr
