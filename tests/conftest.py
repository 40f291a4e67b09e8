"""Fixtures shared by the whole suite: a controllable clock and a local tenant."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from pwless_gate.devtenant import DevTenant, RunningTenant, serve_in_thread

CLIENT_ID = "gate-test-client"
CLIENT_SECRET = "gate-test-secret-0123456789abcdef"


class FakeClock:
    """A clock tests move by hand; starts at the real time so tokens look normal."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def tenant(clock: FakeClock) -> Iterator[RunningTenant]:
    """A local Auth0-compatible tenant on a free loopback port, sharing ``clock``."""
    app = DevTenant(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        clock=clock,
        allowed_callbacks=["http://localhost/_gate/callback"],
        allowed_logout_urls=["http://localhost/", "http://localhost/_gate/logout"],
    )
    with serve_in_thread(app) as running:
        yield running
