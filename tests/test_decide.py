"""The decision core, with no server: request facts in, a decision out."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from pwless_gate import GateConfig
from pwless_gate.cookies import Cookies
from pwless_gate.decide import (
    Anonymous,
    Challenge,
    Closed,
    Decider,
    Deny,
    Forward,
    ForwardAndSignOut,
    GateRoute,
    MachineToken,
    Renew,
    RequestFacts,
    StepUp,
    Unavailable,
    from_browser_script,
    is_navigation,
)
from pwless_gate.errors import StoreUnavailable
from pwless_gate.sessions import CachedSession, Session, SessionCache, User, new_session_id
from pwless_gate.stores import CookieStore

from .helpers import FakeClock

#: An older browser's navigation: no ``Sec-Fetch-*``, HTML first, a browser's User-Agent.
BROWSER = {
    "HTTP_ACCEPT": "text/html,application/xhtml+xml,*/*;q=0.8",
    "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64; rv:78.0) Gecko/20100101 Firefox/78.0",
}
API = {"HTTP_ACCEPT": "application/json"}


class Core:
    """A decider over a real cookie store and cache, with a hand-moved clock."""

    def __init__(self, **settings: Any) -> None:
        authorize = settings.pop("authorize", None)
        machines = settings.pop("machines", None)
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
            machines=machines,
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


CHROME_ACCEPT = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)
FIREFOX_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
SAFARI_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
PIP_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
    "text/html; q=0.01"
)


#: User-Agent headers of browsers that send no ``Sec-Fetch-*`` headers, and of tools
#: that ask for HTML first as they do.
SAFARI_15_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/15.6 Safari/605.1.15"
)
CHROME_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
FIREFOX_78_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:78.0) Gecko/20100101 Firefox/78.0"
IE_11_UA = "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko"
#: Opera Mini (Presto): still common on low-end phones; its header has kept Opera's own
#: name since 2009, and it sends no ``Sec-Fetch-*``.
OPERA_MINI_UA = (
    "Opera/9.80 (Android; Opera Mini/36.2.2254/119.132; U; id) Presto/2.12.423 Version/12.16"
)
OPERA_12_UA = "Opera/9.80 (Windows NT 6.1; WOW64) Presto/2.12.388 Version/12.18"
PRESTO_ACCEPT = (
    "text/html, application/xml;q=0.9, application/xhtml+xml, image/png, image/webp, "
    "image/jpeg, image/gif, image/x-xbitmap, */*;q=0.1"
)
#: An app's webview with a name of its own.
WEBVIEW_UA = "MyCompanyApp/3.1 (iOS 15.0)"
#: What Java's HttpURLConnection (JDK 22 and before) sends with every request.
JAVA_ACCEPT = "text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2"
NODE_FETCH = {
    "HTTP_ACCEPT": "*/*",
    "HTTP_ACCEPT_LANGUAGE": "*",
    "HTTP_SEC_FETCH_MODE": "cors",
    "HTTP_USER_AGENT": "node",
}


def old_browser(accept: str, user_agent: str = FIREFOX_78_UA) -> dict[str, str]:
    """A navigation's headers from a browser that sends no ``Sec-Fetch-*``."""
    return {"HTTP_ACCEPT": accept, "HTTP_USER_AGENT": user_agent}


def navigate(accept: str, dest: str = "document", site: str = "none") -> dict[str, str]:
    """A navigation's headers from a browser that sends ``Sec-Fetch-*``."""
    return {
        "HTTP_ACCEPT": accept,
        "HTTP_SEC_FETCH_MODE": "navigate",
        "HTTP_SEC_FETCH_DEST": dest,
        "HTTP_SEC_FETCH_SITE": site,
        "HTTP_SEC_FETCH_USER": "?1",
    }


def fetched(
    mode: str, dest: str, accept: str = "*/*", user_agent: str | None = CHROME_UA
) -> dict[str, str]:
    """A browser's subresource, ``fetch()`` or XHR request."""
    headers = {
        "HTTP_ACCEPT": accept,
        "HTTP_SEC_FETCH_MODE": mode,
        "HTTP_SEC_FETCH_DEST": dest,
        "HTTP_SEC_FETCH_SITE": "same-origin",
    }
    if user_agent is not None:
        headers["HTTP_USER_AGENT"] = user_agent
    return headers


