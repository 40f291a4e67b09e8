"""The whole email one-time-code flow, against the local tenant over real HTTP."""

from __future__ import annotations

import re
from typing import Any

import pytest

from pwless_gate import PasswordlessGate
from pwless_gate.devtenant import DevTenant, serve_in_thread

from ..helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    FakeClock,
    Harness,
    RecordingApp,
    gate_config,
    hidden,
    wrong_code,
)


def session_cookie(harness: Harness) -> Any:
    return harness.client.get_cookie("pwless_gate_session")


def test_an_app_changing_its_claims_changes_no_other_request(harness: Harness) -> None:
    """``pwless_gate.claims`` is the app's own copy, and ``pwless_gate.user.claims`` a
    read-only view of the session's: an app that edits the dict it got (as some do
    before rendering) changes neither the next request's claims nor the session."""
    harness.login("ada@example.com")
    harness.client.get("/")
    first = harness.app.calls[-1]
    first["pwless_gate.claims"]["email"] = "boss@example.com"
    first["pwless_gate.claims"]["admin"] = True
    with pytest.raises(TypeError):
        first["pwless_gate.user"].claims["email"] = "boss@example.com"

    harness.client.get("/")
    again = harness.app.calls[-1]
    assert again["pwless_gate.claims"]["email"] == "ada@example.com"
    assert "admin" not in again["pwless_gate.claims"]
    assert again["pwless_gate.user"].claims["email"] == "ada@example.com"
    assert again["pwless_gate.claims"] is not first["pwless_gate.claims"]


def test_whole_login_lands_in_app_with_claims(harness: Harness) -> None:
    first = harness.client.get("/reports?year=2026")
    assert first.status_code == 302
    assert first.headers["Location"] == "/_gate/login?next=%2Freports%3Fyear%3D2026"
    assert harness.app.calls == []

    started = harness.start("Ada@Example.COM", next="/reports?year=2026")
    assert started.status_code == 200
    assert "<strong>ada@example.com</strong>" in started.get_data(as_text=True)
    message = harness.tenant.last_message()
    assert message.channel == "email"
    assert message.to == "ada@example.com"
    assert message.link is None

    done = harness.submit_code(started, message.code)
    assert done.status_code == 303
    assert done.headers["Location"] == "/reports?year=2026"
    assert session_cookie(harness) is not None

    page = harness.client.get("/reports?year=2026")
    assert page.status_code == 200
    environ = harness.app.calls[-1]
    assert environ["REMOTE_USER"] == "ada@example.com"
    user = environ["pwless_gate.user"]
    assert user.email == "ada@example.com"
    assert user.sub.startswith("email|")
    claims = environ["pwless_gate.claims"]
    assert claims["sub"] == user.sub
    assert claims["email_verified"] is True
    assert "pwless_gate.access_token" not in environ


def test_wrong_code_shows_message_and_no_session(harness: Harness) -> None:
    started = harness.start("bob@example.com")
    real = harness.tenant.last_message().code
    wrong = wrong_code(real)
    answer = harness.submit_code(started, wrong)
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert 'role="alert"' in page
    assert 'aria-invalid="true"' in page
    assert session_cookie(harness) is None
    assert harness.client.get("/").status_code == 302
    # The right code still works after one wrong try.
    assert harness.submit_code(answer, real).status_code == 303
    assert harness.client.get("/").status_code == 200


def test_expired_code(harness: Harness, clock: FakeClock) -> None:
    started = harness.start("carol@example.com")
    code = harness.tenant.last_message().code
    clock.advance(181)
    answer = harness.submit_code(started, code)
    assert answer.status_code == 400
    assert "expired" in answer.get_data(as_text=True)
    assert session_cookie(harness) is None


