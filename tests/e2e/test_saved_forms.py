"""Saved forms over HTTP: a form POST that arrives after the session ended, kept for one sign-in.

The gate wraps :func:`tests.apps.form_echo`, which answers with the fields and
files it received. Sessions end by the clock (lifetime), by signing out in
another tab, or never existed; the person signs in again with a code from the
local tenant's outbox.
"""

from __future__ import annotations

import io
import json
import logging
import re
import sqlite3
from collections.abc import Callable
from contextlib import closing
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import redis
from werkzeug.test import Client, TestResponse

from pwless_gate import PasswordlessGate
from pwless_gate.stores.sqlite import SQLiteFormStore

from ..apps import form_echo
from ..helpers import FakeClock, Harness, RecordingApp, gate_config, hidden

#: What Chromium sends with a form's POST (a navigation).
BROWSER = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Sec-Fetch-Mode": "navigate",
    "Sec-Fetch-Dest": "document",
    "Origin": "http://localhost",
}
SECRET = "the minutes of a secret meeting"
LIFETIME = 3600
TARGET = "/notes/edit?draft=7"


@pytest.fixture
def make_gate(tenant: Any, clock: FakeClock) -> Callable[..., Harness]:
    def make(**overrides: Any) -> Harness:
        overrides.setdefault("session_lifetime", LIFETIME)
        gate = PasswordlessGate(form_echo, gate_config(tenant.url, **overrides), clock=clock)
        return Harness(gate=gate, app=RecordingApp(), tenant=tenant)

    return make


@pytest.fixture
def harness(make_gate: Callable[..., Harness]) -> Harness:
    return make_gate()


def multipart() -> dict[str, Any]:
    return {
        "csrf_token": "app-own-csrf-123",
        "title": "Q3 board meeting",
        "body": SECRET + "\r\nsecond line",
        "tags": ["board", "minutes"],
        "attachment": (io.BytesIO(b"col1,col2\n1,2\n"), "report.csv", "text/csv"),
    }


def send_form(client: Client, data: Any, **kwargs: Any) -> TestResponse:
    return client.post(TARGET, data=data, headers=BROWSER, **kwargs)


def send_url(client: Client) -> str:
    """Where the offer page's Send button posts: the form's URL with the Send marker."""
    page = client.get("/_gate/form").get_data(as_text=True)
    found = re.search(r'<form method="post" action="([^"]+)"', page)
    assert found is not None, page
    return unescape(found.group(1))


def echoed(answer: TestResponse) -> dict[str, Any]:
    assert answer.status_code == 200, answer.get_data(as_text=True)
    result: dict[str, Any] = json.loads(answer.get_data(as_text=True))
    return result


def login_query(answer: TestResponse) -> dict[str, list[str]]:
    assert answer.status_code == 302, answer.get_data(as_text=True)
    location = urlsplit(answer.headers["Location"])
    assert location.path == "/_gate/login"
    return parse_qs(location.query)


def sign_in_again(harness: Harness, email: str, client: Client | None = None) -> TestResponse:
    """The sign-in page with its notice, a code, and the answer to the code (not followed)."""
    return harness.login(email, client=client, next=TARGET)


def test_a_form_sent_after_the_session_ended_is_sent_once_after_sign_in(
    harness: Harness, clock: FakeClock
) -> None:
    assert harness.login("ada@example.com").status_code == 303
    clock.advance(LIFETIME + 1)

    kept = send_form(harness.client, multipart())
    assert login_query(kept) == {"next": [TARGET], "form": ["kept"]}
    page = harness.client.get(kept.headers["Location"]).get_data(as_text=True)
    assert "It is kept" in page

    done = sign_in_again(harness, "ada@example.com")
    assert done.status_code == 303
    assert done.headers["Location"] == "/_gate/form"
    offer = harness.client.get("/_gate/form")
    text = offer.get_data(as_text=True)
    assert offer.status_code == 200
    assert "<code>/notes/edit</code>" in text
    assert 'action="/notes/edit?draft=7&amp;pwless_gate_send=' in text
    assert "report.csv" in text
    # The page repeats no field: the body comes from the store alone.
    for fragment in ("app-own-csrf-123", "Q3 board meeting", SECRET):
        assert fragment not in text

    # The Send button: the browser posts the page's empty form; the app gets the kept body.
    resent = harness.client.post(send_url(harness.client), data={}, headers=BROWSER)
    got = echoed(resent)
    assert got["remote_user"] == "ada@example.com"
    assert got["path"] == "/notes/edit"
    assert got["query"] == "draft=7"
    assert got["fields"] == [
        ["csrf_token", "app-own-csrf-123"],
        ["title", "Q3 board meeting"],
        ["body", SECRET + "\r\nsecond line"],
        ["tags", "board"],
        ["tags", "minutes"],
    ]
    assert got["files"] == [["attachment", "report.csv", "text/csv", "col1,col2\n1,2\n"]]
    assert "_form=;" in resent.headers.get("Set-Cookie", "")  # the cookie is deleted

    # Used once: the same POST again is the browser's own body, and there is nothing to offer.
    again = echoed(harness.client.post(TARGET, data={"title": "new"}, headers=BROWSER))
    assert again["fields"] == [["title", "new"]]
    assert again["files"] == []
    assert harness.client.get("/_gate/form").status_code == 404


