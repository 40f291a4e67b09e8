"""Fixtures for the local tenant's tests: tenants with non-default settings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pwless_gate.devtenant import DevTenant, RunningTenant, serve_in_thread

from ..helpers import CLIENT_ID, CLIENT_SECRET, FakeClock
from .calls import CALLBACK, MakeTenant


@pytest.fixture
def make_tenant(clock: FakeClock) -> Iterator[MakeTenant]:
    """Build and serve a tenant with non-default settings; stopped after the test."""
    running: list[RunningTenant] = []

    def make(**options: Any) -> RunningTenant:
        options.setdefault("clock", clock)
        app = DevTenant(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, **options)
        running.append(serve_in_thread(app))
        return running[-1]

    yield make
    for tenant in running:
        tenant.stop()


@pytest.fixture
def link_tenant(tenant: RunningTenant) -> RunningTenant:
    """The conftest tenant, with the callback magic links lead to allowed."""
    tenant.app.allow_callback(CALLBACK)
    return tenant
