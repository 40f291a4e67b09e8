from __future__ import annotations

import re

import pytest

from pwless_gate.identity import (
    INTERNATIONAL_EXAMPLE,
    AllowList,
    InvalidIdentifier,
    email_domain,
    example_phone,
    mask,
    normalise_email,
    normalise_phone,
    pseudonym,
    readable,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ada@example.com", "ada@example.com"),
        ("  Ada@EXAMPLE.com ", "ada@example.com"),
        ("ada@bücher.example", "ada@xn--bcher-kva.example"),
        ("ADA@BÜCHER.EXAMPLE", "ada@xn--bcher-kva.example"),
        ("ada@xn--bcher-kva.example", "ada@xn--bcher-kva.example"),
        ("a" * 64 + "@example.com", "a" * 64 + "@example.com"),
    ],
    ids=["plain", "spaces-and-case", "idn", "idn-upper-case", "idn-as-chrome-sends-it", "64"],
)
def test_normalise_email(raw: str, expected: str) -> None:
    """The form Auth0 takes and stores: ASCII, an internationalised domain as xn--."""
    assert normalise_email(raw) == expected
    assert expected.isascii()


@pytest.mark.parametrize("raw", ["", "ada", "ada@", "@example.com", "a@b@example.com", "a b@x.com"])
def test_invalid_email(raw: str) -> None:
    with pytest.raises(InvalidIdentifier):
        normalise_email(raw)


NOT_ASCII = (
    "Sign-in emails cannot be sent to an address with accented or non-Latin letters "
    "before the @. Use another address."
)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "Enter an email address like name@example.com."),
        ("x" * 250 + "@a.example", "That email address is too long."),
        ("ada", "An email address needs an @, as in name@example.com."),
        ("ada @example.com", "An email address has no spaces. Check the one you typed."),
        ("ada@", "Part of that email address is missing. Enter it like name@example.com."),
        ("@example.com", "Part of that email address is missing. Enter it like name@example.com."),
        ("ada@example", "The part after the @ needs a dot, as in example.com."),
        ("a@b@example.com", "That email address is not valid. Check it for typos."),
        ("ada@exa_mple.com", "That email address is not valid. Check it for typos."),
        ("jörg@example.com", NOT_ASCII),
        ("用户@例子.广告", NOT_ASCII),
        ("\uff21\uff44\uff41@example.com", NOT_ASCII),  # full-width "Ada"
        ("a" * 65 + "@example.com", "The part before the @ is too long (at most 64 characters)."),
    ],
)
def test_an_invalid_email_says_what_is_wrong(raw: str, message: str) -> None:
    with pytest.raises(InvalidIdentifier) as refused:
        normalise_email(raw)
    assert refused.value.args[0] == message


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+44 20 7946 0958", None, "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("(415) 555-2671", "US", "+14155552671"),
        ("+1-415-555-2671", "GB", "+14155552671"),
    ],
)
def test_normalise_phone(raw: str, region: str | None, expected: str) -> None:
    assert normalise_phone(raw, region) == expected


@pytest.mark.parametrize("raw", ["", "12", "020 7946 0958", "+999 123", "phone"])
def test_invalid_phone(raw: str) -> None:
    with pytest.raises(InvalidIdentifier):
        normalise_phone(raw)


NO_TEXTS = "That number cannot receive text messages."


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("020 7946 0958", NO_TEXTS),
        ("0800 FLOWERS", NO_TEXTS),
        ("+800 1234 5678", NO_TEXTS),
        ("0900 123 4567", NO_TEXTS),
        ("0845 123 4567", NO_TEXTS),
        ("0300 123 4567", NO_TEXTS),
        ("07400 123456", "+447400123456"),
        ("+1 415 555 2671", "+14155552671"),
        ("07000 123456", "+447000123456"),
    ],
    ids=[
        "landline",
        "free-phoneword",
        "international-freephone",
        "premium",
        "shared-cost",
        "uan",
        "mobile",
        "us-fixed-line-or-mobile",
        "personal-number",
    ],
)
def test_a_number_for_texts_must_take_them(raw: str, expected: str) -> None:
    """Only the sign-in form asks for a textable number: a landline in an allow-list or
    a rule is still a valid number there."""
    if expected.startswith("+"):
        assert normalise_phone(raw, "GB", texts=True) == expected
        return
    with pytest.raises(InvalidIdentifier) as refused:
        normalise_phone(raw, "GB", texts=True)
    assert refused.value.args[0] == expected
    assert normalise_phone(raw, "GB").startswith("+")


