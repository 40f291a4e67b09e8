"""Cache headers on answers admitted by a session: the table, the wrappers, the gate."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
from werkzeug.test import Client

from pwless_gate import GateConfig, PasswordlessGate
from pwless_gate.caching import private, private_headers, private_setting_cookies
from pwless_gate.testing import session_cookie

from .helpers import FakeClock, state_dir

TYPE = ("Content-Type", "text/html")
Headers = list[tuple[str, str]]

CASES = [
    pytest.param([TYPE], [TYPE, ("Cache-Control", "private"), ("Vary", "Cookie")], id="none-set"),
    pytest.param(
        [TYPE, ("Cache-Control", "public, max-age=600")],
        [TYPE, ("Cache-Control", "private, max-age=600"), ("Vary", "Cookie")],
        id="public-dropped-max-age-kept",
    ),
    pytest.param(
        [("Cache-Control", "PUBLIC, s-maxage=3600, max-age=60")],
        [("Cache-Control", "private, max-age=60"), ("Vary", "Cookie")],
        id="s-maxage-dropped-any-case",
    ),
    pytest.param(
        [("Cache-Control", "no-cache, no-store, must-revalidate")],
        [("Cache-Control", "private, no-cache, no-store, must-revalidate"), ("Vary", "Cookie")],
        id="stricter-directives-kept",
    ),
    pytest.param(
        [("Cache-Control", 'private="Set-Cookie, X-Token", max-age=5')],
        [("Cache-Control", "private, max-age=5"), ("Vary", "Cookie")],
        id="qualified-private-made-whole",
    ),
    pytest.param(
        [("Cache-Control", 'no-cache="Set-Cookie, X-A", public')],
        [("Cache-Control", 'private, no-cache="Set-Cookie, X-A"'), ("Vary", "Cookie")],
        id="comma-inside-quotes-not-split",
    ),
    pytest.param(
        [("Cache-Control", "private"), ("Cache-Control", "max-age=30")],
        [("Cache-Control", "private, max-age=30"), ("Vary", "Cookie")],
        id="two-headers-merged-private-once",
    ),
    pytest.param(
        [("cache-control", "public"), ("X-Frame-Options", "DENY")],
        [("X-Frame-Options", "DENY"), ("Cache-Control", "private"), ("Vary", "Cookie")],
        id="lowercase-name",
    ),
    pytest.param(
        [TYPE, ("Vary", "Accept-Encoding")],
        [TYPE, ("Cache-Control", "private"), ("Vary", "Accept-Encoding, Cookie")],
        id="vary-merged",
    ),
    pytest.param(
        [("VARY", "cookie, Accept"), ("vary", "Accept-Encoding, ACCEPT")],
        [("Cache-Control", "private"), ("Vary", "cookie, Accept, Accept-Encoding")],
        id="vary-no-duplicates-any-case",
    ),
    pytest.param(
        [("Vary", "*"), TYPE],
        [TYPE, ("Cache-Control", "private"), ("Vary", "*")],
        id="vary-star-left-alone",
    ),
    pytest.param(
        [
            TYPE,
            ("CDN-Cache-Control", "max-age=600"),
            ("Surrogate-Control", "max-age=600"),
            ("Cloudflare-CDN-Cache-Control", "max-age=60"),
            ("Edge-Control", "cache-maxage=600s"),
        ],
        [TYPE, ("Cache-Control", "private"), ("Vary", "Cookie")],
        id="cdn-only-headers-dropped",
    ),
    pytest.param(
        [("cdn-cache-control", "public, max-age=600"), ("Cache-Control", "max-age=5")],
        [("Cache-Control", "private, max-age=5"), ("Vary", "Cookie")],
        id="cdn-header-dropped-any-case",
    ),
    pytest.param(
        [("Cache-Control", " , max-age=1 ,"), ("Vary", "")],
        [("Cache-Control", "private, max-age=1"), ("Vary", "Cookie")],
        id="empty-members-dropped",
    ),
]


@pytest.mark.parametrize(("app", "expected"), CASES)
def test_private_headers(app: Headers, expected: Headers) -> None:
    assert private_headers(app) == expected


@pytest.mark.parametrize(
    ("app", "expected"),
    [
        pytest.param([TYPE], "private, no-store", id="none-set"),
        pytest.param(
            [("Cache-Control", "public, max-age=600, No-Store")],
            "private, no-store, max-age=600",
            id="no-store-once",
        ),
    ],
)
def test_no_store_when_a_cookie_is_set(app: Headers, expected: str) -> None:
    headers = private_headers(app, no_store=True)
    assert [v for n, v in headers if n == "Cache-Control"] == [expected]


class Recorder:
    """A server's start_response that keeps what it was given."""

    def __init__(self) -> None:
        self.status = ""
        self.headers: Headers = []

    def __call__(self, status: str, headers: Headers, exc_info: Any = None) -> Any:
        self.status, self.headers = status, headers
        return lambda data: None


