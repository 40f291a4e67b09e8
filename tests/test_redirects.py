"""Every hostile redirect target of the corpus lands on a local path.

The corpus (``tests/data/hostile_redirects.json``) is thrown at the one
validator, at the login page's ``next``, at a whole login, and at logout.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes, urljoin, urlsplit

import pytest

from pwless_gate.redirects import safe_next, url_path, url_query

from .helpers import FakeClock, hidden

CORPUS: list[str] = json.loads(
    (Path(__file__).parent / "data" / "hostile_redirects.json").read_text()
)
ORIGIN = "https://gate.example"


def lands_locally(location: str) -> bool:
    """What a browser does with a Location header: strip, fix slashes, resolve."""
    cleaned = re.sub(r"[\t\n\r]", "", location).strip(
        "\x00\x01\x02\x03\x04\x05\x06\x07\x08"
        "\x0b\x0c\x0e\x0f\x10\x11\x12\x13\x14\x15"
        "\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f "
    )
    cleaned = cleaned.replace("\\", "/")
    resolved = urlsplit(urljoin(ORIGIN + "/", cleaned))
    return (resolved.scheme, resolved.netloc) == ("https", "gate.example")


def test_corpus_is_large_and_hostile() -> None:
    assert len(CORPUS) >= 150
    # Most would leave the site if a browser followed them as they are.
    assert sum(not lands_locally(t) for t in CORPUS) >= 70


@pytest.mark.parametrize("target", CORPUS)
def test_validator(target: str) -> None:
    result = safe_next(target, "/home")
    assert lands_locally(result), (target, result)
    assert result.isascii()
    assert len(result) <= 2048


@pytest.fixture
def open_harness(make_harness: Any) -> Any:
    return make_harness(
        store="cookie",  # its sessions outlive a logout: one sign-in serves the whole corpus
        throttle_send_per_ip="off",
        throttle_send_per_identifier="off",
        throttle_verify_per_login="off",
        throttle_verify_per_identifier="off",
    )


def test_login_page_and_whole_login(open_harness: Any, clock: FakeClock) -> None:
    harness = open_harness
    for i, target in enumerate(CORPUS):
        clock.advance(0.2)  # stay under the tenant's 30 token calls per second
        # A loopback address of its own per target, so the tenant's per-IP limit holds.
        environ = {"REMOTE_ADDR": f"127.1.{i // 200}.{i % 200 + 1}"}
        page = harness.client.get(
            "/_gate/login", query_string={"next": target}, environ_overrides=environ
        )
        text = page.get_data(as_text=True)
        assert lands_locally(hidden(text, "next")), target
        email = f"r{i}@example.com"
        sent = harness.client.post(
            "/_gate/login",
            data={"csrf_token": hidden(text, "csrf_token"), "email": email, "next": target},
            environ_overrides=environ,
        )
        assert sent.status_code == 200, (target, sent.status_code)
        done = harness.client.post(
            "/_gate/verify",
            data={
                "csrf_token": hidden(sent.get_data(as_text=True), "csrf_token"),
                "tx": hidden(sent.get_data(as_text=True), "tx"),
                "code": harness.tenant.last_message(to=email).code,
            },
            environ_overrides=environ,
        )
        assert done.status_code == 303
        assert lands_locally(done.headers["Location"]), (target, done.headers["Location"])


def test_logout_next(open_harness: Any) -> None:
    harness = open_harness
    assert harness.login("leaving@example.com").status_code == 303
    # A signed-cookie session stays valid after logout; put it back each time.
    session = harness.client.get_cookie("pwless_gate_session").value
    for target in CORPUS:
        harness.client.set_cookie("pwless_gate_session", session)
        page = harness.client.get("/_gate/logout").get_data(as_text=True)
        done = harness.client.post(
            "/_gate/logout", data={"csrf_token": hidden(page, "csrf_token"), "next": target}
        )
        assert done.status_code in (200, 303)
        if done.status_code == 303:
            assert lands_locally(done.headers["Location"]), target


def test_challenge_next_is_local(open_harness: Any) -> None:
    for path in ["//evil.example", "/\\evil.example", "/%2F%2Fevil.example", "/a?x=//evil"]:
        answer = open_harness.client.get(path)
        assert answer.status_code == 302
        location = answer.headers["Location"]
        assert lands_locally(location)
        next_value = re.search(r"next=([^&]*)", location)
        assert next_value is not None


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


@pytest.mark.parametrize(
    "default", ["/\t/evil.example/", "//evil.example/", "/\\evil.example/", "https://evil.example/"]
)
def test_an_unsafe_fallback_is_not_used_either(default: str) -> None:
    # The fallback is the app's home, built from the request's mount: never trusted blindly.
    assert safe_next("https://elsewhere.example/", default) == "/"
    assert safe_next(None, default) == "/"


def test_a_safe_fallback_and_no_target_are_kept() -> None:
    assert safe_next(None, "/tools/") == "/tools/"
    assert safe_next("//evil.example", "") == ""


@pytest.mark.parametrize(
    ("query", "url"),
    [
        ("a=1&b=%20c+d;e", "a=1&b=%20c+d;e"),
        ("a=\xff\xfe", "a=%FF%FE"),  # raw bytes, as PEP 3333 passes them
        ("q=caf\xc3\xa9", "q=caf%C3%A9"),
        ('a=x\\y|z"<>{}^`', "a=x%5Cy%7Cz%22%3C%3E%7B%7D%5E%60"),
        ("a=b c#d", "a=b%20c%23d"),
        ("next=/x?y=1&z=%zz", "next=/x?y=1&z=%zz"),  # a stray "%" is the client's own
        ("a=\x00\r\n", "a=%00%0D%0A"),
    ],
    ids=[
        "plain",
        "raw-bytes",
        "raw-utf8",
        "unsafe-ascii",
        "space-hash",
        "stray-percent",
        "controls",
    ],
)
def test_a_query_is_put_back_as_the_same_bytes(query: str, url: str) -> None:
    assert url_query(query) == url
    assert unquote_to_bytes(url) == unquote_to_bytes(query.encode("latin-1"))


@pytest.mark.parametrize(
    ("path", "url"),
    [
        ("/reports", "/reports"),
        ("/caf\xc3\xa9", "/caf%C3%A9"),
        ("/100%", "/100%25"),
        ("/a b/c?d", "/a%20b/c%3Fd"),
    ],
    ids=["plain", "non-ascii", "percent", "space-question"],
)
def test_a_path_is_put_back_as_the_browser_wrote_it(path: str, url: str) -> None:
    assert url_path(path) == url


@pytest.mark.parametrize(
    ("target", "kept"),
    [
        ("/search?q=C:%5Cdocs%5Cq3.xlsx", True),
        ("/search?q=C:\\docs", True),
        ("/wiki/Page#a\\b", True),
        ("/x?q=a%09b%0d%0a", True),
        ("/x?q=a\tb", False),
        ("/a%5Cb", False),
        ("/a%255Cb", False),
        ("/\\evil.example", False),
        ("/%5C%5Cevil.example", False),
    ],
)
def test_a_backslash_counts_only_in_the_path(target: str, kept: bool) -> None:
    """A browser reads a backslash as a slash in the path only: a query that holds a
    Windows path is a page of this site, and signing in must lead back to it."""
    assert (safe_next(target, "/home") == target) is kept