def test_too_many_wrong_codes_kill_the_code(harness: Harness) -> None:
    started = harness.start("dan@example.com")
    real = harness.tenant.last_message().code
    wrong = wrong_code(real)
    page = started
    for _ in range(2):
        page = harness.submit_code(page, wrong)
        assert page.status_code == 400
        assert "not right" in page.get_data(as_text=True)
    third = harness.submit_code(page, wrong)
    assert third.status_code == 400
    assert "too many times" in third.get_data(as_text=True)
    # Even the right code is dead now.
    late = harness.submit_code(page, real)
    assert late.status_code == 400
    assert session_cookie(harness) is None


def test_reused_code_is_refused(harness: Harness) -> None:
    started = harness.start("erin@example.com")
    code = harness.tenant.last_message().code
    assert harness.submit_code(started, code).status_code == 303
    other = harness.new_browser()
    other.set_cookie("pwless_gate_browser", harness.client.get_cookie("pwless_gate_browser").value)
    again = harness.submit_code(started, code, client=other)
    assert again.status_code == 400
    assert other.get_cookie("pwless_gate_session") is None


def test_new_code_supersedes_old(harness: Harness) -> None:
    first = harness.start("fay@example.com")
    old = harness.tenant.last_message().code
    harness.start("fay@example.com")
    new = harness.tenant.last_message().code
    if old == new:
        pytest.skip("the tenant drew the same code twice")
    assert harness.submit_code(first, old).status_code == 400


@pytest.mark.parametrize(
    "email",
    ["not-an-email", "a@b", "ada@@example.com", "", "x" * 300 + "@example.com", "ada@exa mple.com"],
    ids=["no-at", "no-tld", "double-at", "empty", "overlong", "space"],
)
def test_malformed_email_gets_clear_page_and_nothing_sent(harness: Harness, email: str) -> None:
    answer = harness.start(email)
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert 'role="alert"' in page
    assert harness.tenant.outbox() == []


def test_unknown_connection_gives_clear_page(clock: FakeClock) -> None:
    tenant_app = DevTenant(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, connections=("sms",), clock=clock
    )
    with serve_in_thread(tenant_app) as tenant:
        app = RecordingApp()
        harness = Harness(
            gate=PasswordlessGate(app, gate_config(tenant.url), clock=clock), app=app, tenant=tenant
        )
        answer = harness.start("gus@example.com")
        # A connection the tenant lacks is the operator's problem, the same for everyone.
        assert answer.status_code == 502
        assert "tell the administrator" in answer.get_data(as_text=True)
        assert tenant.outbox() == []


def test_app_never_called_without_session(harness: Harness) -> None:
    for method in ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"):
        answer = harness.client.open("/admin/delete-everything", method=method, data="x=1")
        assert answer.status_code in (302, 401)
    forged = harness.client
    forged.set_cookie("pwless_gate_session", "eyJzaWQiOiJ4In0.forged")
    assert forged.get("/").status_code == 302
    assert harness.app.calls == []


@pytest.mark.parametrize(
    "headers",
    [
        {"Accept": "application/json"},
        {"X-Requested-With": "XMLHttpRequest"},
        {"Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"},
    ],
    ids=["accept-json", "xhr", "fetch"],
)
def test_api_clients_get_401_json(harness: Harness, headers: dict[str, str]) -> None:
    answer = harness.client.get("/api/items", headers=headers)
    assert answer.status_code == 401
    assert answer.json is not None
    assert answer.json["error"] == "unauthorized"
    assert answer.json["login_url"] == "/_gate/login"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_browser_accept_html_and_json_is_redirected(harness: Harness) -> None:
    answer = harness.client.get("/", headers={"Accept": "text/html,application/json;q=0.9"})
    assert answer.status_code == 302


SPOOFS = {
    "REMOTE_USER": "boss@example.com",
    "HTTP_X_FORWARDED_USER": "boss@example.com",
    "HTTP_X_FORWARDED_EMAIL": "boss@example.com",
    "HTTP_REMOTE_USER": "boss@example.com",
    "HTTP_X_AUTH_REQUEST_USER": "boss@example.com",
    "pwless_gate.user": "boss",
}


