from __future__ import annotations

import pytest

from pwless_gate.security import CsrfGuard, client_ip, origin_allowed, safe_next


@pytest.mark.parametrize(
    "target",
    ["/", "/reports", "/reports?year=2026&q=a%20b", "/a/b#section", "/caf%C3%A9"],
)
def test_local_paths_are_kept(target: str) -> None:
    assert safe_next(target) == target


@pytest.mark.parametrize(
    "target",
    [
        None,
        "",
        "https://evil.example/",
        "//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "/%2F/evil.example",
        "/%252F%252Fevil.example",
        "javascript:alert(1)",
        "relative/path",
        "/" + "a" * 3000,
    ],
    ids=[
        "none",
        "empty",
        "absolute",
        "scheme-relative",
        "slash-backslash",
        "backslashes",
        "tab",
        "newline",
        "encoded-slash",
        "double-encoded",
        "javascript",
        "relative",
        "overlong",
    ],
)
def test_hostile_targets_fall_back(target: str | None) -> None:
    assert safe_next(target, "/home") == "/home"


def test_non_ascii_is_percent_encoded() -> None:
    assert safe_next("/café") == "/caf%C3%A9"


def test_csrf_token_is_bound_to_browser() -> None:
    guard = CsrfGuard(b"k" * 32)
    token = guard.token("browser-one-0123456789")
    assert guard.check("browser-one-0123456789", token)
    assert not guard.check("browser-two-0123456789", token)
    assert not guard.check("browser-one-0123456789", None)
    assert not guard.check(None, token)
    assert not CsrfGuard(b"j" * 32).check("browser-one-0123456789", token)


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


@pytest.mark.parametrize(
    ("trusted", "forwarded", "expected"),
    [
        (0, "6.6.6.6", "10.0.0.1"),
        (1, "6.6.6.6, 203.0.113.9", "203.0.113.9"),
        (2, "6.6.6.6, 203.0.113.9, 10.0.0.2", "203.0.113.9"),
        (2, "203.0.113.9", "10.0.0.1"),
        (1, None, "10.0.0.1"),
    ],
    ids=["untrusted", "one-hop", "two-hops", "too-few-hops", "no-header"],
)
def test_client_ip_counts_hops_like_proxyfix(
    trusted: int, forwarded: str | None, expected: str
) -> None:
    environ = {"REMOTE_ADDR": "10.0.0.1"}
    if forwarded is not None:
        environ["HTTP_X_FORWARDED_FOR"] = forwarded
    assert client_ip(environ, trusted) == expected
