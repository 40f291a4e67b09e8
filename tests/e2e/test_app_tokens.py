"""App tokens through the gate, in-process: made on the tokens page, used as Basic or
Bearer, refused when expired, revoked, signed out everywhere or off the allow-list,
and throttled per IP without asking the store again."""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Callable
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from werkzeug.test import Client, TestResponse

from pwless_gate import PasswordlessGate
from pwless_gate.apptokens import (
    PREFIX,
    AppToken,
    TokenStore,
    credentials,
    holds_token,
    new_token,
    token_hash,
    well_formed,
)
from pwless_gate.errors import ConfigError
from pwless_gate.stores.sqlite import SQLiteDatabase, SQLiteTokenStore
from pwless_gate.tokens_page import SIGN_IN_WITHIN

from ..helpers import (
    BROWSER_UA,
    FakeClock,
    GateClient,
    Harness,
    RecordingApp,
    ToolClient,
    gate_config,
    hidden,
)

TTL = 5.0


def basic(user: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def make_token(
    client: Client, name: str = "pip on my laptop", days: str = "30"
) -> tuple[str, TestResponse]:
    """Make a token on the tokens page as the signed-in ``client``; the token and the page."""
    page = client.get("/_gate/tokens")
    assert page.status_code == 200, page.get_data(as_text=True)
    made = client.post("/_gate/tokens", data=token_form(page.get_data(as_text=True), name, days))
    assert made.status_code == 200, made.get_data(as_text=True)
    found = re.search(r'value="(pwg_[0-9A-Za-z]+)"', made.get_data(as_text=True))
    assert found is not None
    return found.group(1), made


def token_form(page: str, name: str, days: str) -> dict[str, str]:
    """The tokens page's "make a token" form, filled in as a browser sends it."""
    return {
        "csrf_token": hidden(page, "csrf_token"),
        "form_id": hidden(page, "form_id"),
        "name": name,
        "days": days,
    }


def tool(harness: Harness) -> Client:
    """A client with no cookies, as pip or curl."""
    return ToolClient(harness.gate)


class CountingStore:
    """A token store that counts the lookups of tokens."""

    def __init__(self, inner: TokenStore) -> None:
        self.inner = inner
        self.finds = 0

    def find_token(self, key: str) -> AppToken | None:
        self.finds += 1
        return self.inner.find_token(key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def tokens_harness(make_harness: Callable[..., Harness]) -> Harness:
    return make_harness(app_tokens=True, session_cache_ttl=TTL)


@pytest.fixture
def signed_in(tokens_harness: Harness) -> Harness:
    done = tokens_harness.login("ada@example.com")
    assert done.status_code == 303
    return tokens_harness


# -- the format ---------------------------------------------------------------------


def test_tokens_are_prefixed_random_and_checksummed() -> None:
    tokens = {new_token() for _ in range(200)}
    assert len(tokens) == 200
    for token in tokens:
        assert re.fullmatch(r"pwg_[0-9A-Za-z]{49}", token)
        assert well_formed(token)
    token = next(iter(tokens))
    body = token[4:]
    flipped = body[0] + ("a" if body[1] != "a" else "b") + body[2:]
    assert not well_formed("pwg_" + flipped)
    assert not well_formed(token + "0")
    assert not well_formed("ghp_" + body)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param("Bearer pwg_abc", (None, "pwg_abc"), id="bearer"),
        pytest.param("bearer  pwg_abc ", (None, "pwg_abc"), id="bearer-case-space"),
        pytest.param("Bearer eyJhbGciOi.eyJzdWIi.c2ln", None, id="jwt-left-alone"),
        pytest.param("Digest username=x", None, id="other-scheme"),
        pytest.param(
            "Basic " + base64.b64encode(b"__token__:pwg_x").decode(),
            ("__token__", "pwg_x"),
            id="basic",
        ),
        pytest.param(
            "Basic " + base64.b64encode(b"ada@example.com:hunter2").decode(),
            ("ada@example.com", ""),
            id="basic-password",
        ),
        pytest.param("Basic !!!", ("", ""), id="basic-garbage"),
        pytest.param(
            "Basic " + base64.b64encode(b":pwg_x").decode(),
            ("__token__", "pwg_x"),
            id="basic-empty-user",
        ),
        pytest.param(
            "Basic " + base64.b64encode(b"pwg_x:").decode(),
            ("__token__", "pwg_x"),
            id="basic-token-as-user",
        ),
        pytest.param(
            "Basic " + base64.b64encode(b"pwg_x").decode(),
            ("__token__", "pwg_x"),
            id="basic-token-without-colon",
        ),
        pytest.param(
            "Basic " + base64.b64encode(b"pwg_x:hunter2").decode(),
            ("pwg_x", ""),
            id="basic-token-as-user-with-a-password",
        ),
    ],
)
def test_credentials_in_headers(header: str, expected: tuple[str | None, str] | None) -> None:
    assert credentials(header) == expected


