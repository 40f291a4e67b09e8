"""What the sign-in pages say: the example number, the whole address, a new code in one press."""

from __future__ import annotations

import re
from typing import Any

import phonenumbers
import pytest

from ..helpers import Harness, hidden, wrong_code


def phone_hint(page: str) -> str:
    match = re.search(r'<p class="hint" id="phone-hint">([^<]*)</p>', page)
    assert match is not None, page
    return match.group(1)


@pytest.mark.parametrize("region", ["GB", "US", "DE", "FR", "JP", "IN", "BR", "CH"])
def test_the_example_number_is_a_valid_mobile_of_the_default_region(
    make_harness: Any, region: str
) -> None:
    harness = make_harness(methods=("sms-code",), default_region=region)
    hint = phone_hint(harness.client.get("/_gate/login").get_data(as_text=True))
    example = re.match(r"Like (.+?)\. From another country", hint)
    assert example is not None, hint
    number = phonenumbers.parse(example.group(1), region)
    assert phonenumbers.is_valid_number_for_region(number, region)
    assert phonenumbers.number_type(number) in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )
    assert not example.group(1).startswith("+")  # typed as people there type it


def test_the_example_number_in_the_default_regions_format_is_accepted(
    make_harness: Any,
) -> None:
    harness = make_harness(methods=("sms-code",), default_region="DE")
    hint = phone_hint(harness.client.get("/_gate/login").get_data(as_text=True))
    typed = hint.removeprefix("Like ").split(". ")[0]
    started = harness.start_phone(typed)
    assert started.status_code == 200, started.get_data(as_text=True)
    assert harness.tenant.last_message().to.startswith("+49")


def test_without_a_region_the_example_starts_with_the_country_code(make_harness: Any) -> None:
    harness = make_harness(methods=("sms-code",))
    hint = phone_hint(harness.client.get("/_gate/login").get_data(as_text=True))
    assert hint == "Start with + and the country's calling code, like +44 7400 123456."
    # The message for an empty field gives the same example, and it is a mobile number.
    empty = harness.start_phone("").get_data(as_text=True)
    error = re.search(r'id="phone-error" role="alert">([^<]*)<', empty)
    assert error is not None, empty
    assert error.group(1) == "Enter a phone number like +44 7400 123456."
    number = phonenumbers.parse("+44 7400 123456")
    assert phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE


@pytest.mark.parametrize(
    ("methods", "typed", "shown"),
    [
        (("email-code",), "Ada.Lovelace@Example.COM", "ada.lovelace@example.com"),
        (("sms-code",), "+1 (415) 555 2671", "+1 415-555-2671"),
    ],
    ids=["email", "sms"],
)
def test_the_code_page_shows_the_whole_address_or_number(
    make_harness: Any, methods: tuple[str, ...], typed: str, shown: str
) -> None:
    harness = make_harness(methods=methods)
    started = harness.start_phone(typed) if methods == ("sms-code",) else harness.start(typed)
    page = started.get_data(as_text=True)
    assert f"<strong>{shown}</strong>" in page
    assert "***" not in page
    wrong = harness.submit_code(started, "000000").get_data(as_text=True)
    assert f"<strong>{shown}</strong>" in wrong  # and again after a wrong code


def resend_form(page: str) -> dict[str, str]:
    """The fields of the page's "Send a new code" form."""
    match = re.search(
        r'<form method="post" action="/_gate/login" class="resend">(.*?)</form>', page, re.S
    )
    assert match is not None, page
    form = match.group(1)
    assert "Send a new code" in form
    return dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form))


def test_after_three_wrong_codes_one_press_sends_a_new_code(harness: Harness) -> None:
    started = harness.start("bo@example.com", next="/reports?q=1")
    first = harness.tenant.last_message(to="bo@example.com").code
    answer = started
    for _ in range(3):
        answer = harness.submit_code(started, wrong_code(first))
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert "Code no longer valid" in page
    fields = resend_form(page)
    assert fields == {
        "csrf_token": hidden(page, "csrf_token"),
        "next": "/reports?q=1",
        "email": "bo@example.com",
        "send": "code",
    }

    sent_before = len(harness.tenant.outbox())
    sent = harness.client.post("/_gate/login", data=fields)
    assert sent.status_code == 200
    assert "Enter your code" in sent.get_data(as_text=True)
    assert len(harness.tenant.outbox()) == sent_before + 1
    second = harness.tenant.last_message(to="bo@example.com").code
    done = harness.submit_code(sent, second)
    assert done.status_code == 303
    assert done.headers["Location"] == "/reports?q=1"


def test_an_expired_sms_code_offers_a_new_one_to_the_same_number(
    make_harness: Any, clock: Any
) -> None:
    harness = make_harness(methods=("sms-code",))
    started = harness.start_phone("+14155552671")
    clock.advance(181)
    answer = harness.submit_code(started, harness.tenant.last_message().code)
    page = answer.get_data(as_text=True)
    assert "expired" in page
    fields = resend_form(page)
    assert fields["phone_number"] == "+14155552671"
    assert "send" not in fields


def test_an_api_client_gets_json_for_a_dead_code(harness: Harness) -> None:
    started = harness.start("cy@example.com")
    code = harness.tenant.last_message(to="cy@example.com").code
    page = started.get_data(as_text=True)
    form = {"csrf_token": hidden(page, "csrf_token"), "tx": hidden(page, "tx")}
    answer = None
    for _ in range(3):
        answer = harness.client.post(
            "/_gate/verify",
            data={**form, "code": wrong_code(code)},
            headers={"Accept": "application/json"},
        )
    assert answer is not None
    assert answer.status_code == 400
    assert answer.json == {
        "error": "Code no longer valid",
        "message": "That code was tried too many times. Please ask for a new one.",
    }
