"""CSRF tokens bound to the browser, and the origin check."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from pwless_gate.csrf import CsrfGuard, origin_allowed


def test_csrf_token_is_bound_to_browser() -> None:
    guard = CsrfGuard([b"k" * 32])
    token = guard.token("browser-one-0123456789")
    assert guard.check("browser-one-0123456789", token)
    assert not guard.check("browser-two-0123456789", token)
    assert not guard.check("browser-one-0123456789", None)
    assert not guard.check(None, token)
    assert not CsrfGuard([b"j" * 32]).check("browser-one-0123456789", token)


@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        ({}, True),
        ({"HTTP_ORIGIN": "http://gate.test"}, True),
        ({"HTTP_ORIGIN": "http://evil.test"}, False),
        ({"HTTP_ORIGIN": "null"}, False),
        ({"HTTP_REFERER": "http://gate.test/_gate/login"}, True),
        ({"HTTP_REFERER": "http://evil.test/x"}, False),
    ],
    ids=["none", "same-origin", "cross-origin", "null-origin", "same-referer", "cross-referer"],
)
def test_origin_check(headers: dict[str, str], allowed: bool) -> None:
    assert origin_allowed(headers, "http://gate.test") is allowed


def test_a_token_made_with_a_key_still_kept_is_taken() -> None:
    """Keys oldest first: the newest makes tokens, every one kept is taken; a token of a
    dropped key is not."""
    old, new = b"o" * 32, b"n" * 32
    browser = "browser-one-0123456789"
    before = CsrfGuard([old]).token(browser)
    rotated = CsrfGuard([old, new])
    assert rotated.check(browser, before)
    assert rotated.token(browser) == CsrfGuard([new]).token(browser) != before
    assert not CsrfGuard([new]).check(browser, before)
    with pytest.raises(ValueError, match="at least one key"):
        CsrfGuard([])


def test_tokens_are_the_hmac_of_the_browser_id() -> None:
    """Tokens stay what they were (a form shown before an upgrade is still sent): HMAC-SHA256
    of the browser id under a key derived from each signing key, base64url."""
    keys = [b"old-key-0123456789abcdef01234567", b"new-key-0123456789abcdef01234567"]
    guard = CsrfGuard(keys)
    browser_id = "browser-one-0123456789"
    derived = [hashlib.sha256(b"pwless-gate csrf\x00" + key).digest() for key in keys]
    made = [
        base64.urlsafe_b64encode(hmac.new(key, browser_id.encode(), hashlib.sha256).digest())
        .rstrip(b"=")
        .decode()
        for key in derived
    ]
    # The token the code before the prepared HMAC states made.
    assert guard.token(browser_id) == made[1] == "n7F2H1efQkyZi8aDJvgSCasUPugbxbzsPw2N6eEaoRc"
    assert guard.token(browser_id) == guard.token(browser_id)  # a key's state is reused
    assert all(guard.check(browser_id, token) for token in made)
    assert not guard.check("browser-two-0123456789", made[0])