#: (id, method, headers, redirected to the sign-in page?) for real clients' requests.
CLIENTS = [
    ("chrome-navigation", "GET", navigate(CHROME_ACCEPT), True),
    ("chrome-form-post", "POST", navigate(CHROME_ACCEPT, site="same-origin"), True),
    ("chrome-iframe", "GET", navigate(CHROME_ACCEPT, dest="iframe", site="same-origin"), True),
    ("firefox-navigation", "GET", navigate(FIREFOX_ACCEPT), True),
    ("safari-17-navigation", "GET", navigate(SAFARI_ACCEPT), True),
    ("safari-15-no-sec-fetch", "GET", old_browser(SAFARI_ACCEPT, SAFARI_15_UA), True),
    ("old-firefox-no-sec-fetch", "GET", old_browser(FIREFOX_ACCEPT), True),
    ("old-browser-form-post", "POST", old_browser(FIREFOX_ACCEPT), True),
    ("ie-11", "GET", old_browser("text/html, application/xhtml+xml, */*", IE_11_UA), True),
    ("html-first-head", "HEAD", old_browser("text/html"), True),
    ("java-httpurlconnection", "GET", old_browser(JAVA_ACCEPT, "Java/17.0.15"), False),
    ("java-post", "POST", old_browser(JAVA_ACCEPT, "Java/21.0.2"), False),
    ("old-pip-index", "GET", old_browser("text/html", "pip/20.3.4 {...}"), False),
    ("opera-mini-presto", "GET", old_browser(PRESTO_ACCEPT, OPERA_MINI_UA), True),
    ("opera-12-presto", "GET", old_browser(PRESTO_ACCEPT, OPERA_12_UA), True),
    ("opera-mini-form-post", "POST", old_browser(PRESTO_ACCEPT, OPERA_MINI_UA), True),
    ("html-first-no-user-agent", "GET", {"HTTP_ACCEPT": FIREFOX_ACCEPT}, True),
    ("html-first-empty-user-agent", "GET", old_browser(FIREFOX_ACCEPT, ""), True),
    ("webview-own-user-agent", "GET", old_browser(SAFARI_ACCEPT, WEBVIEW_UA), True),
    ("lower-case-mozilla", "GET", old_browser(FIREFOX_ACCEPT, "mozilla/5.0 (X11)"), True),
    ("upper-case-java", "GET", old_browser(JAVA_ACCEPT, "JAVA/17.0.15"), False),
    ("java-tool-own-user-agent", "GET", old_browser(JAVA_ACCEPT, "Apache Ivy/2.5.2"), False),
    ("java-tool-unknown-name", "GET", old_browser(JAVA_ACCEPT, "SomeBuildTool/1.0"), False),
    ("java-tool-browser-like-name", "GET", old_browser(JAVA_ACCEPT, "Mozilla/5.0 (X)"), False),
    ("old-node-fetch", "GET", {**NODE_FETCH, "HTTP_USER_AGENT": "undici"}, False),
    ("node-fetch", "GET", NODE_FETCH, False),
    ("navigation-wanting-json", "GET", navigate("application/json"), True),
    ("chrome-image", "GET", fetched("no-cors", "image", "image/avif,image/webp,*/*;q=0.8"), False),
    ("chrome-script", "GET", fetched("no-cors", "script"), False),
    ("fetch", "GET", fetched("cors", "empty"), False),
    ("fetch-same-origin", "POST", fetched("same-origin", "empty"), False),
    ("fetch-asking-for-html", "GET", fetched("cors", "empty", "text/html"), False),
    ("fetch-no-user-agent", "GET", fetched("cors", "empty", user_agent=None), False),
    ("webview-fetch", "GET", fetched("cors", "empty", user_agent=WEBVIEW_UA), False),
    ("sec-fetch-without-mode", "GET", {"HTTP_SEC_FETCH_DEST": "document"}, False),
    (
        "xhr-no-sec-fetch",
        "GET",
        {"HTTP_ACCEPT": "text/html, */*; q=0.01", "HTTP_X_REQUESTED_WITH": "XMLHttpRequest"},
        False,
    ),
    ("json-accept", "GET", {"HTTP_ACCEPT": "application/json"}, False),
    ("curl", "GET", {"HTTP_ACCEPT": "*/*", "HTTP_USER_AGENT": "curl/8.5.0"}, False),
    ("curl-head", "HEAD", {"HTTP_ACCEPT": "*/*", "HTTP_USER_AGENT": "curl/8.5.0"}, False),
    ("wget", "GET", {"HTTP_ACCEPT": "*/*", "HTTP_USER_AGENT": "Wget/1.21.4"}, False),
    ("pip-index", "GET", {"HTTP_ACCEPT": PIP_ACCEPT, "HTTP_USER_AGENT": "pip/24.0"}, False),
    ("pip-download", "GET", {"HTTP_ACCEPT": "*/*", "HTTP_ACCEPT_ENCODING": "identity"}, False),
    ("git-info-refs", "GET", {"HTTP_ACCEPT": "*/*", "HTTP_USER_AGENT": "git/2.43.0"}, False),
    (
        "git-upload-pack",
        "POST",
        {"HTTP_ACCEPT": "application/x-git-upload-pack-result"},
        False,
    ),
    ("requests", "GET", {"HTTP_ACCEPT": "*/*", "HTTP_USER_AGENT": "python-requests/2.32"}, False),
    ("urllib-no-accept", "GET", {"HTTP_USER_AGENT": "Python-urllib/3.12"}, False),
    ("caldav-propfind", "PROPFIND", {"HTTP_ACCEPT": "text/xml", "HTTP_DEPTH": "1"}, False),
    ("caldav-report", "REPORT", {"HTTP_ACCEPT": "text/xml"}, False),
    ("propfind-asking-for-html", "PROPFIND", {"HTTP_ACCEPT": "text/html"}, False),
    ("webdav-put", "PUT", {"HTTP_ACCEPT": "text/html"}, False),
    ("delete", "DELETE", old_browser(FIREFOX_ACCEPT), False),
    ("options", "OPTIONS", {"HTTP_ACCEPT": "*/*"}, False),
    ("html-not-first", "GET", old_browser("application/xhtml+xml,text/html"), False),
    ("html-refused", "GET", old_browser("text/html;q=0"), False),
]