@pytest.mark.parametrize(
    ("user_and_password", "ours"),
    [
        pytest.param("__token__:pwg_x", True, id="token-as-password"),
        pytest.param("pwg_x:", True, id="token-as-user"),
        pytest.param("pwg_x:x-oauth-basic", True, id="token-as-user-with-a-password"),
        pytest.param("svc:app-password", False, id="the-apps-own"),
        pytest.param("svc:", False, id="the-apps-own-without-password"),
    ],
)
def test_which_basic_credentials_hold_a_token(user_and_password: str, ours: bool) -> None:
    header = "Basic " + base64.b64encode(user_and_password.encode()).decode()
    assert holds_token(header) is ours


# -- making and using ----------------------------------------------------------------


def test_a_token_is_shown_once_and_stored_as_a_hash(signed_in: Harness) -> None:
    token, made = make_token(signed_in.client)
    assert made.headers["Cache-Control"] == "no-store"
    assert well_formed(token)
    listing = signed_in.client.get("/_gate/tokens").get_data(as_text=True)
    assert "pip on my laptop" in listing
    assert token not in listing
    assert "Never" in listing
    path = signed_in.gate.config.sqlite_path
    assert path is not None
    data = Path(path).read_bytes() + Path(path + "-wal").read_bytes()
    assert token.encode() not in data
    assert token_hash(token).encode() in data


@pytest.mark.parametrize(
    "how",
    [
        pytest.param(lambda t: basic("__token__", t), id="basic-token-user"),
        pytest.param(lambda t: basic("ADA@example.com", t), id="basic-owner"),
        pytest.param(lambda t: basic("", t), id="basic-empty-user"),
        pytest.param(lambda t: basic(t, ""), id="basic-token-as-user-pip-url"),
        pytest.param(bearer, id="bearer"),
    ],
)
def test_the_app_sees_the_owner(signed_in: Harness, how: Callable[[str], dict[str, str]]) -> None:
    browser_call = signed_in.client.get("/somewhere")
    assert browser_call.status_code == 200
    token, _ = make_token(signed_in.client)
    answer = tool(signed_in).get("/pkg/", headers=how(token))
    assert answer.status_code == 200
    assert "Set-Cookie" not in answer.headers
    assert "private" in answer.headers["Cache-Control"]
    by_browser, by_token = signed_in.app.calls[0], signed_in.app.calls[-1]
    assert by_browser["pwless_gate.auth_method"] == "session"
    assert by_token["pwless_gate.auth_method"] == "app-token"
    assert by_token["REMOTE_USER"] == "ada@example.com"
    assert by_token["pwless_gate.user"].email == "ada@example.com"
    assert by_token["pwless_gate.user"].sub == by_browser["pwless_gate.user"].sub
    assert by_token["pwless_gate.claims"] == by_browser["pwless_gate.claims"]
    assert "HTTP_AUTHORIZATION" not in by_token  # the token is not passed on


@pytest.mark.parametrize(
    ("user", "admitted"),
    [
        pytest.param("+447400123456", True, id="e164"),
        pytest.param("+44 7400 123456", True, id="spaced-as-typed"),
        pytest.param("07400 123456", True, id="national-in-the-default-region"),
        pytest.param("+44-7400-123456", True, id="dashes"),
        pytest.param(" +44 (0)7400 123456 ", True, id="trunk-in-brackets"),
        pytest.param("+44 7400 123457", False, id="another-number"),
        pytest.param("07400 12345", False, id="too-short"),
        pytest.param("not a number", False, id="letters"),
        pytest.param("ada@example.com", False, id="an-address"),
    ],
)
def test_an_sms_owners_number_names_them_as_sign_in_reads_it(
    make_harness: Callable[..., Harness], user: str, admitted: bool
) -> None:
    harness = make_harness(app_tokens=True, methods=("email-code", "sms-code"), default_region="GB")
    started = harness.start_phone("+44 7400 123456")
    assert started.status_code == 200, started.get_data(as_text=True)
    done = harness.submit_code(started, harness.tenant.last_message().code)
    assert done.status_code == 303
    token, _ = make_token(harness.client)

    client = tool(harness)
    for _ in range(2):  # verified, then from the cache
        answer = client.get("/pkg/", headers=basic(user, token))
        assert answer.status_code == (200 if admitted else 401)
    if admitted:
        assert harness.app.calls[-1]["REMOTE_USER"] == "+447400123456"
    assert client.get("/pkg/", headers=basic("__token__", token)).status_code == 200
    answer = client.get("/pkg/", headers=basic(user, token))  # the cache warm now
    assert answer.status_code == (200 if admitted else 401)


def test_an_email_owners_name_is_not_read_as_a_number(signed_in: Harness) -> None:
    token, _ = make_token(signed_in.client)
    answer = tool(signed_in).get("/pkg/", headers=basic("+44 7400 123456", token))
    assert answer.status_code == 401


def test_a_client_cannot_claim_the_method(signed_in: Harness) -> None:
    signed_in.client.get("/x", environ_overrides={"pwless_gate.auth_method": "app-token"})
    assert signed_in.app.calls[-1]["pwless_gate.auth_method"] == "session"


