"""Reading, writing and stripping the gate's cookies."""

from __future__ import annotations

import time

import pytest
from werkzeug.http import dump_cookie
from werkzeug.http import http_date as werkzeug_http_date

from pwless_gate import GateConfig
from pwless_gate.cookies import MAX_SESSION_COOKIE, Cookies, cookie_header, http_date
from pwless_gate.errors import SessionTooLarge

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
        ("a=1;\tpwless_gate_session=abc", "abc"),
        ("a=1;  pwless_gate_session=abc", "abc"),
        (" pwless_gate_session=abc", "abc"),
        # Inside another cookie's value (a sibling subdomain can plant one): not a cookie.
        ("tossed=x pwless_gate_session=planted; pwless_gate_session=real", "real"),
        ("x pwless_gate_session=planted; pwless_gate_session=real", "real"),
        ("tossed=x\tpwless_gate_session=planted", None),
        ("a=1 pwless_gate_session=planted", None),
        # Two Cookie lines joined with "," by the server: not a cookie of its own either.
        ("a=1, pwless_gate_session=abc", None),
        ("a=1,pwless_gate_session=abc", None),
        ("a=1;\npwless_gate_session=abc", None),
    ],
    ids=lambda value: repr(value),
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
    value = "v" * MAX_SESSION_COOKIE
    headers = cookies.session_headers({}, value)
    assert len(headers) == 2
    assert all(len(h) < 4096 for h in headers)
    pairs = "; ".join(h.split(";")[0] for h in headers)
    assert cookies.session_from_environ({"HTTP_COOKIE": f"a=1; {pairs}; b=2"}) == value
    assert cookies.session_from_environ({"HTTP_COOKIE": headers[0].split(";")[0]}) is None
    # Written before the limit: three chunks are still read until they expire.
    three = f"pwless_gate_session=3~{'a' * 10}; pwless_gate_session_1=b; pwless_gate_session_2=c"
    assert cookies.session_from_environ({"HTTP_COOKIE": three}) == "a" * 10 + "bc"


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("pwless_gate_session=2~aa; pwless_gate_session_1=bb", "aabb"),
        ("pwless_gate_session=2~aa;\tpwless_gate_session_1=bb", "aabb"),
        # The first chunk of a name counts, as the first session cookie does.
        ("pwless_gate_session=2~aa; pwless_gate_session_1=bb; pwless_gate_session_1=xx", "aabb"),
        # A chunk inside another cookie's value, or after a ",", is not one.
        ("pwless_gate_session=2~aa; tossed=x pwless_gate_session_1=xx", None),
        ("pwless_gate_session=2~aa; a=1, pwless_gate_session_1=xx", None),
        ("pwless_gate_session=2~aa; a=1;\npwless_gate_session_1=xx", None),
        ("tossed=x pwless_gate_session=2~xx; pwless_gate_session_1=bb", None),
    ],
    ids=lambda value: repr(value),
)
def test_chunks_are_read_only_as_cookies_of_their_own(header: str, value: str | None) -> None:
    assert Cookies(CONFIG).session_from_environ({"HTTP_COOKIE": header}) == value


def test_a_session_over_the_limit_gets_no_cookies() -> None:
    cookies = Cookies(CONFIG)
    with pytest.raises(SessionTooLarge) as raised:
        cookies.session_headers({}, "v" * (MAX_SESSION_COOKIE + 1))
    assert (raised.value.size, raised.value.limit) == (MAX_SESSION_COOKIE + 1, MAX_SESSION_COOKIE)


def test_the_longest_session_leaves_room_in_a_cookie_line_servers_take() -> None:
    """gunicorn refuses a header line over 8190 bytes, nginx over 8 KB: the session's
    cookies leave over 2000 bytes for the browser id, the language and the app's own."""
    cookies = Cookies(CONFIG)
    environ = {"wsgi.url_scheme": "https", "SCRIPT_NAME": "/a-long-mount-path"}
    pairs = cookies.session_pairs(environ, "v" * MAX_SESSION_COOKIE)
    line = "Cookie: " + "; ".join(f"{name}={value}" for name, value in pairs)
    assert len(line) < 8190 - 2000