@pytest.mark.parametrize(
    ("method", "headers", "redirected"),
    [case[1:] for case in CLIENTS],
    ids=[case[0] for case in CLIENTS],
)
def test_only_a_browser_navigation_is_sent_to_the_sign_in_page(
    method: str, headers: dict[str, str], redirected: bool
) -> None:
    decision = Core().decide("/reports", method=method, headers=headers)
    assert type(decision) is Challenge
    assert decision.api is not redirected
    assert is_navigation(method, headers) is redirected


#: Those of :data:`CLIENTS` a browser sends by script or for a subresource: their 401
#: has no Basic challenge (a browser would answer it with a password dialog).
SCRIPTED = {
    "chrome-image",
    "chrome-script",
    "fetch",
    "fetch-same-origin",
    "fetch-asking-for-html",
    "fetch-no-user-agent",
    "webview-fetch",
    "xhr-no-sec-fetch",
}


@pytest.mark.parametrize(
    ("name", "headers"), [(case[0], case[2]) for case in CLIENTS], ids=[c[0] for c in CLIENTS]
)
def test_only_a_browsers_own_scripts_are_spared_the_basic_challenge(
    name: str, headers: dict[str, str]
) -> None:
    assert from_browser_script(headers) is (name in SCRIPTED)


#: Tools' own ``User-Agent`` headers, as they send them by default (see
#: :data:`pwless_gate.useragents.TOOLS`).
TOOL_USER_AGENTS = [
    "curl/8.5.0",
    "Wget/1.21.4",
    "wget2/2.1.0",
    "HTTPie/3.2.2",
    'pip/20.3.4 {"ci":null,"cpu":"x86_64","implementation":{"name":"CPython"}}',
    "git/2.43.0",
    "JGit/6.9.0",
    "Java/17.0.15",
    "Java-http-client/21.0.2",
    "Apache-HttpClient/4.5.14 (Java/17.0.15)",
    "Jakarta Commons-HttpClient/3.1",
    "okhttp/4.12.0",
    "Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/UQ1A.240205.004)",
    "node",
    "undici",
    "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
    "axios/1.6.8",
    "Deno/1.40.2",
    "Bun/1.1.8",
    "python-requests/2.32.3",
    "Python-urllib/3.12",
    "python-urllib3/2.2.1",
    "python-httpx/0.27.0",
    "Python-httplib2/0.22.0 (gzip)",
    "Python/3.12 aiohttp/3.9.5",
    "Go-http-client/1.1",
    "Go-http-client/2.0",
    "Ruby",
    "Faraday v2.9.0",
    "rest-client/2.1.0 (linux-gnu x86_64) ruby/3.2.2p53",
    "libwww-perl/6.72",
    "GuzzleHttp/7",
    "PostmanRuntime/7.36.3",
    "insomnia/8.6.1",
]