def test_another_user_name_is_refused(signed_in: Harness) -> None:
    token, _ = make_token(signed_in.client)
    answer = tool(signed_in).get("/pkg/", headers=basic("bob@example.com", token))
    assert answer.status_code == 401
    assert tool(signed_in).get("/pkg/", headers=basic("__token__", token)).status_code == 200
    # Cached now: the wrong name is still refused.
    answer = tool(signed_in).get("/pkg/", headers=basic("bob@example.com", token))
    assert answer.status_code == 401


def test_a_wrong_token_gets_a_basic_challenge(tokens_harness: Harness) -> None:
    answer = tool(tokens_harness).get("/pkg/", headers=bearer(new_token()))
    assert answer.status_code == 401
    challenges = answer.headers.getlist("WWW-Authenticate")
    assert 'Basic realm="Internal tools", charset="UTF-8"' in challenges
    assert any(c.startswith("Bearer") and 'error="invalid_token"' in c for c in challenges)
    assert answer.json is not None
    assert answer.json["error"] == "invalid_token"
    assert tokens_harness.app.calls == []


def test_tools_without_credentials_are_asked_for_them(tokens_harness: Harness) -> None:
    client = tool(tokens_harness)
    for method, headers in (
        ("GET", {"Accept": "*/*", "User-Agent": "curl/8.0"}),
        (
            "GET",
            {
                "Accept": "application/vnd.pypi.simple.v1+json, "
                "application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"
            },
        ),
        ("PROPFIND", {"Accept": "text/html"}),
    ):
        answer = client.open("/dav/", method=method, headers=headers)
        assert answer.status_code == 401, (method, headers)
        assert answer.headers.getlist("WWW-Authenticate")[0].startswith("Basic realm=")
    # A page's fetch(): 401 too, but no Basic (a browser would show its password dialog).
    fetched = client.get(
        "/dav/", headers={"Sec-Fetch-Mode": "cors", "Accept": "text/html", "User-Agent": BROWSER_UA}
    )
    assert fetched.status_code == 401
    challenges = fetched.headers.getlist("WWW-Authenticate")
    assert challenges == ['Cookie realm="Internal tools"', 'Bearer realm="Internal tools"']
    navigation = client.get(
        "/page", headers={"Accept": "text/html,application/xhtml+xml", "User-Agent": BROWSER_UA}
    )
    assert navigation.status_code == 302
    navigation = client.get("/page", headers={"Sec-Fetch-Mode": "navigate", "Accept": "*/*"})
    assert navigation.status_code == 302


#: Tools that send what a browser without ``Sec-Fetch-*`` headers sends, or a browser
#: script's ``Sec-Fetch-Mode``: they are asked for credentials (Basic), not redirected.
BROWSER_LOOKALIKES = [
    pytest.param(
        {"Accept": "text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2", "User-Agent": "Java/17"},
        id="java-httpurlconnection",
    ),
    pytest.param({"Accept": "text/html", "User-Agent": "pip/20.3.4"}, id="pip-before-22.2"),
    pytest.param(
        {"Accept": "*/*", "Sec-Fetch-Mode": "cors", "User-Agent": "node"}, id="node-fetch"
    ),
]


@pytest.mark.parametrize("headers", BROWSER_LOOKALIKES)
def test_tools_that_look_like_browsers_get_a_basic_challenge(
    signed_in: Harness, headers: dict[str, str]
) -> None:
    """Java's HttpURLConnection asks for ``text/html`` first, as older browsers do, and
    answers only a Basic challenge with its ``Authenticator``; it gets the challenge, then
    gets in with the token."""
    token, _ = make_token(signed_in.client)
    client = tool(signed_in)
    answer = client.get("/report", headers=headers)
    assert answer.status_code == 401
    assert answer.headers.getlist("WWW-Authenticate")[0].startswith("Basic realm=")
    again = client.get("/report", headers={**headers, **basic("__token__", token)})
    assert again.status_code == 200


def test_the_gate_pages_ask_for_a_session_not_a_token(signed_in: Harness) -> None:
    """The tokens and sessions pages take the session cookie alone: a tool is challenged
    for that (``Cookie``), not asked for Basic or Bearer credentials, and a token sent
    anyway opens nothing there."""
    token, _ = make_token(signed_in.client)
    client = tool(signed_in)
    for path in ("/_gate/tokens", "/_gate/sessions", "/_gate/userinfo"):
        for headers in ({}, basic("__token__", token), bearer(token)):
            answer = client.get(path, headers={"Accept": "*/*", **headers})
            assert answer.status_code == 401, (path, headers)
            assert answer.headers.getlist("WWW-Authenticate") == ['Cookie realm="Internal tools"']
    # The browser that made the token is sent nowhere else: its session opens the pages.
    assert signed_in.client.get("/_gate/tokens").status_code == 200


def test_public_paths_leave_the_header_to_the_app(
    make_harness: Callable[..., Harness],
) -> None:
    harness = make_harness(app_tokens=True, public_paths=("/api/public/",))
    for _ in range(20):
        answer = tool(harness).get("/api/public/x", headers=basic("app-user", "app-password"))
        assert answer.status_code == 200
    assert harness.app.calls[-1]["HTTP_AUTHORIZATION"].startswith("Basic ")
    assert "REMOTE_USER" not in harness.app.calls[-1]


