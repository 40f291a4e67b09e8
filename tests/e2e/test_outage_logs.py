"""When Auth0 or Redis fails, the log names which one, where, and how.

Real failures only: a tenant address where nothing listens, a redis-server
that was started and then stopped.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from pwless_gate import PasswordlessGate

from ..helpers import FakeClock, GateClient, RecordingApp, gate_config, hidden
from ..procs import RedisServer, free_port, require_binary

pytestmark = pytest.mark.slow


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def start(client: GateClient, email: str) -> Any:
    page = client.get("/_gate/login").get_data(as_text=True)
    return client.post(
        "/_gate/login", data={"csrf_token": hidden(page, "csrf_token"), "email": email}
    )


def test_an_unreachable_tenant_is_logged_with_its_host_and_the_error_class(
    caplog: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    closed = f"127.0.0.1:{free_port()}"  # nothing listens: the connection is refused
    gate = PasswordlessGate(RecordingApp(), gate_config(f"http://{closed}"), clock=clock)
    with caplog.at_level(logging.WARNING, logger="pwless_gate"):
        answer = start(GateClient(gate), "ann@example.com")
    assert answer.status_code == 503
    logged = [m for m in warnings(caplog) if f"Auth0 at {closed} unreachable" in m]
    assert len(logged) == 1, warnings(caplog)
    assert "ConnectionError" in logged[0]
    assert "/passwordless/start" in logged[0]


def test_a_stopped_redis_is_logged_with_its_address_and_the_error_class(
    caplog: pytest.LogCaptureFixture, tenant: Any, clock: FakeClock, tmp_path: Path
) -> None:
    server = RedisServer(require_binary("redis-server", "Redis tests"), tmp_path)
    server.start()
    try:
        gate = PasswordlessGate(
            RecordingApp(),
            gate_config(tenant.url, redis_url=server.url, redis_timeout=0.5),
            clock=clock,
        )
        signed_in = GateClient(gate)
        started = start(signed_in, "bea@example.com")
        code = tenant.last_message(to="bea@example.com").code
        page = started.get_data(as_text=True)
        done = signed_in.post(
            "/_gate/verify",
            data={"csrf_token": hidden(page, "csrf_token"), "tx": hidden(page, "tx"), "code": code},
        )
        assert done.status_code == 303
        gate.sessions.forget(signed_in.get_cookie("pwless_gate_session").value)
        server.stop()

        where = f"Redis at 127.0.0.1:{server.port}"
        with caplog.at_level(logging.WARNING, logger="pwless_gate"):
            assert signed_in.get("/").status_code == 503  # the session lookup
            assert start(GateClient(gate), "cid@example.com").status_code == 503  # the throttle
        logged = [m for m in warnings(caplog) if where in m]
        assert len(logged) == 2, warnings(caplog)
        assert all("ConnectionError" in m for m in logged)
    finally:
        server.stop()
