"""The audit trail: one structured event per step, never a code, token, secret or full address."""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from ..helpers import CLIENT_SECRET, ToolClient, hidden, server_log, wrong_code

#: What every LogRecord has; anything else on a record came in through ``extra``.
STANDARD_FIELDS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def logged_values(record: logging.LogRecord) -> Iterator[str]:
    """The formatted message, each argument, and each ``extra`` field's value of a record.

    Float fields are timestamps (``at``): their digit runs are not worth searching.
    """
    yield record.getMessage()
    args = record.args.values() if isinstance(record.args, dict) else record.args or ()
    yield from (str(arg) for arg in args)
    for name, value in vars(record).items():
        if name not in STANDARD_FIELDS and not isinstance(value, float):
            yield str(value)
    if record.exc_info:
        yield logging.Formatter().formatException(record.exc_info)


def shows_code(texts: Iterable[str], code: str) -> bool:
    """Whether ``code`` appears as a whole number (not inside a longer run of digits)."""
    token = re.compile(rf"(?<!\d){re.escape(code)}(?!\d)")
    return any(token.search(text) for text in texts)


def test_every_event_is_logged_masked(make_harness: Any, caplog: pytest.LogCaptureFixture) -> None:
    harness = make_harness(allowed_domains=("example.com",), throttle_send_per_identifier="2/900")
    with caplog.at_level(logging.DEBUG):
        started = harness.start("ada.lovelace@example.com")
        code = harness.tenant.last_message().code
        wrong = wrong_code(code)
        harness.submit_code(started, wrong)
        done = harness.submit_code(started, code)
        session_value = done.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
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
    assert session_value not in everything
    assert shows_code([f"code {code}."], code)  # the check itself can see a code
    for record in caplog.records:
        assert not shows_code(logged_values(record), code), record.__dict__
        assert not shows_code(logged_values(record), wrong), record.__dict__


#: A Basic user name that, written as it is, would add a log line of its own (a sign-in
#: that never happened; U+A789 looks like the colon a user name cannot hold), colour the
#: terminal red and reverse what follows.
FORGED_USER = (
    "x@evil.example\nINFO pwless_gate.audit\ua789 login_succeeded ip=203.0.113.7 "
    "who=+44*******58 reason=sms\x1b[31m\u202e" + "y" * 5000
)


def test_a_client_s_text_cannot_write_log_lines_of_its_own(make_harness: Any) -> None:
    harness = make_harness(app_tokens=True, trusted_proxies="for=1")
    credentials = base64.b64encode(f"{FORGED_USER}:hunter2".encode()).decode()
    headers = {"Authorization": f"Basic {credentials}", "X-Forwarded-For": "203.0.113.9\x1b[2J"}
    with server_log() as log:
        answer = ToolClient(harness.gate).get("/reports", headers=headers)
    assert answer.status_code == 401
    written = log.getvalue()
    lines = written.splitlines()
    assert [line.split(" ", 2)[:2] for line in lines] == [["INFO", "pwless_gate.audit:"]]
    assert lines[0].startswith("INFO pwless_gate.audit: app_token_refused ip=203.0.113.9\\x1b[2J")
    assert "who=x***@evil.example\\nINFO pwless_gate.audit\ua789 login_succeeded" in lines[0]
    assert "\\x1b[31m\\u202eyyy" in lines[0]
    assert not any(char in written for char in "\x1b\u202e")
    assert len(lines[0]) < 600  # the 5000 characters are cut