def test_spoofed_identity_never_reaches_app(harness: Harness) -> None:
    harness.client.get("/", environ_overrides=SPOOFS)
    assert harness.app.calls == []
    assert harness.login("ivy@example.com").status_code == 303
    harness.client.get("/", environ_overrides=SPOOFS)
    environ = harness.app.calls[-1]
    assert environ["REMOTE_USER"] == "ivy@example.com"
    for key in SPOOFS:
        if key not in ("REMOTE_USER", "pwless_gate.user"):
            assert key not in environ
    assert environ["pwless_gate.user"].email == "ivy@example.com"


def test_public_path_reaches_app_without_spoofed_user(make_harness: Any) -> None:
    harness = make_harness(public_paths=("/static/",))
    assert harness.client.get("/static/app.css", environ_overrides=SPOOFS).status_code == 200
    environ = harness.app.calls[-1]
    assert "REMOTE_USER" not in environ
    assert "HTTP_X_FORWARDED_USER" not in environ


def test_tampered_session_cookie_is_rejected(harness: Harness) -> None:
    assert harness.login("jo@example.com").status_code == 303
    value = session_cookie(harness).value
    tampered = value[:-2] + ("AA" if value[-2:] != "AA" else "BB")
    fresh = harness.new_browser()
    fresh.set_cookie("pwless_gate_session", tampered)
    assert fresh.get("/").status_code == 302
    fresh.set_cookie("pwless_gate_session", value)
    assert fresh.get("/").status_code == 200


def test_expired_session_cookie_is_rejected(harness: Harness, clock: FakeClock) -> None:
    assert harness.login("kim@example.com").status_code == 303
    assert harness.client.get("/").status_code == 200
    clock.advance(12 * 3600 + 1)
    assert harness.client.get("/").status_code == 302


def test_session_signed_with_another_key_is_rejected(make_harness: Any) -> None:
    one = make_harness()
    assert one.login("lee@example.com").status_code == 303
    other = make_harness(secret_key="another-secret-key-987654321")
    browser = other.new_browser()
    browser.set_cookie("pwless_gate_session", session_cookie(one).value)
    assert browser.get("/").status_code == 302


def test_rotated_key_still_accepts_old_sessions(make_harness: Any) -> None:
    old = make_harness(store="cookie")  # sessions signed with the key, not kept in a file
    assert old.login("max@example.com").status_code == 303
    rotated = make_harness(
        store="cookie",
        secret_key="the-new-secret-key-0123456789",
        previous_secret_keys=("test-secret-key-0123456789",),
    )
    browser = rotated.new_browser()
    browser.set_cookie("pwless_gate_session", session_cookie(old).value)
    assert browser.get("/").status_code == 200


def test_logout(harness: Harness) -> None:
    assert harness.login("nia@example.com").status_code == 303
    confirm = harness.client.get("/_gate/logout")
    assert confirm.status_code == 200
    page = confirm.get_data(as_text=True)
    assert "nia@example.com" in page
    assert harness.client.post("/_gate/logout", data={}).status_code == 403
    done = harness.client.post("/_gate/logout", data={"csrf_token": hidden(page, "csrf_token")})
    assert done.status_code == 200
    assert session_cookie(harness) is None
    assert harness.client.get("/").status_code == 302


def test_login_without_csrf_token_is_refused(harness: Harness) -> None:
    harness.client.get("/_gate/login")
    answer = harness.client.post("/_gate/login", data={"email": "oz@example.com"})
    assert answer.status_code == 403
    assert harness.tenant.outbox() == []


def test_cross_origin_login_post_is_refused(harness: Harness) -> None:
    page = harness.client.get("/_gate/login").get_data(as_text=True)
    answer = harness.client.post(
        "/_gate/login",
        data={"email": "pat@example.com", "csrf_token": hidden(page, "csrf_token")},
        headers={"Origin": "https://evil.example"},
    )
    assert answer.status_code == 403
    assert harness.tenant.outbox() == []


