"""Auth0's limits and attack protection seen through the gate, with and without trust.

The gate sits behind one trusted proxy (``trusted_proxies=1``) and sends each
person's IP in ``auth0-forwarded-for``. Whether Auth0 counts that IP or the
gate's own is the application's "Trust Token Endpoint IP Header" setting,
off in a new tenant: these tests play people at different addresses through
one gate, both ways.
"""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.test import TestResponse

from ..helpers import THROTTLES_OFF, FakeClock, GateClient, Harness, wrong_code

TRUST = pytest.mark.parametrize(
    "tenant_options",
    [{"trust_forwarded_for": True}, {"trust_forwarded_for": False}],
    ids=["trusted", "not-trusted"],
)


class BrowserAt(GateClient):
    """A browser whose requests reach the gate through a proxy that says it is at ``ip``."""

    def __init__(self, app: Any, ip: str) -> None:
        super().__init__(app)
        self.ip = ip

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        kwargs.setdefault("environ_base", {"REMOTE_ADDR": "127.0.0.1"})
        kwargs["environ_base"]["HTTP_X_FORWARDED_FOR"] = self.ip
        return super().open(*args, **kwargs)


def sign_in(harness: Harness, email: str, ip: str) -> tuple[int, int]:
    """A whole email-code sign-in from ``ip``: the statuses of the start and of the verify."""
    browser = BrowserAt(harness.gate, ip)
    started = harness.start(email, client=browser)
    if started.status_code != 200:
        return started.status_code, 0
    code = harness.tenant.last_message(to=email).code
    return 200, harness.submit_code(started, code, client=browser).status_code


@TRUST
def test_51_people_from_51_addresses(
    make_harness: Any, clock: FakeClock, tenant_options: dict[str, bool]
) -> None:
    """Without trust, everybody shares the gate's 50 sends an hour at Auth0."""
    harness = make_harness(trusted_proxies=1)
    answers = []
    for n in range(51):
        if n and n % 25 == 0:
            clock.advance(1)  # /oauth/token's own 30 a second
        answers.append(sign_in(harness, f"person{n}@example.com", f"198.51.100.{n + 1}"))

    assert answers[:50] == [(200, 303)] * 50
    if tenant_options["trust_forwarded_for"]:
        assert answers[50] == (200, 303)
    else:
        assert answers[50] == (429, 0)  # the 51st person in the hour
        assert len(harness.tenant.outbox()) == 50


@TRUST
def test_100_failed_logins_from_one_address(
    make_harness: Any, clock: FakeClock, tenant_options: dict[str, bool]
) -> None:
    """Suspicious-IP throttling stops the address that failed, or, without trust, everyone."""
    harness = make_harness(trusted_proxies=1, **THROTTLES_OFF)
    attacker = "203.0.113.66"
    for n in range(50):  # two wrong codes each: 100 failed logins
        browser = BrowserAt(harness.gate, attacker)
        started = harness.start(f"target{n}@example.com", client=browser)
        assert started.status_code == 200, n
        wrong = wrong_code(harness.tenant.last_message().code)
        for _ in range(2):
            assert harness.submit_code(started, wrong, client=browser).status_code == 400
        if n % 10 == 9:
            clock.advance(1)
    clock.advance(72)  # one more send at Auth0 for the attacker's address

    bob = BrowserAt(harness.gate, "198.51.100.7")
    started = harness.start("bob@example.com", client=bob)
    answer = harness.submit_code(started, harness.tenant.last_message().code, client=bob)

    if tenant_options["trust_forwarded_for"]:
        assert answer.status_code == 303
    else:
        assert answer.status_code == 429  # Bob shares the gate's address with the attacker
        assert int(answer.headers["Retry-After"]) >= 900
        assert "Too many attempts" in answer.get_data(as_text=True)


def blocked_page(answer: TestResponse) -> str:
    text = answer.get_data(as_text=True)
    assert answer.status_code == 429
    assert "Retry-After" not in answer.headers  # waiting does not lift it
    assert "try again in" not in text.lower()
    assert "Sign-in blocked" in text
    return text


def block_by_brute_force(harness: Harness, email: str) -> None:
    """Ten wrong codes in a row for ``email`` from one address: Auth0 blocks it.

    The gate's own limits are off: they would stop the guessing first.
    """
    for _ in range(5):
        started = harness.start(email)
        wrong = wrong_code(harness.tenant.last_message().code)
        for _ in range(2):
            assert harness.submit_code(started, wrong).status_code == 400


def test_a_brute_force_block_says_to_check_the_email(
    make_harness: Any, caplog: pytest.LogCaptureFixture
) -> None:
    harness = make_harness(**THROTTLES_OFF)
    block_by_brute_force(harness, "ada@example.com")
    started = harness.start("ada@example.com")

    with caplog.at_level("INFO"):
        answer = harness.submit_code(started, harness.tenant.last_message().code)

    text = blocked_page(answer)
    assert "email with a link to unblock it" in text
    assert harness.client.get_cookie("pwless_gate_session") is None
    reasons = [getattr(r, "reason", None) for r in caplog.records if r.name == "pwless_gate.audit"]
    assert "blocked" in reasons


def test_a_brute_force_block_reaches_a_magic_link_too(make_harness: Any) -> None:
    harness = make_harness(methods=("email-code", "email-link"), **THROTTLES_OFF)
    block_by_brute_force(harness, "bo@example.com")
    assert harness.start("bo@example.com", send="link").status_code == 200

    landing = harness.follow_link(harness.tenant.last_message().link)

    assert "error=too_many_attempts" in landing
    assert "unblock" in blocked_page(harness.client.get(landing))


def test_a_blocked_phone_number_is_told_to_ask_the_administrator(make_harness: Any) -> None:
    harness = make_harness(methods=("sms-code",), **THROTTLES_OFF)
    phone = "+14155550123"
    for _ in range(5):
        started = harness.start_phone(phone)
        wrong = wrong_code(harness.tenant.last_message().code)
        for _ in range(2):
            assert harness.submit_code(started, wrong).status_code == 400
    started = harness.start_phone(phone)

    answer = harness.submit_code(started, harness.tenant.last_message().code)

    assert "ask the administrator" in blocked_page(answer)