def test_an_urlencoded_form_after_signing_out_in_another_tab(harness: Harness) -> None:
    assert harness.login("ada@example.com").status_code == 303
    page = harness.client.get("/_gate/logout").get_data(as_text=True)
    signed_out = harness.client.post(
        "/_gate/logout", data={"csrf_token": hidden(page, "csrf_token")}
    )
    assert signed_out.status_code == 200

    fields = {"csrf_token": "tok", "comment": SECRET}
    assert login_query(send_form(harness.client, fields))["form"] == ["kept"]
    assert sign_in_again(harness, "ada@example.com").headers["Location"] == "/_gate/form"
    text = harness.client.get("/_gate/form").get_data(as_text=True)
    assert SECRET not in text
    got = echoed(harness.client.post(send_url(harness.client), data={}, headers=BROWSER))
    assert got["fields"] == [["csrf_token", "tok"], ["comment", SECRET]]


def test_signing_in_as_someone_else_discards_the_form(harness: Harness, clock: FakeClock) -> None:
    assert harness.login("ada@example.com").status_code == 303
    clock.advance(LIFETIME + 1)
    assert login_query(send_form(harness.client, multipart()))["form"] == ["kept"]

    done = sign_in_again(harness, "bo@example.com")
    assert done.headers["Location"] == TARGET  # where Bo was going, no offer
    assert harness.client.get("/_gate/form").status_code == 404
    # Nor is it offered to Ada afterwards: it is gone.
    clock.advance(LIFETIME + 1)
    assert sign_in_again(harness, "ada@example.com").headers["Location"] == TARGET


def test_a_form_is_bound_to_its_browser_and_its_sign_in(harness: Harness, clock: FakeClock) -> None:
    assert harness.login("ada@example.com").status_code == 303
    clock.advance(LIFETIME + 1)
    kept = send_form(harness.client, multipart())
    assert login_query(kept)["form"] == ["kept"]
    handle = next(c.value for c in harness.client._cookies.values() if c.key.endswith("_form"))

    # Someone with a copy of the cookie, in another browser, signing in as Ada: no offer.
    other = harness.new_browser()
    other.set_cookie("pwless_gate_form", handle)
    assert sign_in_again(harness, "ada@example.com", client=other).headers["Location"] == TARGET
    assert other.get("/_gate/form").status_code == 404
    got = echoed(other.post(TARGET, data={"title": "mine"}, headers=BROWSER))
    assert got["fields"] == [["title", "mine"]]

    # A sign-in started before the form was kept does not offer it either.
    browser = harness.new_browser()
    assert harness.login("ada@example.com", client=browser).status_code == 303
    clock.advance(LIFETIME + 1)
    started = harness.start("ada@example.com", client=browser, next=TARGET)
    assert login_query(send_form(browser, multipart()))["form"] == ["kept"]
    code = harness.tenant.last_message(to="ada@example.com").code
    assert harness.submit_code(started, code, client=browser).headers["Location"] == TARGET


def test_a_form_expires_with_the_sign_in(harness: Harness, clock: FakeClock) -> None:
    assert harness.login("ada@example.com").status_code == 303
    clock.advance(LIFETIME + 1)
    assert login_query(send_form(harness.client, multipart()))["form"] == ["kept"]
    started = harness.start("ada@example.com", next=TARGET)
    clock.advance(15 * 60 + 1)  # past login_lifetime: the sign-in and the form are over
    code = harness.tenant.last_message(to="ada@example.com").code
    assert harness.submit_code(started, code).status_code == 400
    assert sign_in_again(harness, "ada@example.com").headers["Location"] == TARGET