def test_a_jwt_bearer_is_left_to_others(tokens_harness: Harness) -> None:
    answer = tool(tokens_harness).get("/api", headers=bearer("eyJhbGciOi.eyJzdWIi.c2ln"))
    assert answer.status_code == 401
    assert answer.json is not None
    assert answer.json["error"] == "unauthorized"


def test_nginx_auth_request_honours_tokens(signed_in: Harness) -> None:
    token, _ = make_token(signed_in.client)
    ok = tool(signed_in).get("/_gate/auth", headers=bearer(token))
    assert ok.status_code == 202
    assert ok.headers["X-Auth-Request-User"] == "ada@example.com"
    refused = tool(signed_in).get("/_gate/auth", headers=bearer(new_token()))
    assert refused.status_code == 401
    assert refused.headers.getlist("WWW-Authenticate")


def test_auth_says_which_authorization_the_proxy_passes_on(
    make_harness: Callable[..., Harness],
) -> None:
    """``{prefix}/auth`` flags an app token for the proxy to drop, and sends the
    ``Authorization`` to pass on back only to a forwardAuth-style proxy (a trusted
    ``X-Forwarded-Uri``, as Traefik sends, which copies it): never to nginx
    (``X-Original-URI``), which refuses answers with headers over 4 KB."""
    harness = make_harness(app_tokens=True, trusted_proxies="1")
    assert harness.login("ada@example.com").status_code == 303
    token, _ = make_token(harness.client)
    own = basic("svc", "the app's own password")
    nginx = {"X-Original-URI": "/report", "X-Original-Method": "GET"}
    traefik = {"X-Forwarded-Uri": "/report", "X-Forwarded-Method": "GET"}

    def answer(client: Client, headers: dict[str, str]) -> tuple[int, str | None, str | None]:
        got = client.get("/_gate/auth", headers=headers)
        return (
            got.status_code,
            got.headers.get("Authorization"),
            got.headers.get("X-Auth-Request-Drop-Authorization"),
        )

    for original in (nginx, traefik):
        assert answer(tool(harness), {**bearer(token), **original}) == (202, None, "1")
        assert answer(tool(harness), {**basic("__token__", token), **original}) == (202, None, "1")
        assert answer(harness.client, {**bearer(token), **original}) == (202, None, "1")
        assert answer(harness.client, original) == (202, None, None)
    large = {"Authorization": "Bearer " + "a" * 6000}
    assert answer(harness.client, {**own, **nginx}) == (202, None, None)
    assert answer(harness.client, {**large, **nginx}) == (202, None, None)
    assert answer(harness.client, {**own, **traefik}) == (202, own["Authorization"], None)
    assert answer(harness.client, {**large, **traefik}) == (202, large["Authorization"], None)
    # Not from an untrusted client: its X-Forwarded-Uri is not the proxy's word.
    untrusted = make_harness(app_tokens=True)
    assert untrusted.login("ada@example.com").status_code == 303
    assert answer(untrusted.client, {**own, **traefik}) == (202, None, None)


# -- when a token stops working ------------------------------------------------------


def test_an_expired_token_is_refused(signed_in: Harness, clock: FakeClock) -> None:
    token, _ = make_token(signed_in.client, days="1")
    assert tool(signed_in).get("/", headers=bearer(token)).status_code == 200
    clock.advance(86400 + 1)
    assert tool(signed_in).get("/", headers=bearer(token)).status_code == 401


def test_a_revoked_token_is_refused_within_the_ttl(signed_in: Harness, clock: FakeClock) -> None:
    token, _ = make_token(signed_in.client)
    clock.advance(60)  # made a minute apart, so "newest first" has one answer
    keep, _ = make_token(signed_in.client, name="git")
    assert tool(signed_in).get("/", headers=bearer(token)).status_code == 200
    page = signed_in.client.get("/_gate/tokens").get_data(as_text=True)
    ids = re.findall(r'name="token_id" value="([^"]+)"', page)
    assert len(ids) == 2
    names = re.findall(r'<h3 id="token-\d+">([^<]+)</h3>', page)
    assert names == ["git", "pip on my laptop"]  # newest first
    done = signed_in.client.post(
        "/_gate/tokens/revoke",
        data={"csrf_token": hidden(page, "csrf_token"), "token_id": ids[1]},
    )
    assert done.status_code == 303
    assert done.headers["Location"] == "/_gate/tokens?revoked=1"
    assert "Revoked 1 token." in signed_in.client.get(done.headers["Location"]).get_data(
        as_text=True
    )
    assert tool(signed_in).get("/", headers=bearer(token)).status_code == 401
    assert tool(signed_in).get("/", headers=bearer(keep)).status_code == 200
    again = signed_in.client.post(
        "/_gate/tokens/revoke",
        data={"csrf_token": hidden(page, "csrf_token"), "token_id": ids[1]},
    )
    assert again.status_code == 404


