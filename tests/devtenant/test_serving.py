"""Serving the tenant on a thread: reading its outbox, and stopping it mid-stall."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import requests

from pwless_gate.devtenant import DevTenant, RunningTenant, serve_in_thread

from ..helpers import CLIENT_ID, CLIENT_SECRET, FakeClock
from ..procs import BIN, Process, free_port, wait_for_port
from .calls import (
    CALLBACK,
    EMAIL,
    TIMEOUT,
    follow,
    start_email,
)


def test_last_message_filters_by_recipient(tenant: RunningTenant) -> None:
    with pytest.raises(LookupError):
        tenant.last_message()
    start_email(tenant, "ada@example.com")
    start_email(tenant, "bob@example.com")

    assert tenant.last_message().to == "bob@example.com"
    assert tenant.last_message("ADA@example.com").to == "ada@example.com"
    with pytest.raises(LookupError):
        tenant.last_message("carol@example.com")


def test_stop_cuts_a_stalled_fault_short(clock: FakeClock) -> None:
    app = DevTenant(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, clock=clock, fault_delay=600)
    running = serve_in_thread(app)
    app.add_fault("/oauth/token", "timeout")
    answers: list[int] = []

    def call() -> None:
        response = requests.post(f"{running.url}/oauth/token", data={}, timeout=30)
        answers.append(response.status_code)

    caller = threading.Thread(target=call)
    caller.start()
    faults_url = f"{running.url}/_dev/faults"
    for _ in range(1000):  # until the call has taken the fault and is stalled in it
        if not requests.get(faults_url, timeout=TIMEOUT).json()["faults"]:
            break
        time.sleep(0.01)
    running.stop()
    caller.join(timeout=10)

    assert not caller.is_alive()
    assert answers == [400]


@pytest.mark.parametrize("switched", [False, True], ids=["defaults", "switched-on"])
def test_command_line_switches(tmp_path: Path, switched: bool) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [str(BIN / "pwless-gate"), "dev-tenant", "--port", str(port)]
    args += ["--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET]
    args += ["--allowed-callback", CALLBACK]
    if switched:
        args += ["--trust-forwarded-for", "--allow-magiclink-verify-without-session"]
        args += ["--code-lifetime", "60", "--authorization-code-lifetime", "30"]
    process = Process(args, log=tmp_path / "tenant.log")
    try:
        wait_for_port(port, process.proc)
        statuses = []
        for n in range(51):  # the start limit spent from one forwarded IP, then another
            statuses.append(
                requests.post(
                    f"{url}/passwordless/start",
                    json={
                        "client_id": CLIENT_ID,
                        "client_secret": CLIENT_SECRET,
                        "connection": "email",
                        "email": EMAIL,
                        "authParams": {"redirect_uri": CALLBACK, "response_type": "code"},
                    },
                    headers={"auth0-forwarded-for": f"198.51.100.{1 + n // 50}"},
                    timeout=TIMEOUT,
                ).status_code
            )
        link = requests.get(f"{url}/_dev/outbox", timeout=TIMEOUT).json()["messages"][0]["link"]
        followed = follow(link)
    finally:
        process.stop()

    if switched:
        assert statuses[-1] == 200
        assert followed.status_code == 302
        assert "trust auth0-forwarded-for: on; magic links without a session: on" in (
            process.output()
        )
        assert "code lifetime 60 s, authorization code lifetime 30 s" in process.output()
    else:
        assert statuses[-1] == 429
        assert followed.status_code == 403
        assert "trust auth0-forwarded-for: off; magic links without a session: off" in (
            process.output()
        )
