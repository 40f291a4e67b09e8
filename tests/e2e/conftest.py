from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pwless_gate import PasswordlessGate

from ..conftest import FakeClock
from ..helpers import Harness, RecordingApp, gate_config


@pytest.fixture
def make_harness(tenant: Any, clock: FakeClock) -> Callable[..., Harness]:
    def make(**overrides: Any) -> Harness:
        app = RecordingApp()
        gate = PasswordlessGate(app, gate_config(tenant.url, **overrides), clock=clock)
        return Harness(gate=gate, app=app, tenant=tenant)

    return make


@pytest.fixture
def harness(make_harness: Callable[..., Harness]) -> Harness:
    return make_harness()