@pytest.mark.parametrize("user_agent", TOOL_USER_AGENTS)
def test_a_tool_asking_for_html_gets_the_basic_challenge(user_agent: str) -> None:
    """A tool that puts ``text/html`` first, or sends ``Sec-Fetch-Mode`` as browsers'
    scripts do, is still a tool: a 401 with the Basic challenge it can answer."""
    for headers in (
        old_browser(FIREFOX_ACCEPT, user_agent),
        fetched("cors", "empty", user_agent=user_agent),
    ):
        assert is_navigation("GET", headers) is False
        assert from_browser_script(headers) is False
        decision = Core().decide("/reports", headers=headers)
        assert type(decision) is Challenge
        assert decision.api is True


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


def test_after_a_renewal_a_public_path_is_answered_as_anyones() -> None:
    """What :meth:`Decider.renewed` makes of a renewal's outcome: on a public path the
    ended, the unrenewed and the refused get what anyone gets; elsewhere the sign-in,
    the 503 and the 403 (and the renewed session is forwarded with its new cookie)."""
    core = Core(
        authorize=lambda environ, user: "hooked" not in environ["PATH_INFO"],
        public_paths=("/static/",),
    )
    value = core.sign_in().split("=", 1)[1]
    entry = core.sessions.lookup(value)
    assert entry is not None

    def renewed(path: str, found: Any, unavailable: bool = False) -> Any:
        facts = RequestFacts("GET", path, None, False, {**BROWSER, "PATH_INFO": path})
        return core.decider.renewed(facts, found, "new", value=value, unavailable=unavailable)

    for path in ("/static/app.css", "/static/hooked.css"):
        assert type(renewed(path, None)) is Anonymous
        assert type(renewed(path, None, unavailable=True)) is Anonymous
    assert type(renewed("/static/app.css", entry)) is Forward
    assert type(renewed("/static/hooked.css", entry)) is Anonymous
    assert type(renewed("/reports", None)) is Challenge
    assert type(renewed("/reports", None, unavailable=True)) is Unavailable
    assert type(renewed("/reports/hooked", entry)) is Deny
    forwarded = renewed("/reports", entry)
    assert (type(forwarded), forwarded.cookie) == (Forward, "new")


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


# -- machines' bearer tokens ------------------------------------------------------------


