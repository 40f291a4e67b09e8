"""One IP cannot lock a person out: real gunicorn, three workers, counters in Redis.

Two client IPs are played on loopback with ``X-Forwarded-For`` and
``trusted_proxies=1``; the local tenant sees the same IPs (``auth0-forwarded-for``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import requests

from ..helpers import CLIENT_ID, CLIENT_SECRET, hidden, http_sign_in, wrong_code
from ..procs import gunicorn

pytestmark = pytest.mark.slow

ATTACKER = "203.0.113.66"
BOB = "198.51.100.7"

Start = Callable[..., str]


@pytest.fixture
def start_gate(tenant: Any, redis_url: str, tmp_path: Path) -> Iterator[Start]:
    """Start gunicorn (three workers sharing Redis) serving the gated whoami app."""
    with ExitStack() as servers:

        def start(**settings: str) -> str:
            env = {
                "PWLESS_GATE_AUTH0_DOMAIN": tenant.url,
                "PWLESS_GATE_CLIENT_ID": CLIENT_ID,
                "PWLESS_GATE_CLIENT_SECRET": CLIENT_SECRET,
                "PWLESS_GATE_ALLOWED_DOMAINS": "example.com",
                "PWLESS_GATE_REDIS_URL": redis_url,
                "PWLESS_GATE_TRUSTED_PROXIES": "1",
                **{f"PWLESS_GATE_{name.upper()}": value for name, value in settings.items()},
            }
            base, _ = servers.enter_context(
                gunicorn(
                    'pwless_gate:gate("tests.apps:whoami")',
                    workers=3,
                    env=env,
                    log=tmp_path / "gunicorn.log",
                )
            )
            return str(base)

        yield start


class Client:
    """A browser whose every request comes from ``ip`` (as the trusted proxy says)."""

    def __init__(self, base: str, ip: str) -> None:
        self.base = base
        self.ip = ip
        self.session = requests.Session()
        self.session.headers["X-Forwarded-For"] = ip

    def send(self, email: str) -> requests.Response:
        page = self.session.get(f"{self.base}/_gate/login", timeout=10)
        return self.session.post(
            f"{self.base}/_gate/login",
            data={"csrf_token": hidden(page.text, "csrf_token"), "email": email, "next": "/"},
            timeout=10,
        )

    def verify(self, code_page: requests.Response, code: str, *, ip: str = "") -> int:
        answer = self.session.post(
            f"{self.base}/_gate/verify",
            data={
                "csrf_token": hidden(code_page.text, "csrf_token"),
                "tx": hidden(code_page.text, "tx"),
                "code": code,
            },
            headers={"X-Forwarded-For": ip or self.ip},
            allow_redirects=False,
            timeout=10,
        )
        if answer.status_code == 429:
            assert int(answer.headers["Retry-After"]) >= 1
        return answer.status_code


def test_an_attacker_on_one_ip_cannot_lock_bob_out(start_gate: Start, tenant: Any) -> None:
    # The default limits, but per sign-in off: the per-identifier limits must stop this.
    base = start_gate(throttle_verify_per_login="off")
    attacker = Client(base, ATTACKER)
    sends = [attacker.send("bob@example.com") for _ in range(6)]
    assert [s.status_code for s in sends] == [200] * 5 + [429]  # 5/900 per identifier and IP
    wrong = wrong_code(tenant.last_message(to="bob@example.com").code)
    tries = [attacker.verify(sends[4], wrong) for _ in range(20)]
    assert tries == [400] * 10 + [429] * 10  # 10/900 per identifier and IP

    browser, done = http_sign_in(base, tenant, "bob@example.com", headers={"X-Forwarded-For": BOB})
    assert done.status_code == 303, done.text
    seen = browser.get(f"{base}/", headers={"X-Forwarded-For": BOB}, timeout=10)
    assert seen.json()["remote_user"] == "bob@example.com"
    # Bob signing in reset nothing of the attacker's.
    assert attacker.verify(sends[4], wrong) == 429
    assert attacker.send("bob@example.com").status_code == 429


def test_the_total_per_identifier_stops_a_guesser_with_many_ips(
    start_gate: Start, tenant: Any
) -> None:
    base = start_gate(
        throttle_verify_per_login="off",
        throttle_verify_per_identifier="2/900",
        throttle_verify_per_identifier_total="6/3600",
    )
    guesser = Client(base, "203.0.113.1")
    sent = guesser.send("bob@example.com")
    assert sent.status_code == 200
    wrong = wrong_code(tenant.last_message(to="bob@example.com").code)
    tries = {
        ip: [guesser.verify(sent, wrong, ip=ip) for _ in range(n)]
        for ip, n in (("203.0.113.1", 4), ("203.0.113.2", 2), ("203.0.113.3", 2))
    }
    # Two per IP; the two refused from .1 did not count against the total.
    assert tries == {
        "203.0.113.1": [400, 400, 429, 429],
        "203.0.113.2": [400, 400],
        "203.0.113.3": [400, 400],
    }
    # Six counted: a fresh IP is refused by the ceiling per identifier alone.
    assert guesser.verify(sent, wrong, ip="203.0.113.4") == 429
    assert guesser.verify(sent, wrong, ip="203.0.113.5") == 429