@pytest.mark.parametrize(
    "app",
    [
        pytest.param([TYPE], id="fast-path"),
        pytest.param([TYPE, ("CACHE-control", "public")], id="rewritten"),
        pytest.param([TYPE, ("Surrogate-Control", "max-age=600")], id="cdn-only"),
        pytest.param([("cloudflare-cdn-cache-control", "max-age=60")], id="cdn-only-lower"),
    ],
)
def test_the_wrapper_leaves_the_apps_list_alone(app: Headers) -> None:
    server = Recorder()
    given = list(app)
    private(server)("200 OK", given)
    assert given == app
    assert server.status == "200 OK"
    assert server.headers == private_headers(app)
    assert not any("surrogate" in n.lower() or "cdn" in n.lower() for n, _ in server.headers)


def test_setting_cookies_appends_them_after_the_private_headers() -> None:
    server = Recorder()
    private_setting_cookies(server, ["a=1; HttpOnly", "b=2"])("200 OK", [TYPE])
    assert server.headers == [
        TYPE,
        ("Cache-Control", "private, no-store"),
        ("Vary", "Cookie"),
        ("Set-Cookie", "a=1; HttpOnly"),
        ("Set-Cookie", "b=2"),
    ]


# -- through the gate -----------------------------------------------------------------------


def public_page(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """An app that calls every page public, the worst case for a shared cache."""
    start_response("200 OK", [TYPE, ("Cache-Control", "public, max-age=600")])
    return [b"page of " + environ.get("REMOTE_USER", "nobody").encode()]


def gate_with(clock: FakeClock, **settings: Any) -> PasswordlessGate:
    config = GateConfig(
        auth0_domain="acme.eu.auth0.com",
        client_id="client",
        client_secret="secret",
        secret_key="k" * 32,
        allowed_domains=("example.com",),
        **({} if "store" in settings else {"state_dir": state_dir()}),
        **settings,
    )
    return PasswordlessGate(public_page, config, clock=clock)


def test_a_forwarded_answer_is_private_and_a_public_path_is_the_apps() -> None:
    clock = FakeClock()
    gate = gate_with(clock, public_paths=("/static/",))
    cookie = session_cookie(gate, email="ada@example.com", now=clock())
    client = Client(gate, use_cookies=False)  # its cookie jar would replace our header

    page = client.get("/report", headers={"Cookie": cookie})
    assert page.get_data() == b"page of ada@example.com"
    assert page.headers.getlist("Cache-Control") == ["private, max-age=600"]
    assert page.headers.getlist("Vary") == ["Cookie"]
    assert "Set-Cookie" not in page.headers

    anonymous = client.get("/static/app.css")
    assert anonymous.headers.getlist("Cache-Control") == ["public, max-age=600"]
    assert "Vary" not in anonymous.headers


def test_a_renewed_session_is_forwarded_with_its_cookie_and_no_store() -> None:
    clock = FakeClock()
    # The cookie store: its renewal rewrites the cookie.
    gate = gate_with(clock, session_idle_timeout=600, store="cookie")
    cookie = session_cookie(gate, email="ada@example.com", now=clock())
    clock.advance(301)  # "last seen" is due: the session is pushed back

    page = Client(gate, use_cookies=False).get("/report", headers={"Cookie": cookie})

    assert page.get_data() == b"page of ada@example.com"
    assert any(c.startswith("pwless_gate_session=") for c in page.headers.getlist("Set-Cookie"))
    assert page.headers.getlist("Cache-Control") == ["private, no-store, max-age=600"]
    assert page.headers.getlist("Vary") == ["Cookie"]


def tuple_headers(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """An app that gives its headers as a tuple: not PEP 3333's list, but gunicorn and
    Werkzeug take it, so an app may have done so for years."""
    start_response("200 OK", (TYPE, ("Content-Length", "2")))
    return [b"ok"]


@pytest.mark.parametrize("idle_timeout", [0, 600], ids=["forwarded", "renewed"])
def test_an_app_giving_its_headers_as_a_tuple_is_answered(idle_timeout: int) -> None:
    """It was a 500 (``tuple + list``) as soon as the gate added its cache headers."""
    clock = FakeClock()
    gate = gate_with(clock, session_idle_timeout=idle_timeout, store="cookie")
    gate.app = tuple_headers
    cookie = session_cookie(gate, email="ada@example.com", now=clock())
    clock.advance(301 if idle_timeout else 0)  # renewed: "last seen" is due

    page = Client(gate, use_cookies=False).get("/report", headers={"Cookie": cookie})

    assert (page.status_code, page.get_data()) == (200, b"ok")
    assert page.headers.getlist("Cache-Control")[0].startswith("private")
