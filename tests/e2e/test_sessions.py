"""The sessions page and ``pwless-gate sessions`` against gunicorn with three workers.

A person signed in from several browsers sees them all on one browser's page,
and ends one or all the others; an operator lists and ends sessions from the
command line while the gate runs. Either way every worker refuses an ended
session's cookie within ``session_cache_ttl`` (1 second here). Runs with the
SQLite store and with a real redis-server.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from pwless_gate import PasswordlessGate
from pwless_gate.sessions import Session
from pwless_gate.stores.sqlite import SQLiteDatabase, SQLiteStore

from ..helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    KEYS,
    FakeClock,
    Harness,
    RecordingApp,
    browser_session,
    gate_config,
    hidden,
    http_sign_in,
)
from ..procs import BIN, ROOT, gunicorn
from .test_scale import until

pytestmark = pytest.mark.slow

FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
#: Bounded wait for every worker to refuse an ended session: the cache TTL is 1 s, but
#: each probe holds the workers a moment and a loaded machine slows them further.
REFUSED_WITHIN = 15.0
THROTTLES_OFF_ENV = {
    f"PWLESS_GATE_THROTTLE_{name}": "off"
    for name in (
        "SEND_PER_IP",
        "SEND_PER_IDENTIFIER",
        "SEND_PER_IDENTIFIER_TOTAL",
        "VERIFY_PER_LOGIN",
        "VERIFY_PER_IDENTIFIER",
        "VERIFY_PER_IDENTIFIER_TOTAL",
    )
}


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The ``PWLESS_GATE_STORE`` of the gate (and of the command)."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'gate.sqlite3'}"
    return str(request.getfixturevalue("redis_url"))


@pytest.fixture
def gate_env(tenant: Any, store: str) -> dict[str, str]:
    return {
        "PWLESS_GATE_AUTH0_DOMAIN": tenant.url,
        "PWLESS_GATE_CLIENT_ID": CLIENT_ID,
        "PWLESS_GATE_CLIENT_SECRET": CLIENT_SECRET,
        "PWLESS_GATE_ALLOWED_DOMAINS": "*",  # anyone, on purpose
        "PWLESS_GATE_SECRET_KEY": "k" * 32,
        "PWLESS_GATE_STORE": store,
        "PWLESS_GATE_SESSION_CACHE_TTL": "1",
        **THROTTLES_OFF_ENV,
    }


@pytest.fixture
def base(gate_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    with gunicorn(
        'pwless_gate:gate("tests.apps:whoami")',
        workers=3,
        env=gate_env,
        log=tmp_path / "gunicorn.log",
    ) as (url, _):
        yield url


def browser_of(base: str, tenant: Any, email: str, user_agent: str) -> requests.Session:
    """A browser with its own cookie jar and User-Agent, signed in as ``email``."""
    browser = browser_session()
    browser.headers["User-Agent"] = user_agent
    browser, done = http_sign_in(base, tenant, email, next="/hello", browser=browser)
    assert done.status_code == 303, done.text
    return browser


def spread(browser: requests.Session, base: str, n: int = 12) -> set[int]:
    """The statuses of ``n`` concurrent requests, each holding its worker a moment, so
    every worker answers some."""

    def fetch(_: int) -> int:
        answer = browser.get(f"{base}/hello?sleep=0.2", allow_redirects=False, timeout=10)
        return answer.status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        return set(pool.map(fetch, range(n)))


def refused_everywhere(browser: requests.Session, base: str) -> bool:
    return until(lambda: spread(browser, base) == {302}, REFUSED_WITHIN)


def handles_on(page: str) -> list[str]:
    """The ``session`` values of the page's revoke forms, in page order."""
    return re.findall(r'name="session" value="([^"]*)"', page)


