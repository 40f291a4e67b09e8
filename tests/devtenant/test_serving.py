"""Serving the tenant on a thread: reading its outbox, and stopping it mid-stall."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from pwless_gate.devtenant import DevTenant, RunningTenant, serve_in_thread

from ..helpers import CLIENT_ID, CLIENT_SECRET, FakeClock
from .calls import (
    TIMEOUT,
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
