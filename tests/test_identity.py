from __future__ import annotations

import pytest

from pwless_gate.identity import (
    AllowList,
    InvalidIdentifier,
    example_phone,
    mask,
    normalise_email,
    normalise_phone,
    readable,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ada@example.com", "ada@example.com"),
        ("  Ada@EXAMPLE.com ", "ada@example.com"),
        ("ada@bücher.example", "ada@bücher.example"),
    ],
)
def test_normalise_email(raw: str, expected: str) -> None:
    assert normalise_email(raw) == expected


@pytest.mark.parametrize("raw", ["", "ada", "ada@", "@example.com", "a@b@example.com", "a b@x.com"])
def test_invalid_email(raw: str) -> None:
    with pytest.raises(InvalidIdentifier):
        normalise_email(raw)


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


@pytest.mark.parametrize(
    ("identifier", "shown"),
    [
        ("ada@example.com", "ada@example.com"),
        ("+442079460958", "+44 20 7946 0958"),
        ("+14155552671", "+1 415-555-2671"),
    ],
    ids=["email", "gb", "us"],
)
def test_readable_shows_the_whole_identifier(identifier: str, shown: str) -> None:
    assert readable(identifier) == shown
    if identifier.startswith("+"):
        assert normalise_phone(shown) == identifier  # typed back, it is the same number


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
