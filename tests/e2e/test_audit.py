"""The audit trail: one structured event per step, never a code, token, secret or full address."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from ..helpers import CLIENT_SECRET, hidden


def test_every_event_is_logged_masked(make_harness: Any, caplog: pytest.LogCaptureFixture) -> None:
    harness = make_harness(allowed_domains=("example.com",), throttle_send_per_identifier="2/900")
    secrets_seen: list[str] = []
    with caplog.at_level(logging.DEBUG):
        started = harness.start("ada.lovelace@example.com")
        code = harness.tenant.last_message().code
        secrets_seen.append(code)
        wrong = "000000" if code != "000000" else "111111"
        harness.submit_code(started, wrong)
        done = harness.submit_code(started, code)
        secrets_seen.append(done.headers["Set-Cookie"].split(";")[0].split("=", 1)[1])
        harness.start("eve@elsewhere.org")
        harness.start("ada.lovelace@example.com")
        harness.start("ada.lovelace@example.com")  # the third in 15 minutes: throttled
        page = harness.client.get("/_gate/logout").get_data(as_text=True)
        harness.client.post("/_gate/logout", data={"csrf_token": hidden(page, "csrf_token")})

    audit = [r for r in caplog.records if r.name == "pwless_gate.audit"]
    events = [r.event for r in audit]  # type: ignore[attr-defined]
    for expected in (
        "login_started",
        "code_sent",
        "login_failed",
        "login_succeeded",
        "refused_by_allow_list",
        "throttled",
        "logout",
    ):
        assert expected in events, events
    for record in audit:
        assert record.ip == "127.0.0.1"  # type: ignore[attr-defined]
        assert isinstance(record.at, float)  # type: ignore[attr-defined]
        assert record.who in ("a***@example.com", "e***@elsewhere.org")  # type: ignore[attr-defined]
    failed = next(r for r in audit if r.event == "login_failed")  # type: ignore[attr-defined]
    assert failed.reason == "wrong_code"  # type: ignore[attr-defined]

    everything = "\n".join(r.getMessage() + repr(r.__dict__) for r in caplog.records)
    assert "ada.lovelace@example.com" not in everything
    assert CLIENT_SECRET not in everything
    for secret in secrets_seen:
        assert secret not in everything
