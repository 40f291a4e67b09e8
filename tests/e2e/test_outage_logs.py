"""When Auth0 or Redis fails, the log names which one, where, and how.

Real failures only: a tenant address where nothing listens, a redis-server
that was started and then stopped.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import urllib3

from pwless_gate import PasswordlessGate

from ..helpers import FakeClock, GateClient, RecordingApp, gate_config, hidden
from ..procs import RedisServer, dev_tenant, free_port, require_binary

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


def test_each_failure_to_reach_a_stopped_tenant_is_one_line_in_the_log(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """urllib3 warned before trying a refused connection again ("Retrying (Retry(total=0,
    ...)) after connection broken by ..."): two lines per failure, one of them not the
    gate's. Every logger is read here, at WARNING."""
    with dev_tenant(tmp_path) as url:
        gate = PasswordlessGate(RecordingApp(), gate_config(url))
        client = GateClient(gate)
        started = start(client, "ann@example.com")
        assert started.status_code == 200
    # The tenant has stopped: nothing listens on its port any more.
    page = started.get_data(as_text=True)
    with caplog.at_level(logging.WARNING):
        assert start(GateClient(gate), "bea@example.com").status_code == 503
        sent = warnings(caplog)
        caplog.clear()
        verify = client.post(
            "/_gate/verify",
            data={
                "csrf_token": hidden(page, "csrf_token"),
                "tx": hidden(page, "tx"),
                "code": "123456",
            },
        )
        assert verify.status_code == 503
        verified = warnings(caplog)
    host = url.split("://", 1)[1]
    assert len(sent) == 1, sent
    assert f"Auth0 at {host} unreachable" in sent[0]
    assert "/passwordless/start" in sent[0]
    assert len(verified) == 1, verified
    assert f"Auth0 at {host} unreachable" in verified[0]
    assert "/oauth/token" in verified[0]


def test_urllib3_still_warns_about_other_callers_retries(
    caplog: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    """Only the gate's own retries are kept out of the log, in the same thread too."""
    closed = f"127.0.0.1:{free_port()}"
    gate = PasswordlessGate(RecordingApp(), gate_config(f"http://{closed}"), clock=clock)
    pool = urllib3.HTTPConnectionPool("127.0.0.1", int(closed.rsplit(":", 1)[1]))
    with caplog.at_level(logging.WARNING):
        assert start(GateClient(gate), "ann@example.com").status_code == 503
        with pytest.raises(urllib3.exceptions.MaxRetryError):
            pool.urlopen("GET", "/other", retries=urllib3.Retry(connect=1, total=1))
    retrying = [r for r in caplog.records if r.getMessage().startswith("Retrying")]
    assert len(retrying) == 1
    assert retrying[0].name == "urllib3.connectionpool"
    assert "/other" in retrying[0].getMessage()


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