def test_a_form_larger_than_the_limit_is_not_kept_and_the_page_says_so(
    make_gate: Callable[..., Harness], clock: FakeClock
) -> None:
    harness = make_gate(saved_form_max_bytes=1024)
    assert harness.login("ada@example.com").status_code == 303
    clock.advance(LIFETIME + 1)
    answer = send_form(harness.client, {"body": "x" * 2000})
    assert login_query(answer)["form"] == ["too-large"]
    assert "_form=" not in answer.headers.get("Set-Cookie", "")
    page = harness.client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "too large to keep" in page
    assert sign_in_again(harness, "ada@example.com").headers["Location"] == TARGET

    clock.advance(LIFETIME + 1)
    small = send_form(harness.client, {"body": "x" * 900})
    assert login_query(small)["form"] == ["kept"]


@pytest.mark.parametrize(
    ("signed_in", "outcome", "german"),
    [
        (True, "kept", "Es wurde aufbewahrt"),
        (False, "not-kept", "Es konnte hier nicht aufbewahrt werden"),
    ],
)
def test_changing_the_language_keeps_saying_what_became_of_the_form(
    harness: Harness, clock: FakeClock, signed_in: bool, outcome: str, german: str
) -> None:
    """The sign-in page's language switcher sends ``form`` back with ``next``: the page
    in the new language still says whether the form was kept."""
    if signed_in:
        assert harness.login("ada@example.com").status_code == 303
        clock.advance(LIFETIME + 1)
    answer = send_form(harness.client, {"title": "twenty minutes of typing"})
    assert login_query(answer) == {"next": [TARGET], "form": [outcome]}
    page = harness.client.get(answer.headers["Location"]).get_data(as_text=True)
    switcher = page[page.index('class="languages"') :]
    fields = {
        name: unescape(value)
        for name, value in re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', switcher)
    }
    assert fields == {"next": TARGET, "form": outcome}
    switched = harness.client.get("/_gate/login", query_string={**fields, "lang": "de"})
    assert switched.headers["Content-Language"] == "de"
    assert german in switched.get_data(as_text=True)


def kept_forms(harness: Harness, redis_url: str | None) -> int:
    """How many forms the gate's store holds."""
    if redis_url is not None:
        return len(redis.Redis.from_url(redis_url).keys("*:form:*"))
    saved = harness.gate.saved_forms
    assert saved is not None
    assert isinstance(saved.store, SQLiteFormStore)
    with closing(sqlite3.connect(saved.store.database.path)) as conn:
        count: int = conn.execute("SELECT count(*) FROM saved_forms").fetchone()[0]
    return count


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_a_browser_nobody_signed_in_on_gets_no_form_kept(
    make_gate: Callable[..., Harness], request: pytest.FixtureRequest, kind: str
) -> None:
    """Anyone can send form POSTs, each from a new browser: none is kept, so a client
    that never signed in cannot fill the store (the disk, or Redis's memory)."""
    redis_url = request.getfixturevalue("redis_url") if kind == "redis" else None
    harness = make_gate(store=redis_url) if redis_url else make_gate()
    body = {"body": "x" * 60_000}
    cookieless = Client(harness.gate, use_cookies=False)
    named = harness.client  # a browser id from the sign-in page, and no sign-in
    assert named.get("/_gate/login").status_code == 200
    for client in [cookieless] * 20 + [named] * 20:
        answer = send_form(client, body)
        assert login_query(answer) == {"next": [TARGET], "form": ["not-kept"]}
        assert "_form=" not in answer.headers.get("Set-Cookie", "")
    assert kept_forms(harness, redis_url) == 0
    page = named.get(answer.headers["Location"]).get_data(as_text=True)
    assert "could not be kept" in page
    assert sign_in_again(harness, "ada@example.com").headers["Location"] == TARGET


def test_a_browser_has_one_kept_form_the_newest(harness: Harness, clock: FakeClock) -> None:
    assert harness.login("ada@example.com").status_code == 303
    clock.advance(LIFETIME + 1)
    for version in ("first", "second", "third"):
        kept = send_form(harness.client, {"comment": version})
        assert login_query(kept)["form"] == ["kept"]
    assert kept_forms(harness, None) == 1
    assert sign_in_again(harness, "ada@example.com").headers["Location"] == "/_gate/form"
    got = echoed(harness.client.post(send_url(harness.client), data={}, headers=BROWSER))
    assert got["fields"] == [["comment", "third"]]
    assert kept_forms(harness, None) == 0