@pytest.mark.parametrize(
    ("raw", "region", "message"),
    [
        ("", None, "Enter a phone number like +44 7400 123456."),
        ("", "GB", "Enter a phone number like 07400 123456."),
        ("+44 7400 123456 (mobile, after 6pm please)", "GB", "That phone number is too long."),
    ],
    ids=["empty-no-region", "empty-gb", "too-long"],
)
def test_phone_messages(raw: str, region: str | None, message: str) -> None:
    with pytest.raises(InvalidIdentifier) as refused:
        normalise_phone(raw, region)
    assert refused.value.args[0] == message


def test_the_international_example_is_a_mobile_number() -> None:
    assert normalise_phone(INTERNATIONAL_EXAMPLE, texts=True) == "+447400123456"


@pytest.mark.parametrize(
    ("identifier", "shown"),
    [
        ("ada@example.com", "ada@example.com"),
        ("+442079460958", "+44 20 7946 0958"),
        ("+14155552671", "+1 415-555-2671"),
        ("ada@xn--bcher-kva.example", "ada@bücher.example"),
    ],
    ids=["email", "gb", "us", "idn"],
)
def test_readable_shows_the_whole_identifier(identifier: str, shown: str) -> None:
    assert readable(identifier) == shown
    if identifier.startswith("+"):
        assert normalise_phone(shown) == identifier  # typed back, it is the same number
    else:
        assert normalise_email(shown) == identifier


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("example.com", "example.com"),
        ("Bücher.Example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
    ],
)
def test_email_domain_is_kept_as_addresses_are(raw: str, expected: str) -> None:
    assert email_domain(raw) == expected
    assert normalise_email(f"ada@{raw}") == f"ada@{expected}"


@pytest.mark.parametrize(
    ("region", "example"),
    [("GB", "07400 123456"), ("US", "(201) 555-0123"), ("FR", "06 12 34 56 78"), (None, None)],
)
def test_example_phone_is_typed_as_in_the_region(region: str | None, example: str | None) -> None:
    assert example_phone(region) == example
    if region is not None:
        assert normalise_phone(example or "", region).startswith("+")


def test_mask() -> None:
    assert mask("ada@example.com") == "a***@example.com"
    assert mask("+442079460958") == "+44********58"


@pytest.mark.parametrize(
    ("email", "allowed"),
    [
        ("ada@example.com", True),
        ("ADA@Example.COM", True),
        ("x@evil-example.com", False),
        ("x@example.com.evil.net", False),
        ("x@evil.com@example.com", True),  # normalisation refuses it earlier; see the e2e test
        ("x@dept.corp.example", True),
        ("x@corp.example", True),
        ("x@notcorp.example", False),
        ("boss@other.org", True),
        ("Boss@Other.org", True),
        ("x@other.org", False),
    ],
)
def test_allow_list_dot_boundary(email: str, allowed: bool) -> None:
    allow = AllowList(frozenset({"boss@other.org"}), ("example.com", ".corp.example"))
    assert allow.allows_email(email) is allowed


def test_an_empty_allow_list_admits_nobody_and_a_star_everyone() -> None:
    assert not AllowList().allows_email("anyone@anywhere.example")
    assert not AllowList().allows_phone("+14155552671")
    anyone = AllowList(domains=("*",), phones=frozenset({"*"}))
    assert anyone.allows_email("anyone@anywhere.example")
    assert anyone.allows_phone("+14155552671")
    assert not anyone.allows_email("no-at-sign")


@pytest.mark.parametrize(
    ("connection", "identifier", "shape"),
    [
        ("email", "eve@other.example", r"r-[0-9a-f]{32}@refused\.invalid"),
        ("sms", "+14155550199", r"\+999[0-9]{12}"),
    ],
    ids=["email", "sms"],
)
def test_a_pseudonym_is_one_per_identifier_and_key_and_nobodys(
    connection: str, identifier: str, shape: str
) -> None:
    """Stable for an identifier (Auth0 counts its failures), different for another one
    or under another key, and refused by the sign-in form: nobody can be sent a code
    for it."""
    named = pseudonym(b"key", connection, identifier)
    assert re.fullmatch(shape, named)
    assert pseudonym(b"key", connection, identifier) == named
    assert pseudonym(b"key", connection, identifier.upper()) == named
    assert pseudonym(b"key", connection, identifier[:-1] + "8") != named
    assert pseudonym(b"other key", connection, identifier) != named
    with pytest.raises(InvalidIdentifier):
        normalise_phone(named) if connection == "sms" else normalise_email(named)