def test_another_persons_token_cannot_be_revoked(tokens_harness: Harness, clock: FakeClock) -> None:
    ada = tokens_harness.new_browser()
    tokens_harness.login("ada@example.com", client=ada)
    token, _ = make_token(ada)
    ada_page = ada.get("/_gate/tokens").get_data(as_text=True)
    [ada_id] = re.findall(r'name="token_id" value="([^"]+)"', ada_page)
    bob = tokens_harness.new_browser()
    tokens_harness.login("bob@example.com", client=bob)
    page = bob.get("/_gate/tokens").get_data(as_text=True)
    assert "You have no app tokens." in page
    refused = bob.post(
        "/_gate/tokens/revoke", data={"csrf_token": hidden(page, "csrf_token"), "token_id": ada_id}
    )
    assert refused.status_code == 404
    forged = bob.post("/_gate/tokens/revoke", data={"csrf_token": "x", "token_id": ada_id})
    assert forged.status_code == 403
    assert tool(tokens_harness).get("/", headers=bearer(token)).status_code == 200


def test_signing_out_everywhere_can_revoke_tokens(signed_in: Harness, clock: FakeClock) -> None:
    token, _ = make_token(signed_in.client)
    assert tool(signed_in).get("/", headers=bearer(token)).status_code == 200
    page = signed_in.client.get("/_gate/sessions").get_data(as_text=True)
    assert "Also revoke my app tokens (1)" in page
    kept = signed_in.client.post(
        "/_gate/sessions/revoke",
        data={"csrf_token": hidden(page, "csrf_token"), "session": "others"},
    )
    assert kept.headers["Location"] == "/_gate/sessions?ended=0"
    assert tool(signed_in).get("/", headers=bearer(token)).status_code == 200
    done = signed_in.client.post(
        "/_gate/sessions/revoke",
        data={"csrf_token": hidden(page, "csrf_token"), "session": "others", "tokens": "revoke"},
    )
    assert done.headers["Location"] == "/_gate/sessions?ended=0&tokens=1"
    shown = signed_in.client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Revoked 1 app token." in shown
    assert tool(signed_in).get("/", headers=bearer(token)).status_code == 401


def test_sign_out_everywhere_in_python_can_revoke_tokens(signed_in: Harness) -> None:
    token, _ = make_token(signed_in.client)
    sub = signed_in.gate.sessions.index.all_sessions()[0].claims["sub"]  # type: ignore[union-attr]
    signed_in.gate.sign_out_everywhere(sub)
    assert tool(signed_in).get("/", headers=bearer(token)).status_code == 200
    signed_in.gate.sign_out_everywhere(sub, app_tokens=True)
    assert tool(signed_in).get("/", headers=bearer(token)).status_code == 401


def test_off_the_allow_list_is_refused(
    tenant: Any, clock: FakeClock, make_harness: Callable[..., Harness], tmp_path: Path
) -> None:
    store = f"sqlite://{tmp_path / 'gate.sqlite3'}"
    before = make_harness(app_tokens=True, store=store)
    before.login("ada@example.com")
    token, _ = make_token(before.client)
    assert tool(before).get("/", headers=bearer(token)).status_code == 200
    after = make_harness(app_tokens=True, store=store, allowed_emails=("bob@example.com",))
    assert tool(after).get("/", headers=bearer(token)).status_code == 401


# -- the form ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "days", "field"),
    [
        pytest.param("", "30", "name", id="no-name"),
        pytest.param("x" * 101, "30", "name", id="long-name"),
        pytest.param("pip", "0", "days", id="zero-days"),
        pytest.param("pip", "91", "days", id="past-the-maximum"),
        pytest.param("pip", "soon", "days", id="not-a-number"),
        pytest.param("pip", "-3", "days", id="negative"),
    ],
)
def test_a_bad_form_makes_no_token(signed_in: Harness, name: str, days: str, field: str) -> None:
    page = signed_in.client.get("/_gate/tokens").get_data(as_text=True)
    answer = signed_in.client.post(
        "/_gate/tokens",
        data={"csrf_token": hidden(page, "csrf_token"), "name": name, "days": days},
    )
    assert answer.status_code == 400
    text = answer.get_data(as_text=True)
    assert f'id="{field}-error"' in text
    assert "pwg_" not in text
    assert "You have no app tokens." in text


def test_sending_the_same_form_again_makes_no_second_token(signed_in: Harness) -> None:
    """A reload of the page that showed a new token sends its form again: it makes
    nothing, says so, and shows no token; the next page's form makes one."""
    page = signed_in.client.get("/_gate/tokens").get_data(as_text=True)
    form = token_form(page, "pip on my laptop", "30")
    first = signed_in.client.post("/_gate/tokens", data=form)
    assert "pwg_" in first.get_data(as_text=True)
    again = signed_in.client.post("/_gate/tokens", data=form)
    assert again.status_code == 200
    text = again.get_data(as_text=True)
    assert "pwg_" not in text
    assert "no other token was made" in text
    assert text.count('class="session token"') == 1
    second, _ = make_token(signed_in.client, "git")
    listing = signed_in.client.get("/_gate/tokens").get_data(as_text=True)
    assert listing.count('class="session token"') == 2
    assert well_formed(second)