class FakeMachines:
    """Knows one verified token; never verifies (the adapter does, on MachineToken)."""

    def __init__(self, token: str) -> None:
        user = User(sub="robot@clients", email=None, phone_number=None, name=None, claims={})
        session = Session(
            sid="",
            remote_user="robot@clients",
            connection="client-credentials",
            claims={"sub": "robot@clients"},
            created_at=0,
            expires_at=2e9,
        )
        self.token = token
        self.entry = CachedSession(session, user, {"REMOTE_USER": "robot@clients"}, 2e9)

    def cached(self, token: str) -> CachedSession | None:
        return self.entry if token == self.token else None


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}", "HTTP_ACCEPT": "*/*"}


def test_a_known_bearer_token_is_forwarded_without_verifying_again() -> None:
    core = Core(machines=FakeMachines("eyJ.known.token"), public_paths=("/health",))
    decision = core.decide("/reports", headers=bearer("eyJ.known.token"))
    assert type(decision) is Forward
    assert decision.entry.environ["REMOTE_USER"] == "robot@clients"
    assert decision.cookie is None


def test_a_new_bearer_token_is_handed_to_the_adapter_to_verify() -> None:
    core = Core(machines=FakeMachines("eyJ.known.token"), public_paths=("/health",))
    decision = core.decide("/reports", headers=bearer("eyJ.new.token"))
    assert type(decision) is MachineToken
    assert decision.token == "eyJ.new.token"
    # On a public path Authorization is the app's business: not checked at all.
    assert type(core.decide("/health", headers=bearer("eyJ.new.token"))) is Anonymous
    assert type(core.decide("/health", headers=bearer("eyJ.known.token"))) is Anonymous


def test_a_session_wins_over_a_bearer_token_and_app_tokens_are_not_machines() -> None:
    core = Core(machines=FakeMachines("eyJ.known.token"))
    decision = core.decide("/", cookie=core.sign_in(), headers=bearer("eyJ.new.token"))
    assert decision.entry.user.email == "ada@example.com"
    assert type(core.decide("/", headers=bearer("pwg_abc"))) is Challenge
    assert type(Core().decide("/", headers=bearer("eyJ.new.token"))) is Challenge  # machines off


def test_authorize_is_asked_for_machines_too_and_logout_paths_end_nothing() -> None:
    seen: list[str] = []

    def authorize(environ: Mapping[str, Any], user: User) -> bool:
        seen.append(user.sub)
        return environ["PATH_INFO"] != "/admin"

    core = Core(
        machines=FakeMachines("eyJ.known.token"), authorize=authorize, logout_paths=("/logout",)
    )
    known = FakeMachines("eyJ.known.token").entry
    assert type(core.decider.admit_machine(facts("/admin"), known)) is Deny
    assert type(core.decider.admit_machine(facts("/logout"), known)) is Forward
    assert seen == ["robot@clients", "robot@clients"]


def facts(path: str) -> RequestFacts:
    return RequestFacts("GET", path, None, False, {"PATH_INFO": path, **bearer("eyJ.x.y")})


# -- the access rules, for every way in ---------------------------------------------------

RULES = """
[[rules]]
path = "/admin"
allow = ["ada@example.com"]

[[rules]]
path = "/team"
policy = "signed-in"

[[rules]]
path = "/payroll"
max_age = 900

[[rules]]
path = "/old-export"
policy = "deny"
"""


def ruled(tmp_path: Path, **settings: Any) -> Core:
    path = tmp_path / "rules.toml"
    path.write_text(RULES)
    return Core(rules_file=str(path), public_paths=("/health",), **settings)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param("/admin", Deny, id="allow-list-refuses-a-machine"),
        pytest.param("/team", Forward, id="plain-signed-in-admits-it"),
        pytest.param("/reports", Forward, id="no-rule-admits-it"),
        pytest.param("/payroll", Deny, id="max-age-a-token-cannot-meet"),
        pytest.param("/old-export", Closed, id="deny-rule-closes-it"),
    ],
)
def test_the_rules_apply_to_machines(tmp_path: Path, path: str, expected: type) -> None:
    core = ruled(tmp_path, machines=FakeMachines("eyJ.known.token"))
    known = FakeMachines("eyJ.known.token").entry
    cached = core.decide(path, headers=bearer("eyJ.known.token"))
    verified = core.decider.admit_machine(facts(path), known)
    assert (type(cached), type(verified)) == (expected, expected)
    if expected is Deny:
        assert cached.api is True  # a machine gets JSON


def test_a_deny_rule_answers_before_any_credential_and_public_leaves_them_alone(
    tmp_path: Path,
) -> None:
    core = ruled(tmp_path, machines=FakeMachines("eyJ.known.token"))
    # Not even handed over for verification: the path is closed to everyone.
    assert type(core.decide("/old-export", headers=bearer("eyJ.new.token"))) is Closed
    assert type(core.decide("/health", headers=bearer("eyJ.new.token"))) is Anonymous


def test_a_step_up_redirects_only_a_navigation(tmp_path: Path) -> None:
    core = ruled(tmp_path)
    cookie = core.sign_in()
    assert type(core.decide("/payroll", cookie=cookie)) is Forward
    core.clock.advance(901)
    navigation = core.decide("/payroll", cookie=cookie)
    assert (type(navigation), navigation.api, navigation.max_age) == (StepUp, False, 900)
    for headers in (API, {"HTTP_ACCEPT": "*/*"}, {"HTTP_SEC_FETCH_MODE": "cors"}):
        decision = core.decide("/payroll", cookie=cookie, headers=headers)
        assert (type(decision), decision.api) == (StepUp, True)
    assert type(core.decide("/payroll", cookie=cookie, method="PROPFIND")) is StepUp
    assert core.decide("/payroll", cookie=cookie, method="PROPFIND").api is True


