"""SMS codes, the methods setting, and the allow-lists."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ..helpers import hidden, wrong_code


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("07400 123456", "+447400123456"),
        ("7400 123456", "+447400123456"),
        ("+44 (0)7400 123456", "+447400123456"),
        ("+1 415-555-2671", "+14155552671"),
        ("0044 7400 123456", "+447400123456"),
    ],
    ids=["gb-mobile", "gb-without-trunk", "gb-international-with-trunk", "us", "gb-00-prefix"],
)
def test_sms_login_normalises_national_formats(make_harness: Any, typed: str, e164: str) -> None:
    harness = make_harness(methods=("sms-code",), default_region="GB")
    started = harness.start_phone(typed)
    assert started.status_code == 200, started.get_data(as_text=True)
    message = harness.tenant.last_message()
    assert message.channel == "sms"
    assert message.to == e164
    done = harness.submit_code(started, message.code)
    assert done.status_code == 303
    harness.client.get("/")
    environ = harness.app.calls[-1]
    assert environ["REMOTE_USER"] == e164
    user = environ["pwless_gate.user"]
    assert user.phone_number == e164
    assert user.sub.startswith("sms|")
    assert user.email is None


@pytest.mark.parametrize(
    "typed",
    ["12345", "not a number", "+999 1234 5678", "07400 12345", "+44 7400 123456 1234 5678 9"],
    ids=["short", "letters", "no-such-country", "too-short-national", "too-long"],
)
def test_invalid_numbers_get_a_clear_page_and_nothing_is_sent(
    make_harness: Any, typed: str
) -> None:
    harness = make_harness(methods=("sms-code",), default_region="GB")
    answer = harness.start_phone(typed)
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert 'id="phone-error"' in page
    assert harness.tenant.outbox() == []


def phone_error(page: str) -> str:
    match = re.search(r'<p class="error" id="phone-error" role="alert">([^<]*)</p>', page)
    assert match is not None, page
    return match.group(1)


@pytest.mark.parametrize(
    ("typed", "region"),
    [
        ("020 7946 0958", "GB"),
        ("+44 20 7946 0958", None),
        ("0800 FLOWERS", "GB"),
        ("+800 1234 5678", "GB"),
        ("0900 123 4567", "GB"),
        ("0845 123 4567", "GB"),
    ],
    ids=[
        "landline",
        "landline-international",
        "freephone-word",
        "freephone-global",
        "premium",
        "shared-cost",
    ],
)
def test_a_number_no_text_reaches_is_refused_and_nothing_is_sent(
    make_harness: Any, typed: str, region: str | None
) -> None:
    """The SMS provider would refuse the send unseen: the page said "sent", no text came."""
    harness = make_harness(methods=("sms-code",), default_region=region)
    answer = harness.start_phone(typed)
    assert answer.status_code == 400
    assert phone_error(answer.get_data(as_text=True)) == (
        "That number cannot receive text messages."
    )
    assert harness.tenant.outbox() == []


@pytest.mark.parametrize("region", ["GB", None])
def test_an_overlong_number_is_called_too_long(make_harness: Any, region: str | None) -> None:
    harness = make_harness(methods=("sms-code",), default_region=region)
    answer = harness.start_phone("+44 7400 123456 (mobile, after 6pm please)")
    assert answer.status_code == 400
    assert phone_error(answer.get_data(as_text=True)) == "That phone number is too long."
    assert harness.tenant.outbox() == []


def test_number_without_plus_and_no_region_is_refused(make_harness: Any) -> None:
    harness = make_harness(methods=("sms-code",))
    answer = harness.start_phone("07400 123456")
    assert answer.status_code == 400
    assert "country code" in answer.get_data(as_text=True)


def test_wrong_sms_code(make_harness: Any) -> None:
    harness = make_harness(methods=("sms-code",))
    started = harness.start_phone("+14155552671")
    real = harness.tenant.last_message().code
    answer = harness.submit_code(started, wrong_code(real))
    assert answer.status_code == 400
    assert "not right" in answer.get_data(as_text=True)


@pytest.mark.parametrize(
    ("methods", "shown", "hidden_fields"),
    [
        (("email-code",), ['value="code"'], ['name="phone_number"', 'value="link"']),
        (("email-link",), ['value="link"'], ['name="phone_number"', 'value="code"']),
        (("sms-code",), ['name="phone_number"'], ['name="email"']),
        (
            ("email-code", "email-link", "sms-code"),
            ['value="code"', 'value="link"', 'name="phone_number"', "Text me a code"],
            [],
        ),
    ],
    ids=["email-code", "email-link", "sms-code", "all"],
)
def test_login_page_offers_exactly_the_methods(
    make_harness: Any, methods: tuple[str, ...], shown: list[str], hidden_fields: list[str]
) -> None:
    harness = make_harness(methods=methods)
    page = harness.client.get("/_gate/login").get_data(as_text=True)
    for needle in shown:
        assert needle in page
    for needle in hidden_fields:
        assert needle not in page


@pytest.mark.parametrize(
    ("methods", "form"),
    [
        (("email-code",), {"email": "a@example.com", "send": "link"}),
        (("email-link",), {"email": "a@example.com", "send": "code"}),
        (("email-code",), {"phone_number": "+14155552671"}),
        (("sms-code",), {"email": "a@example.com", "send": "code"}),
    ],
    ids=["link-disabled", "code-disabled", "sms-disabled", "email-disabled"],
)
def test_disabled_method_is_refused(make_harness: Any, methods: Any, form: dict[str, str]) -> None:
    harness = make_harness(methods=methods)
    page = harness.client.get("/_gate/login").get_data(as_text=True)
    answer = harness.client.post(
        "/_gate/login", data={"csrf_token": hidden(page, "csrf_token"), **form}
    )
    assert answer.status_code == 400
    assert "not enabled" in answer.get_data(as_text=True)
    assert harness.tenant.outbox() == []


ALLOW = {"allowed_domains": ("example.com", ".corp.example"), "allowed_emails": ("boss@other.org",)}


@pytest.mark.parametrize(
    "email",
    [
        "ada@example.com",
        "ADA@EXAMPLE.COM",
        "x@dept.corp.example",
        "x@corp.example",
        "Boss@other.org",
    ],
)
def test_allow_list_admits(make_harness: Any, email: str) -> None:
    harness = make_harness(**ALLOW)
    assert harness.login(email).status_code == 303


@pytest.mark.parametrize(
    "email",
    [
        "x@evil-example.com",
        "x@example.com.evil.net",
        "x@notcorp.example",
        "x@other.org",
        "x@evil.com@example.com",
        '"x@evil.com"@example.com',
    ],
    ids=[
        "prefix-domain",
        "suffix-domain",
        "sibling",
        "same-domain-not-listed",
        "double-at",
        "quoted-at",
    ],
)
def test_allow_list_refuses_without_sending(make_harness: Any, email: str) -> None:
    harness = make_harness(**ALLOW)
    answer = harness.start(email)
    text = answer.get_data(as_text=True)
    if answer.status_code == 200:
        # The same page as an allowed address: nothing tells who may sign in.
        allowed = harness.start("someone@example.com")
        assert allowed.status_code == answer.status_code
        assert "Enter your code" in text
        assert _shape(text) == _shape(allowed.get_data(as_text=True))
        assert all(m.to != email.lower() for m in harness.tenant.outbox())
        assert [m.to for m in harness.tenant.outbox()] == ["someone@example.com"]
    else:
        assert answer.status_code == 400  # not even a valid address
        assert harness.tenant.outbox() == []


def test_phone_allow_list(make_harness: Any) -> None:
    harness = make_harness(methods=("sms-code",), allowed_phones=("+14155552671",))
    started = harness.start_phone("+1 415 555 2671")
    assert harness.submit_code(started, harness.tenant.last_message().code).status_code == 303
    refused = harness.start_phone("+1 415 555 2672")
    assert refused.status_code == 200
    assert len(harness.tenant.outbox()) == 1


def _shape(page: str) -> str:
    """A page without its per-request values (tokens, the masked destination)."""
    page = re.sub(r'value="[^"]*"', 'value=""', page)
    return re.sub(r"<strong>[^<]*</strong>", "<strong></strong>", page)