def test_the_page_needs_a_browser_session(signed_in: Harness) -> None:
    token, _ = make_token(signed_in.client)
    nobody = tool(signed_in).get(
        "/_gate/tokens", headers={"Accept": "text/html", "User-Agent": BROWSER_UA}
    )
    assert nobody.status_code == 302
    assert nobody.headers["Location"].startswith("/_gate/login?next=")
    by_token = tool(signed_in).get("/_gate/tokens", headers=bearer(token))
    assert by_token.status_code == 401  # a token does not manage tokens
    assert by_token.headers.getlist("WWW-Authenticate") == ['Cookie realm="Internal tools"']


def test_tokens_off_has_no_page_and_no_token_check(harness: Harness) -> None:
    harness.login("ada@example.com")
    assert harness.client.get("/_gate/tokens").status_code == 404
    answer = tool(harness).get("/", headers=bearer(new_token()))
    assert answer.status_code == 401  # nothing reads the header: the plain challenge
    assert answer.json is not None
    assert answer.json["error"] == "unauthorized"
    assert answer.headers.getlist("WWW-Authenticate") == [
        'Basic realm="Internal tools", charset="UTF-8"'
    ]


def test_the_cookie_store_cannot_keep_tokens(tenant: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        gate_config(tenant.url, app_tokens=True, store="cookie")
    assert caught.value.setting == "PWLESS_GATE_APP_TOKENS/PWLESS_GATE_STORE"


# -- refusals, throttling and the store ----------------------------------------------


def counting_gate(
    tenant: Any, clock: FakeClock, tmp_path: Path, **config: Any
) -> tuple[PasswordlessGate, CountingStore, RecordingApp]:
    path = str(tmp_path / "gate.sqlite3")
    store = CountingStore(SQLiteTokenStore(SQLiteDatabase(path, clock=clock), clock=clock))
    app = RecordingApp()
    gate = PasswordlessGate(
        app,
        gate_config(tenant.url, app_tokens=True, store=f"sqlite://{path}", **config),
        clock=clock,
        token_store=store,  # type: ignore[arg-type]
    )
    return gate, store, app


def test_a_wrong_token_reaches_the_store_once_per_window(
    tenant: Any, clock: FakeClock, tmp_path: Path
) -> None:
    """A wrong token sent again is refused without the store and not counted again (a
    client retrying a stale token); new wrong tokens, which guessing needs, are counted:
    past the limit the IP gets 429, and is not looked up at all."""
    gate, store, _ = counting_gate(tenant, clock, tmp_path, throttle_app_token_per_ip="5/60")
    client = GateClient(gate)
    wrong = new_token()
    statuses = [client.get("/", headers=bearer(wrong)).status_code for _ in range(20)]
    assert statuses == [401] * 20
    assert store.finds == 1
    others = [client.get("/", headers=bearer(new_token())).status_code for _ in range(5)]
    assert others == [401, 401, 401, 401, 429]
    assert store.finds == 5
    throttled = client.get("/", headers=bearer(new_token()))
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) >= 1
    assert store.finds == 5  # an IP over the limit is not looked up at all
    other_ip = client.get(
        "/", headers=bearer(new_token()), environ_base={"REMOTE_ADDR": "10.0.0.9"}
    )
    assert other_ip.status_code == 401
    assert store.finds == 6
    clock.advance(121)
    assert client.get("/", headers=bearer(wrong)).status_code == 401
    assert store.finds == 7


def test_a_stale_token_polled_from_an_office_does_not_throttle_it(
    signed_in: Harness, clock: FakeClock
) -> None:
    """A calendar polling with a revoked token, from the IP a whole office shares: it is
    refused each time (401, never 429), and a colleague's good token from that IP keeps
    working, the caches cold at each poll."""
    token, _ = make_token(signed_in.client)
    stale, _ = make_token(signed_in.client, "old calendar")
    office = tool(signed_in)
    assert office.get("/dav/", headers=basic("__token__", stale)).status_code == 200
    tokens = signed_in.gate.tokens
    assert tokens is not None
    [old] = [t for t in tokens.store.all_tokens() if t.name == "old calendar"]
    assert tokens.revoke_where(old.sub, lambda t: t.token_id == old.token_id) == 1
    polled, colleague = [], []
    for _ in range(30):
        clock.advance(TTL + 1)
        polled.append(office.get("/dav/", headers=basic("__token__", stale)).status_code)
        colleague.append(office.get("/report", headers=bearer(token)).status_code)
    assert polled == [401] * 30
    assert colleague == [200] * 30
    fresh, _ = make_token(signed_in.client, "new laptop")
    assert office.get("/report", headers=bearer(fresh)).status_code == 200


def test_a_throttled_ip_keeps_the_tokens_it_used(signed_in: Harness, clock: FakeClock) -> None:
    """Someone behind the office's IP tries ten made-up tokens: the IP is throttled
    (429), and new tokens from it are not looked up; a token the gate verified before
    is no guess, and keeps working."""
    token, _ = make_token(signed_in.client)
    office = tool(signed_in)
    assert office.get("/report", headers=bearer(token)).status_code == 200
    guesses = [office.get("/", headers=bearer(new_token())).status_code for _ in range(11)]
    assert guesses == [401] * 10 + [429]
    clock.advance(TTL + 1)
    assert office.get("/report", headers=bearer(token)).status_code == 200
    unseen, _ = make_token(signed_in.client, "never used")
    assert office.get("/report", headers=bearer(unseen)).status_code == 429


