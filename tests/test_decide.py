"""The decision core, with no server: request facts in, a decision out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from pwless_gate import GateConfig
from pwless_gate.cookies import Cookies
from pwless_gate.decide import (
    Anonymous,
    Challenge,
    Decider,
    Deny,
    Forward,
    ForwardAndSignOut,
    GateRoute,
    Renew,
    RequestFacts,
    Unavailable,
)
from pwless_gate.errors import StoreUnavailable
from pwless_gate.sessions import Session, SessionCache, User, new_session_id
from pwless_gate.stores import CookieStore

from .helpers import FakeClock

BROWSER = {"HTTP_ACCEPT": "text/html,application/xhtml+xml,*/*;q=0.8"}
API = {"HTTP_ACCEPT": "application/json"}


class Core:
    """A decider over a real cookie store and cache, with a hand-moved clock."""

    def __init__(self, **settings: Any) -> None:
        authorize = settings.pop("authorize", None)
        self.clock = FakeClock()
        self.config = GateConfig(
            auth0_domain="acme.eu.auth0.com",
            client_id="client",
            client_secret="secret",
            secret_key="k" * 32,
            allowed_domains=("*",),
            **settings,
        )
        self.store: Any = CookieStore(self.config.signing_keys)
        self.sessions = SessionCache(
            self.store, ttl=5, clock=self.clock, roles_claim=self.config.roles_claim
        )
        self.cookies = Cookies(self.config)
        self.decider = Decider(
            prefix=self.config.prefix,
            cookies=self.cookies,
            sessions=self.sessions,
            rules=self.config.rules,
            host_of=self.config.proxies.host,
            public_preflight=self.config.public_preflight,
            authorize=authorize,
            logout_paths=frozenset(self.config.logout_paths),
            clock=self.clock,
        )

    def sign_in(self, lifetime: float = 3600, **extra: Any) -> str:
        now = self.clock()
        value = self.sessions.save(
            Session(
                sid=new_session_id(),
                remote_user="ada@example.com",
                connection="email",
                claims={"sub": "email|ada", "email": "ada@example.com"},
                created_at=now,
                expires_at=now + lifetime,
                **extra,
            )
        )
        return f"pwless_gate_session={value}"

    def decide(
        self,
        path: str = "/",
        *,
        cookie: str | None = None,
        method: str = "GET",
        headers: Mapping[str, str] = BROWSER,
        https: bool = False,
    ) -> Any:
        return self.decider.decide(RequestFacts(method, path, cookie, https, headers))


def test_a_valid_session_is_forwarded_with_its_user() -> None:
    core = Core()
    decision = core.decide("/reports", cookie=core.sign_in())
    assert type(decision) is Forward
    assert decision.entry.user.email == "ada@example.com"
    assert decision.entry.environ["REMOTE_USER"] == "ada@example.com"
    assert decision.cookie is None


@pytest.mark.parametrize(
    ("headers", "api"),
    [
        (BROWSER, False),
        (API, True),
        ({"HTTP_X_REQUESTED_WITH": "XMLHttpRequest"}, True),
        ({"HTTP_SEC_FETCH_MODE": "cors", "HTTP_SEC_FETCH_DEST": "empty"}, True),
        ({"HTTP_SEC_FETCH_MODE": "navigate", "HTTP_ACCEPT": "application/json"}, False),
    ],
    ids=["browser", "json-accept", "xhr", "fetch", "navigation"],
)
def test_nobody_signed_in_is_challenged_as_browser_or_api(
    headers: dict[str, str], api: bool
) -> None:
    decision = Core().decide("/reports", headers=headers)
    assert type(decision) is Challenge
    assert decision.api is api


@pytest.mark.parametrize("path", ["/_gate", "/_gate/login", "/_gate/anything"])
def test_gate_paths_go_to_the_gate(path: str) -> None:
    assert type(Core().decide(path)) is GateRoute


def test_a_path_that_only_starts_like_the_prefix_is_the_apps() -> None:
    assert type(Core().decide("/_gateway")) is Challenge


@pytest.mark.parametrize(
    "cookie",
    [
        "pwless_gate_session=forged",
        "other=1; xpwless_gate_session=abc",
        "pwless_gate_session=" + "9" * 5000 + "~abc",
        "pwless_gate_session=2~abc",
    ],
    ids=["forged", "lookalike-name", "digit-run-chunks", "missing-chunk"],
)
def test_bad_cookies_are_challenged(cookie: str) -> None:
    assert type(Core().decide("/", cookie=cookie)) is Challenge


def test_an_expired_session_is_challenged() -> None:
    core = Core()
    cookie = core.sign_in(lifetime=60)
    core.clock.advance(61)
    assert type(core.decide("/", cookie=cookie)) is Challenge


def test_the_https_cookie_name_is_not_read_over_http() -> None:
    core = Core()
    value = core.sign_in().split("=", 1)[1]
    assert type(core.decide("/", cookie=f"__Host-pwless_gate_session={value}")) is Challenge
    assert (
        type(core.decide("/", cookie=f"__Host-pwless_gate_session={value}", https=True)) is Forward
    )


def test_a_session_due_for_a_token_refresh_is_renewed_first() -> None:
    core = Core()
    now = core.clock()
    cookie = core.sign_in(access_token="at", access_expires_at=now + 120, refresh_token="rt")
    assert type(core.decide("/", cookie=cookie)) is Forward
    core.clock.advance(61)  # within a minute of the access token's end
    decision = core.decide("/", cookie=cookie)
    assert type(decision) is Renew
    assert decision.value == cookie.split("=", 1)[1]


def test_public_paths_are_anonymous_without_and_forwarded_with_a_session() -> None:
    core = Core(public_paths=("/static/", "^/api/v[0-9]+/health$"))
    assert type(core.decide("/static/app.css")) is Anonymous
    assert type(core.decide("/api/v2/health")) is Anonymous
    assert type(core.decide("/static/../admin")) is Challenge
    assert type(core.decide("/static/app.css", cookie=core.sign_in())) is Forward


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (
            {"HTTP_ORIGIN": "https://app.example", "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "PUT"},
            Anonymous,
        ),
        ({"HTTP_ORIGIN": "https://app.example"}, Challenge),
        ({"HTTP_ACCESS_CONTROL_REQUEST_METHOD": "PUT"}, Challenge),
    ],
    ids=["preflight", "origin-only", "no-origin"],
)
def test_only_real_preflights_are_public(headers: dict[str, str], expected: type) -> None:
    core = Core(public_preflight=True)
    assert type(core.decide("/api/items", method="OPTIONS", headers=headers)) is expected


def test_a_preflight_says_it_is_anonymous_only_as_a_preflight() -> None:
    core = Core(public_preflight=True, public_paths=("/static/",))
    headers = {"HTTP_ORIGIN": "https://app.example", "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "PUT"}
    preflight = core.decide("/api/items", method="OPTIONS", headers=headers)
    assert type(preflight) is Anonymous
    assert preflight.preflight is True
    public = core.decide("/static/app.css", method="OPTIONS", headers=headers)
    assert type(public) is Anonymous
    assert public.preflight is False
    assert core.decide("/static/app.css").preflight is False
    signed_in = core.decide("/api/items", method="OPTIONS", headers=headers, cookie=core.sign_in())
    assert type(signed_in) is Forward


def test_a_refused_or_unverifiable_preflight_is_still_only_a_preflight() -> None:
    headers = {"HTTP_ORIGIN": "https://app.example", "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "PUT"}
    refusing = Core(public_preflight=True, authorize=lambda environ, user: False)
    refused = refusing.decide("/api", method="OPTIONS", headers=headers, cookie=refusing.sign_in())
    assert type(refused) is Anonymous
    assert refused.preflight is True
    down = Core(public_preflight=True)
    down.sessions.store = DownStore()
    cookie = "pwless_gate_session=" + "a" * 43
    unverified = down.decide("/api", method="OPTIONS", headers=headers, cookie=cookie)
    assert type(unverified) is Anonymous
    assert unverified.preflight is True


def test_preflights_are_challenged_unless_public_preflight() -> None:
    headers = {"HTTP_ORIGIN": "https://app.example", "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "PUT"}
    assert type(Core().decide("/api", method="OPTIONS", headers=headers)) is Challenge


def test_authorize_refusal_is_a_deny_with_the_user() -> None:
    seen: list[tuple[str, str | None]] = []

    def authorize(environ: Mapping[str, Any], user: User) -> bool:
        seen.append((environ.get("HTTP_ACCEPT", ""), user.email))
        return False

    core = Core(authorize=authorize, public_paths=("/static/",))
    cookie = core.sign_in()
    decision = core.decide("/admin", cookie=cookie, headers=API)
    assert type(decision) is Deny
    assert decision.api is True
    assert decision.user.email == "ada@example.com"
    assert seen == [("application/json", "ada@example.com")]
    # A public path stays public for someone authorize refuses.
    assert type(core.decide("/static/x.css", cookie=cookie)) is Anonymous


def test_authorize_is_asked_per_request() -> None:
    core = Core(authorize=lambda environ, user: environ.get("HTTP_X_ROLE") == "ok")
    cookie = core.sign_in()
    assert type(core.decide("/", cookie=cookie, headers={"HTTP_X_ROLE": "ok"})) is Forward
    assert type(core.decide("/", cookie=cookie, headers={"HTTP_X_ROLE": "no"})) is Deny


class DownStore:
    def load(self, cookie_value: str) -> Session | None:
        raise StoreUnavailable("down")


def test_a_store_that_does_not_answer_fails_closed_except_on_public_paths() -> None:
    core = Core(public_paths=("/static/",))
    core.sessions.store = DownStore()
    cookie = "pwless_gate_session=" + "a" * 43
    assert type(core.decide("/reports", cookie=cookie)) is Unavailable
    assert type(core.decide("/static/app.css", cookie=cookie)) is Anonymous


# -- the app's own logout paths ---------------------------------------------------------


@pytest.mark.parametrize("path", ["/logout", "/logout/", "/cgi/logout"])
def test_a_logout_path_forwards_the_user_and_ends_the_session(path: str) -> None:
    core = Core(logout_paths=("/logout", "/cgi/logout/"))
    cookie = core.sign_in()
    decision = core.decide(path, cookie=cookie, method="POST")
    assert type(decision) is ForwardAndSignOut
    assert decision.entry.user.email == "ada@example.com"
    assert decision.values == (cookie.split("=", 1)[1],)


@pytest.mark.parametrize(
    "path",
    ["/logout/x", "/logoutx", "/x/logout", "/Logout", "//logout", "/x/../logout", "/logout;a"],
)
def test_only_the_exact_logout_paths_end_a_session(path: str) -> None:
    core = Core(logout_paths=("/logout",))
    assert type(core.decide(path, cookie=core.sign_in())) is Forward


def test_without_a_session_a_logout_path_is_challenged_towards_the_home() -> None:
    core = Core(logout_paths=("/logout",))
    decision = core.decide("/logout")
    assert type(decision) is Challenge
    assert decision.home is True
    assert core.decide("/reports").home is False
    assert Core().decide("/logout").home is False  # not a logout path there
    assert core.decide("/logout", headers=API).api is True


def test_authorize_is_asked_before_a_logout_path_ends_anything() -> None:
    core = Core(logout_paths=("/logout",), authorize=lambda environ, user: False)
    assert type(core.decide("/logout", cookie=core.sign_in())) is Deny


def test_a_logout_path_that_is_also_public_is_anonymous_without_a_session() -> None:
    core = Core(logout_paths=("/logout",), public_paths=("/logout",))
    assert type(core.decide("/logout")) is Anonymous
    assert type(core.decide("/logout", cookie=core.sign_in())) is ForwardAndSignOut


def test_a_renewed_session_on_a_logout_path_ends_both_cookie_values() -> None:
    core = Core(logout_paths=("/logout",))
    cookie = core.sign_in()
    entry = core.sessions.lookup(cookie.split("=", 1)[1])
    assert entry is not None
    facts = RequestFacts("GET", "/logout", cookie, False, BROWSER)
    decision = core.decider.admit(facts, entry, "renewed", value="old")
    assert type(decision) is ForwardAndSignOut
    assert decision.values == ("old", "renewed")
    assert type(core.decider.admit(facts, entry)) is ForwardAndSignOut
    elsewhere = RequestFacts("GET", "/", cookie, False, BROWSER)
    assert type(core.decider.admit(elsewhere, entry, "renewed", value="old")) is Forward