def revoke(
    browser: requests.Session, base: str, session: str, csrf: str | None = None
) -> requests.Response:
    # The token is the browser's, the same in every form; the sign-out page always has one.
    page = browser.get(f"{base}/_gate/logout", timeout=10)
    token = hidden(page.text, "csrf_token") if csrf is None else csrf
    return browser.post(
        f"{base}/_gate/sessions/revoke",
        data={"csrf_token": token, "session": session},
        allow_redirects=False,
        timeout=10,
    )


# -- the page -----------------------------------------------------------------------


def test_a_person_sees_their_browsers_and_ends_one(base: str, tenant: Any) -> None:
    laptop = browser_of(base, tenant, "ada@example.com", FIREFOX_LINUX)
    phone = browser_of(base, tenant, "ada@example.com", SAFARI_IPHONE)
    assert spread(phone, base) == {200}  # cached in the workers

    page = laptop.get(f"{base}/_gate/sessions", timeout=10)
    assert page.status_code == 200
    current = re.search(r'<li class="session current">(.*?)</li>', page.text, re.S)
    assert current is not None
    assert "Firefox on Linux" in current.group(1)
    assert "This browser" in current.group(1)
    assert "Safari on iPhone" in page.text
    assert page.text.count('<li class="session') == 2
    assert "127.0.0.1" in page.text
    [phone_handle, others] = handles_on(page.text)
    assert others == "others"
    cookie = phone.cookies.get("pwless_gate_session")
    assert cookie is not None
    assert phone_handle not in cookie  # the handle is not the cookie, nor part of it

    # The phone's own page lists the same two, the other way round.
    phone_page = phone.get(f"{base}/_gate/sessions", timeout=10).text
    assert handles_on(phone_page)[0] != phone_handle

    ended = revoke(laptop, base, phone_handle)
    assert ended.status_code == 303
    assert ended.headers["Location"] == "/_gate/sessions?ended=1"
    after = laptop.get(base + ended.headers["Location"], timeout=10)
    assert "Signed out of 1 session." in after.text
    assert "Safari on iPhone" not in after.text
    assert handles_on(after.text) == []  # nobody else: no forms at all
    assert refused_everywhere(phone, base)
    assert spread(laptop, base) == {200}


def test_sign_out_everywhere_else(base: str, tenant: Any) -> None:
    here = browser_of(base, tenant, "bo@example.com", FIREFOX_LINUX)
    elsewhere = [
        browser_of(base, tenant, "bo@example.com", agent)
        for agent in (SAFARI_IPHONE, CHROME_WINDOWS)
    ]
    someone = browser_of(base, tenant, "cy@example.com", CHROME_WINDOWS)
    for browser in (*elsewhere, someone):
        assert spread(browser, base) == {200}

    ended = revoke(here, base, "others")
    assert ended.status_code == 303
    assert ended.headers["Location"] == "/_gate/sessions?ended=2"
    assert all(refused_everywhere(browser, base) for browser in elsewhere)
    assert spread(here, base) == {200}
    assert spread(someone, base) == {200}  # another person's sessions are not touched

    again = revoke(here, base, "others")
    assert again.headers["Location"] == "/_gate/sessions?ended=0"
    assert "no other sessions" in here.get(base + again.headers["Location"], timeout=10).text


@pytest.mark.parametrize(
    "handle",
    ["theirs", "AAAAAAAAAAAAAAAA", "not a handle", "", "x" * 5000],
    ids=["another-persons", "unknown", "malformed", "empty", "huge"],
)
def test_a_handle_that_is_not_mine_ends_nothing(base: str, tenant: Any, handle: str) -> None:
    mine = browser_of(base, tenant, "dee@example.com", FIREFOX_LINUX)
    other_mine = browser_of(base, tenant, "dee@example.com", SAFARI_IPHONE)
    theirs = [
        browser_of(base, tenant, "eve@example.com", agent)
        for agent in (FIREFOX_LINUX, SAFARI_IPHONE)
    ]
    if handle == "theirs":
        [handle, _] = handles_on(theirs[0].get(f"{base}/_gate/sessions", timeout=10).text)

    refused = revoke(mine, base, handle)
    assert refused.status_code == 404
    assert "Nothing was changed" in refused.text
    assert 'href="/_gate/sessions">Back to your sessions' in refused.text
    for browser in (mine, other_mine, *theirs):
        assert spread(browser, base, n=6) == {200}
    assert len(handles_on(mine.get(f"{base}/_gate/sessions", timeout=10).text)) == 2