@pytest.mark.parametrize(
    ("headers", "content_type", "body", "status"),
    [
        ({"Accept": "application/json"}, "application/json", b'{"a": 1}', 401),
        (BROWSER, "application/json", b'{"a": 1}', 302),
        (BROWSER, "text/plain", b"a=1", 302),
        # Not a navigation (curl's Accept): 401, as every such challenge is.
        ({"Accept": "*/*"}, "application/x-www-form-urlencoded", b"a=1", 401),
        ({"X-Requested-With": "fetch"}, "application/x-www-form-urlencoded", b"a=1", 401),
    ],
    ids=["json-api", "json-navigation", "text", "not-a-navigation", "fetch"],
)
def test_other_bodies_get_the_usual_challenge(
    harness: Harness, headers: dict[str, str], content_type: str, body: bytes, status: int
) -> None:
    answer = harness.client.post(TARGET, data=body, content_type=content_type, headers=headers)
    assert answer.status_code == status
    if status == 302:
        assert login_query(answer) == {"next": [TARGET]}
    assert "_form=" not in answer.headers.get("Set-Cookie", "")


@pytest.mark.parametrize(
    "headers",
    [
        {**BROWSER, "Origin": "https://evil.example"},
        {**BROWSER, "Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
        {**BROWSER, "Sec-Fetch-Site": "same-site", "Origin": "http://sub.localhost"},
        {"Accept": "text/html"},  # neither Origin nor Sec-Fetch-Site: no word on where from
    ],
    ids=["other-origin", "cross-site", "same-site", "no-origin"],
)
def test_a_form_another_site_posts_is_never_kept(
    harness: Harness, clock: FakeClock, headers: dict[str, str]
) -> None:
    assert harness.login("ada@example.com").status_code == 303
    clock.advance(LIFETIME + 1)
    answer = harness.client.post(TARGET, data={"delete": "everything"}, headers=headers)
    assert login_query(answer) == {"next": [TARGET]}
    assert "_form=" not in answer.headers.get("Set-Cookie", "")
    assert sign_in_again(harness, "ada@example.com").headers["Location"] == TARGET


def test_with_the_cookie_store_forms_are_not_kept_and_the_page_says_so(
    make_gate: Callable[..., Harness],
) -> None:
    harness = make_gate(store="cookie")
    answer = send_form(harness.client, multipart())
    assert login_query(answer)["form"] == ["not-kept"]
    assert "_form=" not in answer.headers.get("Set-Cookie", "")
    page = harness.client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "could not be kept" in page
    assert sign_in_again(harness, "ada@example.com").headers["Location"] == TARGET


def test_saved_forms_off(make_gate: Callable[..., Harness]) -> None:
    """Nothing is kept, and the person is told so: the form is lost all the same."""
    harness = make_gate(saved_form_max_bytes=0)
    answer = send_form(harness.client, multipart())
    assert login_query(answer) == {"next": [TARGET], "form": ["not-kept"]}
    assert "_form=" not in answer.headers.get("Set-Cookie", "")
    page = harness.client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "could not be kept" in page


def test_a_malformed_multipart_body_is_not_kept(harness: Harness, clock: FakeClock) -> None:
    assert harness.login("ada@example.com").status_code == 303
    clock.advance(LIFETIME + 1)
    answer = harness.client.post(
        TARGET,
        data=b"--x\r\nno headers here",
        content_type="multipart/form-data; boundary=x",
        headers=BROWSER,
    )
    assert login_query(answer)["form"] == ["not-kept"]


@pytest.mark.parametrize("length", ["", "abc", "-5", "0x10"], ids=["none", "word", "neg", "hex"])
def test_a_form_of_unknown_length_is_not_kept(
    harness: Harness, clock: FakeClock, length: str
) -> None:
    assert harness.login("ada@example.com").status_code == 303
    clock.advance(LIFETIME + 1)
    # Without a length it can read, and with a server that does not end the body itself,
    # the gate cannot know where the body ends: it keeps nothing and says so.
    answer = send_form(
        harness.client, {"comment": SECRET}, environ_overrides={"CONTENT_LENGTH": length}
    )
    assert login_query(answer)["form"] == ["not-kept"]
    assert "_form=" not in answer.headers.get("Set-Cookie", "")
    # The same body sent chunked, and ended by the server, is kept whole.
    ended = send_form(
        harness.client,
        {"comment": SECRET},
        environ_overrides={
            "CONTENT_LENGTH": length,
            "HTTP_TRANSFER_ENCODING": "chunked",
            "wsgi.input_terminated": True,
        },
    )
    assert login_query(ended)["form"] == ["kept"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"CONTENT_LENGTH": "", "wsgi.input_terminated": True},
        {"CONTENT_LENGTH": "", "HTTP_TRANSFER_ENCODING": "gzip", "wsgi.input_terminated": True},
        {"CONTENT_LENGTH": "0"},
    ],
    ids=["no-length-nor-chunked", "not-chunked", "empty"],
)
def test_a_post_without_a_body_keeps_nothing(
    harness: Harness, clock: FakeClock, overrides: dict[str, Any]
) -> None:
    assert harness.login("ada@example.com").status_code == 303
    clock.advance(LIFETIME + 1)
    # A POST with neither a length nor a chunked body has no body (HTTP/1.1), even when the
    # server marks its input ended (gunicorn does): what a proxy that drops the body
    # sends. Nothing is kept, and the sign-in page does not say "it is kept".
    answer = send_form(harness.client, {"comment": SECRET}, environ_overrides=overrides)
    assert login_query(answer)["form"] == ["not-kept"]
    assert "_form=" not in answer.headers.get("Set-Cookie", "")
    assert sign_in_again(harness, "ada@example.com").headers["Location"] == TARGET