#: A browser's form POST: a navigation with a form body.
FORM_POST = {
    "HTTP_ACCEPT": "text/html,application/xhtml+xml,*/*;q=0.8",
    "HTTP_SEC_FETCH_MODE": "navigate",
    "CONTENT_TYPE": "multipart/form-data; boundary=x",
}


@pytest.mark.parametrize(
    ("method", "headers", "kept"),
    [
        pytest.param("POST", FORM_POST, True, id="multipart-navigation"),
        pytest.param(
            "POST",
            {**BROWSER, "CONTENT_TYPE": "application/x-www-form-urlencoded"},
            True,
            id="urlencoded-without-sec-fetch",
        ),
        pytest.param(
            "POST", {**FORM_POST, "CONTENT_TYPE": "application/json"}, False, id="json-body"
        ),
        pytest.param("POST", {**FORM_POST, "HTTP_SEC_FETCH_MODE": "cors"}, False, id="fetch-post"),
        pytest.param(
            "POST",
            {"HTTP_ACCEPT": "*/*", "CONTENT_TYPE": "application/x-www-form-urlencoded"},
            False,
            id="curl-form",
        ),
        pytest.param("GET", BROWSER, False, id="get"),
    ],
)
def test_only_a_browsers_form_post_is_marked_to_keep(
    method: str, headers: dict[str, str], kept: bool
) -> None:
    decision = Core().decide("/notes", method=method, headers=headers)
    assert type(decision) is Challenge
    assert decision.form is kept
    # Whatever the form, the 401 rule is the navigation rule.
    assert decision.api is not is_navigation(method, headers)


def test_a_form_post_answered_with_a_step_up_is_marked_to_keep(tmp_path: Path) -> None:
    core = ruled(tmp_path)
    cookie = core.sign_in()
    core.clock.advance(901)
    posted = core.decide("/payroll", cookie=cookie, method="POST", headers=FORM_POST)
    assert (type(posted), posted.api, posted.form) == (StepUp, False, True)
    visited = core.decide("/payroll", cookie=cookie)
    assert (type(visited), visited.form) == (StepUp, False)
    scripted = {**FORM_POST, "HTTP_SEC_FETCH_MODE": "cors"}
    fetched = core.decide("/payroll", cookie=cookie, method="POST", headers=scripted)
    assert (type(fetched), fetched.api, fetched.form) == (StepUp, True, False)


PREFLIGHT = {"HTTP_ORIGIN": "https://app.example", "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "PUT"}


@pytest.mark.parametrize("case", [str.lower, str.title], ids=["lower", "title"])
def test_every_method_check_reads_the_method_in_any_case(tmp_path: Path, case: Any) -> None:
    """Werkzeug's server passes ``post`` on as sent, and Werkzeug, Flask and Django
    read it as ``POST``: so does every decision of the gate."""
    path = tmp_path / "limited.toml"
    path.write_text(
        '[[rules]]\npath = "/finance"\nmethods = ["POST"]\nallow = ["boss@example.com"]\n'
        '[[rules]]\npath = "/export"\nmethods = ["GET"]\npolicy = "deny"\n'
    )
    core = Core(rules_file=str(path), public_preflight=True)
    cookie = core.sign_in()
    assert type(core.decide("/finance/pay", cookie=cookie, method=case("POST"))) is Deny
    assert type(core.decide("/export", cookie=cookie, method=case("GET"))) is Closed
    assert type(core.decide("/export", method=case("HEAD"))) is Closed
    posted = core.decide("/notes", method=case("POST"), headers=FORM_POST)
    assert (type(posted), posted.api, posted.form) == (Challenge, False, True)
    assert is_navigation(case("GET"), BROWSER)
    preflight = core.decide("/api", method=case("OPTIONS"), headers=PREFLIGHT)
    assert (type(preflight), preflight.preflight) == (Anonymous, True)