def test_forms_need_the_csrf_token_and_a_post(base: str, tenant: Any) -> None:
    mine = browser_of(base, tenant, "fay@example.com", FIREFOX_LINUX)
    other = browser_of(base, tenant, "fay@example.com", SAFARI_IPHONE)
    [handle, _] = handles_on(mine.get(f"{base}/_gate/sessions", timeout=10).text)

    for token in ("", "forged-token"):
        refused = revoke(mine, base, handle, csrf=token)
        assert refused.status_code == 403
    missing = mine.post(f"{base}/_gate/sessions/revoke", data={"session": handle}, timeout=10)
    assert missing.status_code == 403
    cross_site = mine.post(
        f"{base}/_gate/sessions/revoke",
        data={
            "csrf_token": hidden(mine.get(f"{base}/_gate/sessions", timeout=10).text, "csrf_token"),
            "session": handle,
        },
        headers={"Origin": "https://evil.example"},
        timeout=10,
    )
    assert cross_site.status_code == 403
    got = mine.get(f"{base}/_gate/sessions/revoke", timeout=10)
    assert got.status_code == 405
    assert got.headers["Allow"] == "POST"
    assert spread(other, base, n=6) == {200}  # nothing was ended


def test_strangers_get_the_sign_in_challenge(base: str, tenant: Any) -> None:
    stranger = browser_session()
    page = stranger.get(f"{base}/_gate/sessions", allow_redirects=False, timeout=10)
    assert page.status_code == 302
    assert page.headers["Location"] == "/_gate/login?next=%2F_gate%2Fsessions"
    api = stranger.get(f"{base}/_gate/sessions", headers={"Accept": "application/json"}, timeout=10)
    assert api.status_code == 401
    assert api.json()["login_url"] == "/_gate/login"
    assert api.headers["WWW-Authenticate"] == 'Cookie realm="Internal tools"'

    # After signing in from there, the person lands on the page.
    browser = browser_session()
    browser, done = http_sign_in(
        base, tenant, "gus@example.com", next="/_gate/sessions", browser=browser
    )
    assert done.headers["Location"] == "/_gate/sessions"
    assert browser.get(f"{base}/_gate/sessions", timeout=10).status_code == 200


@pytest.mark.parametrize("path", ["/_gate/sessions", "/_gate/userinfo"])
@pytest.mark.parametrize(
    "headers",
    [
        {"Accept": "*/*", "User-Agent": "curl/8.5.0"},
        {"Accept": "application/json"},
        {"Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty", "Accept": "*/*"},
    ],
    ids=["curl", "json", "fetch"],
)
def test_gate_routes_challenge_for_the_session_cookie_alone(
    base: str, path: str, headers: dict[str, str]
) -> None:
    """Not a browser's navigation, no session: 401 whose one challenge names the only
    credential these routes take, the session cookie. Not Basic (a tool would send a
    password that cannot help; a browser would show a password dialog), as on the app's
    paths, where an app token may be sent that way."""
    answer = requests.get(f"{base}{path}", headers=headers, allow_redirects=False, timeout=10)
    assert answer.status_code == 401
    assert answer.headers.get("WWW-Authenticate") == 'Cookie realm="Internal tools"'
    assert answer.json() == {"error": "unauthorized", "login_url": "/_gate/login"}
    assert answer.headers["Cache-Control"] == "no-store"