def test_a_form_to_a_path_that_reads_as_another_host_is_not_kept(
    harness: Harness, clock: FakeClock
) -> None:
    assert harness.login("ada@example.com").status_code == 303
    clock.advance(LIFETIME + 1)
    # Its Send page would post the form to //evil.example, and Discard redirect there.
    answer = send_form(
        harness.client, {"comment": SECRET}, environ_overrides={"PATH_INFO": "//evil.example/x"}
    )
    assert login_query(answer) == {"next": ["/"], "form": ["not-kept"]}
    assert "_form=" not in answer.headers.get("Set-Cookie", "")


def test_nothing_of_the_body_is_logged(
    harness: Harness, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert harness.login("ada@example.com").status_code == 303
    clock.advance(LIFETIME + 1)
    send_form(harness.client, multipart())
    sign_in_again(harness, "ada@example.com")
    echoed(harness.client.post(send_url(harness.client), data={"x": "y"}, headers=BROWSER))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert logged  # the sign-ins were logged
    for fragment in (SECRET, "report.csv", "col1,col2", "app-own-csrf-123", "Q3 board"):
        assert fragment not in logged


def test_redis_keeps_forms_too(
    make_gate: Callable[..., Harness], clock: FakeClock, redis_url: str
) -> None:
    harness = make_gate(store=redis_url)
    assert harness.login("ada@example.com").status_code == 303
    clock.advance(LIFETIME + 1)
    assert login_query(send_form(harness.client, multipart()))["form"] == ["kept"]
    assert sign_in_again(harness, "ada@example.com").headers["Location"] == "/_gate/form"
    got = echoed(harness.client.post(send_url(harness.client), data={}, headers=BROWSER))
    assert got["files"] == [["attachment", "report.csv", "text/csv", "col1,col2\n1,2\n"]]
    assert harness.client.get("/_gate/form").status_code == 404


#: A rule that asks for a sign-in within the last 15 minutes for the notes.
STEP_UP_RULES = """
[[rules]]
path = "/notes"
max_age = 900
"""


@pytest.fixture
def stepping_up(make_gate: Callable[..., Harness], tmp_path: Path) -> Harness:
    rules = tmp_path / "rules.toml"
    rules.write_text(STEP_UP_RULES)
    return make_gate(rules_file=str(rules))


def test_a_form_answered_with_a_step_up_is_kept_for_the_same_person(
    stepping_up: Harness, clock: FakeClock
) -> None:
    harness = stepping_up
    assert harness.login("ada@example.com").status_code == 303
    clock.advance(901)  # the session lives on; the rule wants a fresher sign-in

    kept = send_form(harness.client, multipart())
    assert login_query(kept) == {"next": [TARGET], "fresh": ["900"], "form": ["kept"]}
    page = harness.client.get(kept.headers["Location"]).get_data(as_text=True)
    assert "signed in as ada@example.com" in page
    assert "15 minutes" in page
    assert "has not reached the site yet. It is kept" in page

    done = sign_in_again(harness, "ada@example.com")
    assert done.headers["Location"] == "/_gate/form"
    resent = harness.client.post(
        send_url(harness.client), data={"title": "resent"}, headers=BROWSER
    )
    got = echoed(resent)
    assert got["remote_user"] == "ada@example.com"
    assert ["body", SECRET + "\r\nsecond line"] in got["fields"]
    assert got["files"] == [["attachment", "report.csv", "text/csv", "col1,col2\n1,2\n"]]

    # A page's fetch() of the same form is answered 401, and nothing is kept.
    clock.advance(901)
    scripted = {**BROWSER, "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"}
    answer = harness.client.post(TARGET, data={"title": "x"}, headers=scripted)
    assert answer.status_code == 401
    assert "_form=" not in answer.headers.get("Set-Cookie", "")


def test_a_step_up_form_is_discarded_when_someone_else_signs_in(
    stepping_up: Harness, clock: FakeClock
) -> None:
    harness = stepping_up
    assert harness.login("ada@example.com").status_code == 303
    clock.advance(901)
    kept = send_form(harness.client, {"csrf_token": "tok", "comment": SECRET})
    assert login_query(kept)["form"] == ["kept"]

    done = sign_in_again(harness, "bo@example.com")
    assert done.headers["Location"] == TARGET  # the session is Bo's now; no offer
    assert harness.client.get("/_gate/form").status_code == 404


def test_the_step_up_page_in_german_says_the_form_is_kept(
    stepping_up: Harness, clock: FakeClock
) -> None:
    harness = stepping_up
    assert harness.login("ada@example.com").status_code == 303
    clock.advance(901)
    kept = send_form(harness.client, {"comment": SECRET})
    page = harness.client.get(kept.headers["Location"], headers={"Accept-Language": "de"}).get_data(
        as_text=True
    )
    assert "höchstens 15 Minuten zurückliegen" in page
    assert "Das gesendete Formular hat die Website noch nicht erreicht." in page


def test_a_lower_case_post_keeps_and_sends_the_form_as_a_post(
    harness: Harness, clock: FakeClock
) -> None:
    """Werkzeug's server passes ``post`` on as sent, and the app reads it as ``POST``."""
    assert harness.login("ada@example.com").status_code == 303
    clock.advance(LIFETIME + 1)
    kept = harness.client.open(TARGET, method="post", data=multipart(), headers=BROWSER)
    assert login_query(kept) == {"next": [TARGET], "form": ["kept"]}
    assert sign_in_again(harness, "ada@example.com").headers["Location"] == "/_gate/form"
    resent = harness.client.open(
        send_url(harness.client), method="post", data={"title": "x"}, headers=BROWSER
    )
    assert echoed(resent)["fields"][1] == ["title", "Q3 board meeting"]
    assert "_form=;" in resent.headers.get("Set-Cookie", "")


def test_a_later_post_to_the_same_address_is_its_own(harness: Harness, clock: FakeClock) -> None:
    """Only the Send button carries the kept form: offered it, the person instead goes
    back and sends a new form to the same address (or a page autosaves there). That POST
    reaches the app as sent, and the kept form is still offered."""
    assert harness.login("ada@example.com").status_code == 303
    clock.advance(LIFETIME + 1)
    kept = send_form(harness.client, {"action": "delete"})
    assert login_query(kept)["form"] == ["kept"]
    assert sign_in_again(harness, "ada@example.com").headers["Location"] == "/_gate/form"
    assert harness.client.get("/_gate/form").status_code == 200
    newer = echoed(harness.client.post(TARGET, data={"action": "save"}, headers=BROWSER))
    assert newer["fields"] == [["action", "save"]]
    autosave = harness.client.post(TARGET, json={"draft": 1}, headers=BROWSER)
    assert echoed(autosave)["fields"] == []
    sent = echoed(harness.client.post(send_url(harness.client), data={}, headers=BROWSER))
    assert sent["fields"] == [["action", "delete"]]
    assert sent["query"] == "draft=7"  # the marker is the gate's, never the app's