def test_an_ip_reaches_the_store_at_most_the_limits_count(
    tenant: Any, clock: FakeClock, tmp_path: Path
) -> None:
    gate, store, _ = counting_gate(tenant, clock, tmp_path, throttle_app_token_per_ip="5/60")
    client = GateClient(gate)
    statuses = [client.get("/", headers=bearer(new_token())).status_code for _ in range(50)]
    assert statuses[:5] == [401] * 5
    assert set(statuses[5:]) == {429}
    assert store.finds == 5


def test_malformed_credentials_never_reach_the_store(
    tenant: Any, clock: FakeClock, tmp_path: Path
) -> None:
    gate, store, _ = counting_gate(tenant, clock, tmp_path, throttle_app_token_per_ip="3/60")
    client = GateClient(gate)
    token = new_token()
    bad = token[:-1] + ("y" if token.endswith("x") else "x")  # the checksum fails
    assert not well_formed(bad)
    for headers in (bearer(bad), basic("ada@example.com", "hunter2"), bearer("pwg_short")):
        assert client.get("/", headers=headers).status_code == 401
    assert client.get("/", headers=bearer(bad)).status_code == 401  # a repeat: not counted
    assert client.get("/", headers=bearer(bad + "0")).status_code == 429
    assert store.finds == 0


def test_a_valid_token_is_cached(tenant: Any, clock: FakeClock, tmp_path: Path) -> None:
    gate, store, app = counting_gate(tenant, clock, tmp_path)
    harness = Harness(gate=gate, app=app, tenant=tenant)
    harness.login("ada@example.com")
    token, _ = make_token(harness.client)
    for _ in range(10):
        assert tool(harness).get("/", headers=bearer(token)).status_code == 200
    assert store.finds == 1
    clock.advance(TTL + 1)
    assert tool(harness).get("/", headers=bearer(token)).status_code == 200
    assert store.finds == 2


def test_last_used_and_the_audit_trail(
    signed_in: Harness, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="pwless_gate.audit"):
        token, _ = make_token(signed_in.client)
        for _ in range(3):
            assert tool(signed_in).get("/", headers=bearer(token)).status_code == 200
            clock.advance(TTL + 61)
        tool(signed_in).get("/", headers=bearer(new_token()))
        page = signed_in.client.get("/_gate/tokens").get_data(as_text=True)
        [token_id] = re.findall(r'name="token_id" value="([^"]+)"', page)
        signed_in.client.post(
            "/_gate/tokens/revoke",
            data={"csrf_token": hidden(page, "csrf_token"), "token_id": token_id},
        )
    assert "Last used</dt><dd><time" in page
    events = [r.event for r in caplog.records if r.name == "pwless_gate.audit"]  # type: ignore[attr-defined]
    assert events.count("app_token_created") == 1
    assert events.count("app_token_first_use") == 1
    assert events.count("app_token_refused") == 1
    assert events.count("app_token_revoked") == 1
    assert not any(token in r.getMessage() for r in caplog.records)


def test_making_a_token_needs_a_recent_sign_in(signed_in: Harness, clock: FakeClock) -> None:
    """A token outlives its session: an hour after signing in, the page offers a new
    sign-in instead of the form, a form sent anyway makes nothing (403), and after
    signing in again the token is made. Revoking needs no new sign-in."""
    client = signed_in.client
    kept, _ = make_token(client, "kept")
    clock.advance(SIGN_IN_WITHIN + 1)
    page = client.get("/_gate/tokens")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'name="form_id"' not in text
    assert "making one needs a sign-in within the last 1 hour" in text
    again = re.search(r'href="(/_gate/login\?[^"]+)"[^>]*>Sign in again to make a token<', text)
    assert again is not None
    query = parse_qs(urlsplit(unescape(again.group(1))).query)
    assert query == {"next": ["/_gate/tokens"], "fresh": [str(SIGN_IN_WITHIN)]}

    form = {"csrf_token": hidden(text, "csrf_token"), "name": "late", "days": "30"}
    refused = client.post("/_gate/tokens", data=form)
    assert refused.status_code == 403
    assert "pwg_" not in refused.get_data(as_text=True)
    listed = client.get("/_gate/tokens").get_data(as_text=True)
    assert re.findall(r'<h3 id="token-\d+">([^<]*)</h3>', listed) == ["kept"]

    step_up = client.get(unescape(again.group(1))).get_data(as_text=True)
    assert "You are signed in as ada@example.com" in step_up
    done = signed_in.login("ada@example.com", next="/_gate/tokens")
    assert done.headers["Location"] == "/_gate/tokens"
    made, _ = make_token(client, "fresh")
    assert made.startswith("pwg_")
    assert tool(signed_in).get("/", headers=bearer(kept)).status_code == 200