def test_code_from_another_browser_transaction_is_refused(harness: Harness) -> None:
    started = harness.start("quinn@example.com")
    code = harness.tenant.last_message().code
    thief = harness.new_browser()
    thief.get("/_gate/login")
    page = started.get_data(as_text=True)
    thief_page = thief.get("/_gate/login").get_data(as_text=True)
    answer = thief.post(
        "/_gate/verify",
        data={
            "csrf_token": hidden(thief_page, "csrf_token"),
            "tx": hidden(page, "tx"),
            "code": code,
        },
    )
    assert answer.status_code == 403
    assert thief.get_cookie("pwless_gate_session") is None


@pytest.mark.parametrize(
    "next_value",
    ["https://evil.example/", "//evil.example", "/\\evil.example", "javascript:alert(1)"],
    ids=["absolute", "scheme-relative", "backslash", "javascript"],
)
def test_hostile_next_lands_on_home(harness: Harness, next_value: str) -> None:
    done = harness.login("rae@example.com", next=next_value)
    assert done.status_code == 303
    assert done.headers["Location"] == "/"


def test_several_tabs_can_sign_in_at_once(harness: Harness) -> None:
    tab_one = harness.start("sam@example.com", next="/one")
    code_one = harness.tenant.last_message().code
    tab_two = harness.start("sue@example.com", next="/two")
    code_two = harness.tenant.last_message().code
    assert harness.submit_code(tab_one, code_one).headers["Location"] == "/one"
    assert harness.submit_code(tab_two, code_two).headers["Location"] == "/two"


def test_each_login_gets_a_new_session_id(harness: Harness) -> None:
    assert harness.login("tia@example.com").status_code == 303
    first = session_cookie(harness).value
    assert harness.login("tia@example.com").status_code == 303
    second = session_cookie(harness).value
    assert first != second


def test_code_with_spaces_is_accepted_and_letters_refused_locally(harness: Harness) -> None:
    started = harness.start("uma@example.com")
    code = harness.tenant.last_message().code
    letters = harness.submit_code(started, "abcdef")
    assert letters.status_code == 400
    spaced = harness.submit_code(letters, f"{code[:3]} {code[3:]}")
    assert spaced.status_code == 303


def test_gate_health_userinfo_and_auth(harness: Harness) -> None:
    assert harness.client.get("/_gate/health").json == {"status": "ok"}
    assert harness.client.get("/_gate/userinfo").status_code == 401
    assert harness.client.get("/_gate/auth").status_code == 401
    assert harness.login("val@example.com").status_code == 303
    info = harness.client.get("/_gate/userinfo")
    assert info.json is not None
    assert info.json["email"] == "val@example.com"
    auth = harness.client.get("/_gate/auth")
    assert auth.status_code == 202
    assert auth.headers["X-Auth-Request-User"] == "val@example.com"


@pytest.mark.parametrize("path", ["/_gate/health", "/_gate/userinfo", "/_gate/static/gate.css"])
def test_routes_that_only_show_take_get_and_head(harness: Harness, path: str) -> None:
    assert harness.login("wes@example.com").status_code == 303
    for method in ("GET", "HEAD"):
        assert harness.client.open(path, method=method).status_code == 200, method
    for method in ("POST", "PUT", "DELETE", "PATCH", "PROPFIND"):
        answer = harness.client.open(path, method=method)
        assert answer.status_code == 405, method
        assert answer.headers["Allow"] == "GET, HEAD"
    # A proxy may ask /auth with the request's own method (Envoy's ext_authz does).
    assert harness.client.open("/_gate/auth", method="POST").status_code == 202


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("gate.css", "text/css; charset=utf-8"),
        ("brand.css", "text/css; charset=utf-8"),
        ("icon.svg", "image/svg+xml"),
    ],
)
def test_static_files_say_their_type_once(harness: Harness, name: str, content_type: str) -> None:
    answer = harness.client.get(f"/_gate/static/{name}")
    assert answer.status_code == 200
    assert answer.headers.getlist("Content-Type") == [content_type]
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_unknown_gate_route_is_404_page(harness: Harness) -> None:
    answer = harness.client.get("/_gate/nope")
    assert answer.status_code == 404
    assert re.search(r"<h1[^>]*>Not found</h1>", answer.get_data(as_text=True))