def test_saved_form_handle_is_read_only_as_a_cookie_of_its_own() -> None:
    cookies = Cookies(CONFIG)
    handle = "h" * 43
    for header, found in [
        (f"a=1; pwless_gate_form={handle}", handle),
        (f"a=1;\tpwless_gate_form={handle} ", handle),
        (f"tossed=x pwless_gate_form={handle}", None),
        (f"a=1, pwless_gate_form={handle}", None),
        (f"a=1;\npwless_gate_form={handle}", None),
        (f"pwless_gate_form={handle} x", None),
    ]:
        assert cookies.saved_form_in({"HTTP_COOKIE": header}, False, False) == found, header


def test_clear_headers_delete_the_session_and_every_chunk_sent() -> None:
    cookies = Cookies(CONFIG)
    pairs = "pwless_gate_session=3~a; pwless_gate_session_1=b; pwless_gate_session_2=c"
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
        ("keep=1;\tpwless_gate_session=s", "keep=1"),
        # Two Cookie lines joined with "," (gunicorn, Werkzeug's server): cut there too.
        ("a=1,pwless_gate_session=s", "a=1"),
        ("pwless_gate_session=s,a=1", "a=1"),
        ("a=1, pwless_gate_session=s", "a=1"),
        ("a=1, pwless_gate_session=s; b=2", "a=1; b=2"),
        ("a=1; pwless_gate_session=s,b=2", "a=1;b=2"),
        ("a=1,pwless_gate_session=2~s,pwless_gate_session_1=t,b=2", "a=1,b=2"),
        ("pwless_gate_session=s, pwless_gate_browser=b", None),
        ('k="x;y"; pwless_gate_session=s; z=1', 'k="x;y"; z=1'),
        ("a=1,b=2; c=3", "a=1,b=2; c=3"),
        # Text inside another cookie's value is that cookie's, not the gate's.
        ("tossed=x pwless_gate_session=planted", "tossed=x pwless_gate_session=planted"),
    ],
    ids=lambda value: repr(value),
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


@pytest.mark.parametrize(
    "seconds",
    [0, 951782400, 1709164800, 1700000000, 1735689599, 4102444800, 253402300799]
    + [1704067200 + day * 86400 + day * 3671 for day in range(0, 400, 13)],
)
def test_http_date_is_werkzeugs(seconds: int) -> None:
    assert http_date(seconds) == werkzeug_http_date(seconds)


@pytest.mark.parametrize(
    ("name", "value", "max_age", "secure", "path", "samesite"),
    [
        ("pwless_gate_browser", "AbC-_0123456789abcdefghij", 34560000, False, "/", "Lax"),
        ("__Host-pwless_gate_session", "sid.sig-_~", 28800, True, "/", "Lax"),
        ("__Secure-pwless_gate_lang", "pt-BR", 34560000, True, "/tools", "Lax"),
        ("pwless_gate_form", "h" * 43, 0, False, "/t%C3%A9;x y", "Strict"),
        ("pwless_gate_session", "2~" + "x" * 3800, 3600, False, "/a@b", "Lax"),
        ("pwless_gate_session", "", 60, False, "/", "Lax"),
        ("pwless_gate_lang", "has space", 60, False, "/", "Lax"),  # quoted by dump_cookie
        ("pwless_gate_lang", 'q"uote;', 60, True, "/", "Strict"),
        ("pwless_gate_lang", "caf\u00e9", 60, False, "/", "Lax"),
        ("pwless_gate_lang", "x", None, False, "/", "Lax"),
    ],
)
def test_cookie_header_is_dump_cookies(
    name: str, value: str, max_age: int | None, secure: bool, path: str, samesite: str
) -> None:
    for _ in range(3):  # the Expires date of both in the same second
        second = int(time.time())
        ours = cookie_header(
            name, value, max_age=max_age, secure=secure, path=path, samesite=samesite
        )
        theirs = dump_cookie(
            name,
            value,
            max_age=max_age,
            path=path,
            secure=secure,
            httponly=True,
            samesite=samesite,
        )
        if int(time.time()) == second:
            break
    assert ours == theirs