def test_a_token_form_sent_too_late_comes_back_filled_in(
    signed_in: Harness, clock: FakeClock
) -> None:
    """The form sent an hour after signing in is refused (403), but its sign-in link leads
    back to the form as it was filled in, so nothing typed is lost."""
    client = signed_in.client
    page = client.get("/_gate/tokens").get_data(as_text=True)
    clock.advance(SIGN_IN_WITHIN + 1)
    refused = client.post("/_gate/tokens", data=token_form(page, "pip on my laptop", "7"))
    assert refused.status_code == 403
    text = refused.get_data(as_text=True)
    again = re.search(r'href="(/_gate/login\?[^"]+)"[^>]*>Sign in again to make a token<', text)
    assert again is not None
    back = parse_qs(urlsplit(unescape(again.group(1))).query)["next"][0]
    assert parse_qs(urlsplit(back).query) == {"name": ["pip on my laptop"], "days": ["7"]}
    done = signed_in.login("ada@example.com", next=back)
    assert done.headers["Location"] == back
    form = client.get(back).get_data(as_text=True)
    assert 'name="name" value="pip on my laptop"' in form
    assert 'name="days" value="7"' in form
    assert 'name="form_id"' in form  # signed in anew: the form is offered again


def test_a_token_beside_a_session_cookie_never_reaches_the_app(signed_in: Harness) -> None:
    """A browser that kept Basic credentials from a token URL sends both: the request is
    the session's, and the token is taken off as it is for a token alone. The app's own
    credentials (a Basic password that is no token) pass."""
    client = signed_in.client
    token, _ = make_token(client)
    for header in (bearer(token), basic("__token__", token)):
        assert client.get("/x", headers=header).status_code == 200
        assert "HTTP_AUTHORIZATION" not in signed_in.app.calls[-1]
    assert client.get("/x", headers=basic("svc", "app-password")).status_code == 200
    assert signed_in.app.calls[-1]["HTTP_AUTHORIZATION"].startswith("Basic ")


@pytest.mark.parametrize("password", ["x", "x-oauth-basic"])
def test_a_token_as_the_user_name_with_a_password_is_the_gates_own(
    signed_in: Harness, caplog: pytest.LogCaptureFixture, password: str
) -> None:
    """``Basic base64("pwg_…:x")`` (GitHub's ``token:x-oauth-basic`` habit): the user name
    is a token, so the header is the gate's, never the app's: beside a session it is
    taken off (and {prefix}/auth tells the proxy to drop it); alone it is refused, 401,
    and the token is not written to the audit trail."""
    client = signed_in.client
    token, _ = make_token(client)
    header = basic(token, password)

    assert client.get("/x", headers=header).status_code == 200
    assert "HTTP_AUTHORIZATION" not in signed_in.app.calls[-1]
    auth = client.get("/_gate/auth", headers=header)
    assert auth.status_code == 202
    assert auth.headers.get("X-Auth-Request-Drop-Authorization") == "1"

    calls = len(signed_in.app.calls)
    with caplog.at_level(logging.INFO):
        alone = tool(signed_in).get("/x", headers=header)
        alone_auth = tool(signed_in).get("/_gate/auth", headers=header)
    assert alone.status_code == 401
    assert alone.headers.getlist("WWW-Authenticate")[0].startswith("Basic realm=")
    assert alone_auth.status_code == 401
    assert len(signed_in.app.calls) == calls
    refused = [r for r in caplog.records if getattr(r, "event", None) == "app_token_refused"]
    assert [r.who for r in refused] == ["-", "-"]  # type: ignore[attr-defined]
    assert not any(token[-2:] in r.getMessage() for r in refused)


def test_a_good_token_after_one_refusal_is_not_throttled(
    signed_in: Harness, clock: FakeClock
) -> None:
    """One mistyped token, then a calendar polling with the right one (the cache cold at
    each poll): the good uses are not counted as attempts, so it never meets a 429."""
    token, _ = make_token(signed_in.client)
    polling = tool(signed_in)
    assert polling.get("/x", headers=bearer(new_token())).status_code == 401
    codes = []
    for _ in range(15):
        clock.advance(TTL + 1)
        codes.append(polling.get("/x", headers=bearer(token)).status_code)
    assert codes == [200] * 15


@pytest.mark.parametrize(
    "url",
    [
        "/_gate/tokens?revoked=%C2%B2",
        "/_gate/sessions?ended=%C2%B2",
        "/_gate/sessions?tokens=%C2%B2",
        "/_gate/login?fresh=%C2%B2&next=/_gate/tokens",
    ],
)
def test_digits_python_reads_but_int_refuses_are_ignored(signed_in: Harness, url: str) -> None:
    # "²".isdigit() is true, and int("²") raises: these were 500s with a traceback.
    assert signed_in.client.get(url).status_code == 200


@pytest.mark.parametrize("days", ["\u00b2", "\uff11\uff10"])
def test_a_token_lifetime_in_other_digits_is_refused(signed_in: Harness, days: str) -> None:
    page = signed_in.client.get("/_gate/tokens").get_data(as_text=True)
    answer = signed_in.client.post("/_gate/tokens", data=token_form(page, "x", days))
    assert answer.status_code == 400
    assert PREFIX not in answer.get_data(as_text=True)
