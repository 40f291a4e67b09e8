"""Auth0 refusing the gate's own client credentials: a misconfiguration, never a person refused.

At ``/oauth/token`` Auth0 answers bad credentials with ``401 access_denied``
("Unauthorized"), the very ``error`` a rule's refusal of a person carries
(with 403). The gate goes by the status: a 5xx page for the person, a log
line naming the settings to check, and nothing in the audit trail that
blames the person.

The sign-in starts with the right credentials and finishes on a gate with
bad ones (same ``secret_key``, so the browser's cookies and forms stay
valid), as after a client secret rotated at Auth0 but not in the gate.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import pytest

from pwless_gate import PasswordlessGate

from ..helpers import FakeClock, Harness, RecordingApp, gate_config

REFUSED = [{"client_secret": "rotated-at-auth0"}, {"client_id": "someone-else"}]


class Switch:
    """A WSGI app that is one gate or another, whichever ``current`` names."""

    def __init__(self, **gates: PasswordlessGate) -> None:
        self.gates = gates
        self.current = next(iter(gates))

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        return self.gates[self.current](environ, start_response)


def harness_for(tenant: Any, clock: FakeClock, bad: dict[str, str], **config: Any) -> Harness:
    app = RecordingApp()
    good = PasswordlessGate(app, gate_config(tenant.url, **config), clock=clock)
    broken = PasswordlessGate(app, gate_config(tenant.url, **config, **bad), clock=clock)
    return Harness(gate=Switch(good=good, broken=broken), app=app, tenant=tenant)  # type: ignore[arg-type]


def assert_blames_the_configuration(caplog: pytest.LogCaptureFixture, tenant: Any) -> None:
    audit = [r for r in caplog.records if r.name == "pwless_gate.audit"]
    for record in audit:
        assert record.event != "refused_by_allow_list"  # type: ignore[attr-defined]
        assert record.reason not in ("access_denied", "blocked")  # type: ignore[attr-defined]
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, errors
    for name in ("PWLESS_GATE_CLIENT_ID", "PWLESS_GATE_CLIENT_SECRET", tenant.url, "401"):
        assert name in errors[0]


@pytest.mark.parametrize("bad", REFUSED, ids=["wrong-secret", "unknown-client"])
def test_a_refused_code_exchange_is_the_misconfiguration_page(
    tenant: Any, clock: FakeClock, caplog: pytest.LogCaptureFixture, bad: dict[str, str]
) -> None:
    harness = harness_for(tenant, clock, bad)
    started = harness.start("ada@example.com")
    assert started.status_code == 200
    harness.gate.current = "broken"  # type: ignore[attr-defined]

    with caplog.at_level(logging.INFO):
        answer = harness.submit_code(started, tenant.last_message().code)

    text = answer.get_data(as_text=True)
    assert answer.status_code == 502
    assert "Sign-in is misconfigured" in text
    assert "may not sign in" not in text  # not the page for a person refused
    assert harness.client.get_cookie("pwless_gate_session") is None
    assert harness.app.calls == []
    assert_blames_the_configuration(caplog, tenant)


@pytest.mark.parametrize("bad", REFUSED, ids=["wrong-secret", "unknown-client"])
def test_a_refused_link_exchange_is_the_misconfiguration_page(
    tenant: Any, clock: FakeClock, caplog: pytest.LogCaptureFixture, bad: dict[str, str]
) -> None:
    harness = harness_for(tenant, clock, bad, methods=("email-link",))
    assert harness.start("bo@example.com", send="link").status_code == 200
    landing = harness.follow_link(tenant.last_message().link)
    harness.gate.current = "broken"  # type: ignore[attr-defined]

    with caplog.at_level(logging.INFO):
        answer = harness.continue_link(landing)

    assert answer.status_code == 502
    assert "Sign-in is misconfigured" in answer.get_data(as_text=True)
    assert harness.client.get_cookie("pwless_gate_session") is None
    assert_blames_the_configuration(caplog, tenant)


def test_the_same_error_from_a_rule_still_refuses_the_person(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """The control: ``403 access_denied`` (a blocked user) is about the person."""
    harness.tenant.app.block_user("cy@example.com")
    started = harness.start("cy@example.com")

    with caplog.at_level(logging.INFO):
        answer = harness.submit_code(started, harness.tenant.last_message().code)

    assert answer.status_code == 403
    assert "may not sign in" in answer.get_data(as_text=True)
    reasons = [getattr(r, "reason", None) for r in caplog.records if r.name == "pwless_gate.audit"]
    assert "access_denied" in reasons
