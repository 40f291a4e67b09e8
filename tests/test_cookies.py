"""Reading, writing and stripping the gate's cookies."""

from __future__ import annotations

import pytest

from pwless_gate import GateConfig
from pwless_gate.cookies import CHUNK_SIZE, Cookies

CONFIG = GateConfig(
    auth0_domain="http://127.0.0.1:9", client_id="c", client_secret="s", allowed_domains=("*",)
)


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("pwless_gate_session=abc", "abc"),
        ("a=1; pwless_gate_session=abc; b=2", "abc"),
        ("a=1;pwless_gate_session=abc", "abc"),
        ("xpwless_gate_session=no; pwless_gate_session=yes", "yes"),
        ("__Host-pwless_gate_session=secure-only", None),
        ("pwless_gate_session=", None),
        ("pwless_gate_sessionx=abc", None),
        ("", None),
    ],
)
def test_session_value_from_header(header: str, value: str | None) -> None:
    assert Cookies(CONFIG).session_from_environ({"HTTP_COOKIE": header}) == value


def test_https_reads_only_the_host_prefixed_cookie() -> None:
    cookies = Cookies(CONFIG)
    environ = {"HTTP_COOKIE": "pwless_gate_session=planted", "wsgi.url_scheme": "https"}
    assert cookies.session_from_environ(environ) is None
    environ["HTTP_COOKIE"] = "pwless_gate_session=planted; __Host-pwless_gate_session=real"
    assert cookies.session_from_environ(environ) == "real"


def test_chunks_round_trip() -> None:
    cookies = Cookies(CONFIG)
    value = "v" * (CHUNK_SIZE * 2 + 10)
    headers = cookies.session_headers({}, value)
    assert len(headers) == 3
    assert all(len(h) < 4096 for h in headers)
    pairs = "; ".join(h.split(";")[0] for h in headers)
    assert cookies.session_from_environ({"HTTP_COOKIE": f"a=1; {pairs}; b=2"}) == value
    missing = "; ".join(h.split(";")[0] for h in headers[:2])
    assert cookies.session_from_environ({"HTTP_COOKIE": missing}) is None


def test_clear_headers_delete_the_session_and_every_chunk_sent() -> None:
    cookies = Cookies(CONFIG)
    value = "v" * (CHUNK_SIZE * 2 + 10)
    pairs = "; ".join(h.split(";")[0] for h in cookies.session_headers({}, value))
    cleared = cookies.clear_headers({"HTTP_COOKIE": f"a=1; {pairs}"})
    names = [h.split("=", 1)[0] for h in cleared]
    assert names == ["pwless_gate_session", "pwless_gate_session_1", "pwless_gate_session_2"]
    assert all("Max-Age=0" in h and "Path=/" in h and "HttpOnly" in h for h in cleared)
    secure = cookies.clear_headers({"HTTP_COOKIE": "x=1", "wsgi.url_scheme": "https"})
    assert [h.split("=", 1)[0] for h in secure] == ["__Host-pwless_gate_session"]
    assert "Secure" in secure[0]


@pytest.mark.parametrize(
    ("header", "left"),
    [
        (
            "theme=dark; pwless_gate_browser=b; pwless_gate_session=s; other=1",
            "theme=dark; other=1",
        ),
        ("pwless_gate_session=s", None),
        ("pwless_gate_session=s; pwless_gate_session_1=t; keep=1", "keep=1"),
        ("keep=1; __Host-pwless_gate_session=s", "keep=1"),
        ("mypwless_gate_session=keep", "mypwless_gate_session=keep"),
    ],
)
def test_strip_own(header: str, left: str | None) -> None:
    cookies = Cookies(CONFIG)
    for _ in range(2):  # computed, then remembered
        environ = {"HTTP_COOKIE": header}
        cookies.strip_own(environ)
        assert environ.get("HTTP_COOKIE") == left


def test_strip_memo_is_bounded() -> None:
    cookies = Cookies(CONFIG)
    for i in range(5000):
        cookies.strip_own({"HTTP_COOKIE": f"pwless_gate_session=s{i}; a={i}"})
    assert len(cookies._stripped) <= 2048
    environ = {"HTTP_COOKIE": "pwless_gate_session=" + "x" * 5000 + "; a=1"}
    cookies.strip_own(environ)
    assert environ["HTTP_COOKIE"] == "a=1"


def test_a_remembered_header_answers_per_kind_as_a_fresh_read() -> None:
    """The memo of recent headers is keyed by the kind of request, not only the header."""
    header = (
        "a=1; pwless_gate_session=plain; __Host-pwless_gate_session=host; "
        "__Secure-pwless_gate_session=mounted"
    )
    cookies = Cookies(CONFIG)
    expected = {
        (False, False): "plain",
        (True, False): "host",
        (True, True): "mounted",
        (False, True): "plain",
    }
    for _ in range(2):  # the second round is answered from the memo
        for (secure, mounted), value in expected.items():
            assert cookies.session_from_header(header, secure, mounted) == value
    assert Cookies(CONFIG).session_from_header(header + "x", True, True) == "mountedx"