def test_userinfo_and_the_sign_out_pages_lead_to_the_page(base: str, tenant: Any) -> None:
    browser = browser_of(base, tenant, "hal@example.com", FIREFOX_LINUX)
    info = browser.get(f"{base}/_gate/userinfo", timeout=10).json()
    assert info["sessions_url"] == "/_gate/sessions"
    assert info["email"] == "hal@example.com"
    confirm = browser.get(f"{base}/_gate/logout", timeout=10)
    assert 'href="/_gate/sessions"' in confirm.text
    done = browser.post(
        f"{base}/_gate/logout",
        data={"csrf_token": hidden(confirm.text, "csrf_token")},
        timeout=10,
    )
    assert "You are signed out" in done.text
    assert 'href="/_gate/sessions"' in done.text


# -- the operators' command against the running gate --------------------------------


def pwless_gate(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``pwless-gate ARGS`` as a real process with exactly the gate's settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PWLESS_GATE_")}
    return subprocess.run(
        [str(BIN / "pwless-gate"), *args],
        env={**clean, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_operators_list_and_end_a_persons_sessions(
    base: str, tenant: Any, gate_env: dict[str, str]
) -> None:
    laptop = browser_of(base, tenant, "ivy@example.com", FIREFOX_LINUX)
    phone = browser_of(base, tenant, "ivy@example.com", SAFARI_IPHONE)
    other = browser_of(base, tenant, "jo@example.com", CHROME_WINDOWS)
    for browser in (laptop, phone, other):
        assert spread(browser, base) == {200}

    listed = pwless_gate(gate_env, "sessions", "list", "--user", "Ivy@Example.com")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.strip().splitlines()
    assert lines[-1] == "2 sessions"
    assert all(line.startswith("ivy@example.com  ") for line in lines[:-1])
    assert any("Firefox on Linux" in line for line in lines)
    assert any("Safari on iPhone" in line for line in lines)
    assert all("127.0.0.1" in line for line in lines[:-1])
    page_handles = handles_on(laptop.get(f"{base}/_gate/sessions", timeout=10).text)
    assert any(line.endswith(page_handles[0]) for line in lines)

    sub = laptop.get(f"{base}/hello", timeout=10).json()["claims"]["sub"]
    by_sub = pwless_gate(gate_env, "sessions", "list", "--user", sub)
    assert by_sub.stdout == listed.stdout
    everyone = pwless_gate(gate_env, "sessions", "list")
    assert everyone.stdout.strip().splitlines()[-1] == "3 sessions"

    ended = pwless_gate(gate_env, "sessions", "revoke", "--user", "ivy@example.com")
    assert ended.returncode == 0, ended.stderr
    assert ended.stdout.strip() == "ended 2 sessions"
    assert refused_everywhere(laptop, base)
    assert refused_everywhere(phone, base)
    assert spread(other, base) == {200}
    assert pwless_gate(gate_env, "sessions", "list", "--user", sub).stdout == "0 sessions\n"

    all_ended = pwless_gate(gate_env, "sessions", "revoke", "--all")
    assert all_ended.returncode == 0, all_ended.stderr
    assert all_ended.stdout.strip() == "ended 1 session"
    assert refused_everywhere(other, base)


def test_operators_get_a_clear_no_from_the_cookie_store(gate_env: dict[str, str]) -> None:
    env = {**gate_env, "PWLESS_GATE_STORE": "cookie"}
    for args in (("list",), ("list", "--user", "ada@example.com"), ("revoke", "--all")):
        result = pwless_gate(env, "sessions", *args)
        assert result.returncode == 2
        assert result.stdout == ""
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("pwless-gate: PWLESS_GATE_STORE: ")
        assert "cannot be listed or ended" in line


def test_operators_commands_never_make_a_new_empty_store(
    gate_env: dict[str, str], tmp_path: Path
) -> None:
    """Run from the wrong directory, or with a mistyped path, the commands say so: a new
    empty file there would answer "ended 0 sessions" while the gate's go on."""
    elsewhere = tmp_path / "not-here"
    for env in (
        {**gate_env, "PWLESS_GATE_STORE": f"sqlite://{elsewhere}/gate.sqlite3"},
        {k: v for k, v in gate_env.items() if k != "PWLESS_GATE_STORE"}
        | {"PWLESS_GATE_STATE_DIR": str(elsewhere)},
    ):
        for command in (("sessions", "revoke", "--all"), ("sessions", "list"), ("tokens", "list")):
            result = pwless_gate(env, *command)
            assert result.returncode == 2, (command, result.stdout)
            [line] = result.stderr.strip().splitlines()
            assert "no SQLite file at " in line, line
        assert not elsewhere.exists()


def test_revoke_needs_a_user_or_all(gate_env: dict[str, str]) -> None:
    result = pwless_gate(gate_env, "sessions", "revoke")
    assert result.returncode == 2
    assert "--user" in result.stderr


# -- in process: the clock, the cookie store, odd requests ------------------------------


class CountingStore(SQLiteStore):
    """The SQLite store, noting the ``seen_at`` of every record it rewrites."""

    def __init__(self, path: Path, clock: FakeClock) -> None:
        super().__init__(SQLiteDatabase(str(path), clock=clock), keys=KEYS, clock=clock)
        self.writes: list[float] = []

    def update(self, cookie_value: str, session: Session) -> str | None:
        self.writes.append(session.seen_at)
        return super().update(cookie_value, session)


def test_last_seen_is_written_once_a_minute_not_on_every_request(
    tenant: Any, tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "gate.sqlite3"
    store = CountingStore(path, clock)
    config = gate_config(tenant.url, store=f"sqlite://{path}")
    app = RecordingApp()
    harness = Harness(PasswordlessGate(app, config, store=store, clock=clock), app, tenant)
    assert harness.login("kim@example.com").status_code == 303
    [started] = store.all_sessions()
    for _ in range(5):
        clock.advance(10)
        assert harness.client.get("/").status_code == 200
    assert store.writes == []  # 50 seconds of requests: no write
    clock.advance(11)
    assert harness.client.get("/").status_code == 200
    assert harness.client.get("/").status_code == 200
    assert store.writes == [clock()]  # once, then not again within the minute
    [seen] = store.all_sessions()
    assert seen.seen_at == clock() > started.seen_at
    assert seen.handle == started.handle


def test_with_the_cookie_store_revoke_is_a_clear_no(make_harness: Any) -> None:
    harness = make_harness(store="cookie")
    assert harness.login("lu@example.com").status_code == 303
    page = harness.client.get("/_gate/sessions")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "cannot be listed or ended here" in text
    assert "PWLESS_GATE_STORE" in text
    assert handles_on(text) == []
    token = hidden(harness.client.get("/_gate/logout").get_data(as_text=True), "csrf_token")
    for session in ("others", "AAAAAAAAAAAAAAAA"):
        answer = harness.client.post(
            "/_gate/sessions/revoke", data={"csrf_token": token, "session": session}
        )
        assert answer.status_code == 409
    assert harness.client.get("/").status_code == 200


def test_revoking_this_browsers_own_handle_leads_to_sign_out(
    make_harness: Any, tmp_path: Path
) -> None:
    harness = make_harness(store=f"sqlite://{tmp_path / 'gate.sqlite3'}")
    assert harness.login("mo@example.com").status_code == 303
    index = harness.gate.sessions.index
    assert index is not None
    [mine] = index.all_sessions()
    page = harness.client.get("/_gate/logout").get_data(as_text=True)
    answer = harness.client.post(
        "/_gate/sessions/revoke",
        data={"csrf_token": hidden(page, "csrf_token"), "session": mine.handle},
    )
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/_gate/logout"  # the sign-out confirmation
    assert harness.client.get("/").status_code == 200  # nothing ended without confirming


def test_sessions_url_is_absolute_with_a_public_url(make_harness: Any) -> None:
    harness = make_harness(public_url="http://localhost")
    assert harness.login("ned@example.com").status_code == 303
    info = harness.client.get("/_gate/userinfo").get_json()
    assert info["sessions_url"] == "http://localhost/_gate/sessions"
    # Under a mount (the one public_url names, when it names one): see test_mounts.