@pytest.mark.parametrize("path", ["/_gate/auth/", "/_gate/auth//", "/_gate/userinfo/"])
def test_a_route_with_a_trailing_slash_is_not_the_route(harness: Harness, path: str) -> None:
    # A proxy keeps {prefix}/auth to itself by its exact path; /auth/ is another page.
    assert harness.login("pia@example.com").status_code == 303
    answer = harness.client.get(path)
    assert answer.status_code == 404
    assert "X-Auth-Request-User" not in answer.headers
    assert harness.client.get("/_gate/").status_code == 200  # the prefix itself: sign-in page


def test_send_a_new_code_in_one_press(harness: Harness) -> None:
    started = harness.start("pia@example.com", next="/after")
    first = harness.tenant.last_message().code
    page = started.get_data(as_text=True)
    again = harness.client.post(
        "/_gate/login",
        data={
            "csrf_token": hidden(page, "csrf_token"),
            "next": hidden(page, "next"),
            "email": hidden(page, "email"),
            "send": hidden(page, "send"),
        },
    )
    assert again.status_code == 200
    messages = [m for m in harness.tenant.outbox() if m.to == "pia@example.com"]
    assert len(messages) == 2
    second = messages[-1].code
    if first != second:
        assert harness.submit_code(again, first).status_code == 400
    done = harness.submit_code(again, second)
    assert done.status_code == 303
    assert done.headers["Location"] == "/after"


IDN_ADDRESS = "ada@xn--bcher-kva.example"


@pytest.mark.parametrize(
    "allow",
    [
        {"allowed_domains": ("bücher.example",)},
        {"allowed_domains": ("xn--bcher-kva.example",)},
        {"allowed_emails": ("Ada@Bücher.Example",)},
    ],
    ids=["domain-as-unicode", "domain-as-xn", "address-as-unicode"],
)
@pytest.mark.parametrize(
    "typed", ["Ada@Bücher.example", IDN_ADDRESS], ids=["typed", "as-a-browser-sends-it"]
)
def test_an_internationalised_domain_signs_in(
    make_harness: Any, allow: dict[str, Any], typed: str
) -> None:
    """Auth0 sends only to ASCII addresses: it is sent the domain's xn-- form, which its
    id_token names and the app gets as REMOTE_USER; the page shows the domain as typed."""
    harness = make_harness(**allow)
    started = harness.start(typed)
    assert started.status_code == 200
    assert "<strong>ada@bücher.example</strong>" in started.get_data(as_text=True)
    message = harness.tenant.last_message()
    assert message.to == IDN_ADDRESS

    done = harness.submit_code(started, message.code)

    assert done.status_code == 303, done.get_data(as_text=True)
    assert harness.client.get("/").status_code == 200
    environ = harness.app.calls[-1]
    assert environ["REMOTE_USER"] == IDN_ADDRESS
    assert environ["pwless_gate.user"].email == IDN_ADDRESS


def email_error(page: str) -> str:
    match = re.search(r'<p class="error" id="email-error" role="alert">([^<]*)</p>', page)
    assert match is not None, page
    return match.group(1)


@pytest.mark.parametrize(
    ("email", "message"),
    [
        (
            "jörg@example.com",
            "Sign-in emails cannot be sent to an address with accented or non-Latin letters "
            "before the @. Use another address.",
        ),
        ("a" * 65 + "@example.com", "The part before the @ is too long (at most 64 characters)."),
    ],
    ids=["non-ascii-before-the-at", "65-before-the-at"],
)
def test_an_address_auth0_cannot_send_to_is_refused_with_the_reason(
    harness: Harness, email: str, message: str
) -> None:
    """Auth0 refuses these (bad.email), which looks like a refused address: the page
    said "sent" and nothing came. The form says why instead."""
    answer = harness.start(email)
    assert answer.status_code == 400
    assert email_error(answer.get_data(as_text=True)) == message
    assert harness.tenant.outbox() == []


def _digits(base: int) -> Any:
    return lambda code: "".join(chr(base + int(d)) for d in code)


@pytest.mark.parametrize(
    "typing",
    [
        _digits(0xFF10),
        _digits(0x0660),
        _digits(0x06F0),
        _digits(0x0966),
        lambda code: f"{code[:3]}\u2011{code[3:]}",
        lambda code: f"{code[:3]}\u2013{code[3:]}",
        lambda code: _digits(0xFF10)(code[:3]) + "\uff0d" + _digits(0xFF10)(code[3:]),
        lambda code: f"{code[:3]}.{code[3:]}",
        lambda code: f"{code[:3]}\u00a0{code[3:]}",
        lambda code: f"\u200b{code}\n",
    ],
    ids=[
        "full-width",
        "arabic-indic",
        "persian",
        "devanagari",
        "non-breaking-hyphen",
        "en-dash",
        "full-width-with-hyphen",
        "dot",
        "no-break-space",
        "zero-width-space",
    ],
)
def test_a_code_in_any_digits_or_with_separators_is_accepted(harness: Harness, typing: Any) -> None:
    """What a Japanese, Arabic, Persian or Hindi keyboard types, or a copied code's spacing."""
    started = harness.start("ira@example.com")
    code = harness.tenant.last_message().code
    assert harness.submit_code(started, typing(code)).status_code == 303
    assert harness.client.get("/").status_code == 200


@pytest.mark.parametrize(
    "typed", ["12345x", "¹²³⁴⁵⁶", "½23456"], ids=["letter", "superscript", "fraction"]
)
def test_what_is_not_a_decimal_digit_is_not_a_code(harness: Harness, typed: str) -> None:
    started = harness.start("jo@example.com")
    answer = harness.submit_code(started, typed)
    assert answer.status_code == 400
    assert "Enter the code you received." in answer.get_data(as_text=True)


def test_a_code_sent_again_from_the_browser_it_signed_in_leads_on(harness: Harness) -> None:
    """A double click, or Back and Sign in: the code is used, the browser is signed in."""
    started = harness.start("kai@example.com", next="/reports")
    code = harness.tenant.last_message().code
    assert harness.submit_code(started, code).status_code == 303
    cookie = session_cookie(harness).value
    for _ in range(3):  # more than the wrong codes a sign-in may have
        again = harness.submit_code(started, code)
        assert again.status_code == 303
        assert again.headers["Location"] == "/reports"
        assert session_cookie(harness).value == cookie  # the first sign-in's session
    # None counted as a wrong code: signed out, the used code is "not right", not dead.
    harness.client.delete_cookie("pwless_gate_session")
    after = harness.submit_code(started, code)
    assert after.status_code == 400
    assert "not right" in after.get_data(as_text=True)


def test_a_wrong_code_after_signing_in_as_someone_else_is_wrong(harness: Harness) -> None:
    started = harness.start("lea@example.com")
    code = harness.tenant.last_message(to="lea@example.com").code
    assert harness.login("max@example.com").status_code == 303  # this browser, another person
    answer = harness.submit_code(started, wrong_code(code))
    assert answer.status_code == 400
    assert "not right" in answer.get_data(as_text=True)


def test_a_session_older_than_the_sign_in_excuses_no_wrong_code(
    harness: Harness, clock: FakeClock
) -> None:
    """Signing in again while signed in (a rule's max_age): a wrong code is wrong."""
    assert harness.login("ned@example.com").status_code == 303
    clock.advance(5)
    started = harness.start("ned@example.com")
    code = harness.tenant.last_message(to="ned@example.com").code
    answer = harness.submit_code(started, wrong_code(code))
    assert answer.status_code == 400
    assert "not right" in answer.get_data(as_text=True)
