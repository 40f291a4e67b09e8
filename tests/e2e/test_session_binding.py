"""A session belongs to the tenant, the client and the secret key it was made under.

The same state directory (or Redis) pointed at another tenant or client keeps
no one signed in: a newcomer who tried the gate against the local tenant, where
anyone signs in as anyone, and then switched to the real tenant, must not stay
signed in as whoever they typed. A server-side session's cookie value is signed
with the secret key: it survives a rotation that keeps the old key in
``previous_secret_keys`` (and moves to the new key when its record is written
again), and ends when the old key is dropped. App tokens carry the claims of the
session they were made in: refused under another tenant or client, kept across
a key rotation (they are random secrets the store knows by hash, not signed).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from pwless_gate.sessions import SEEN_EVERY

from ..helpers import FakeClock, Harness, ToolClient
from ..procs import free_port
from .test_app_tokens import bearer, make_token

SESSION = "pwless_gate_session"
OLD_KEY = "test-secret-key-0123456789"  # the key of gate_config()
NEW_KEY = "the-new-secret-key-0123456789"


@pytest.fixture(params=["sqlite", "redis", "cookie"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """The settings that give gates one shared store: a state directory, Redis, or the
    signed cookie (nothing shared but the key)."""
    if request.param == "sqlite":
        return {"state_dir": str(tmp_path / "state")}
    if request.param == "redis":
        return {"redis_url": request.getfixturevalue("redis_url")}
    return {"store": "cookie"}


@pytest.fixture(params=["sqlite", "redis"])
def server_side(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """The stores that keep sessions on the server: a state directory, or Redis."""
    if request.param == "sqlite":
        return {"state_dir": str(tmp_path / "state")}
    return {"redis_url": request.getfixturevalue("redis_url")}


def signed_in(make_harness: Callable[..., Harness], email: str, **settings: Any) -> str:
    """Sign in through the local tenant on a gate with ``settings``; the session cookie."""
    harness = make_harness(**settings)
    assert harness.login(email).status_code == 303
    value = harness.client.get_cookie(SESSION).value
    assert carrying(value, harness).get("/").status_code == 200
    return str(value)


def carrying(value: str, harness: Harness) -> Client:
    """A browser of ``harness``'s gate holding the session cookie ``value``."""
    browser = harness.new_browser()
    browser.set_cookie(SESSION, value)
    return browser


def assert_no_session(value: str, harness: Harness) -> None:
    """The gate treats the cookie as no session: sign in again, no user, never a 500."""
    browser = carrying(value, harness)
    page = browser.get("/")
    assert page.status_code == 302
    assert page.headers["Location"].startswith("/_gate/login")
    assert browser.get("/_gate/userinfo").status_code == 401
    assert harness.app.calls == []


@pytest.mark.parametrize(
    "moved",
    [
        pytest.param(lambda: {"auth0_domain": f"http://127.0.0.1:{free_port()}"}, id="tenant"),
        pytest.param(lambda: {"client_id": "another-client"}, id="client"),
        pytest.param(
            lambda: {
                "auth0_domain": f"http://127.0.0.1:{free_port()}",
                "client_id": "another-client",
                "client_secret": "another-client-secret-0123456789",
            },
            id="tenant-and-client",
        ),
    ],
)
def test_a_session_made_for_another_tenant_or_client_is_no_session(
    make_harness: Callable[..., Harness],
    store: dict[str, Any],
    moved: Callable[[], dict[str, Any]],
) -> None:
    value = signed_in(make_harness, "boss@example.com", **store)
    # The same store and the same secret key; only the tenant or the client changed.
    assert_no_session(value, make_harness(**store, **moved()))


def test_a_session_lives_as_long_as_its_key_is_kept(
    make_harness: Callable[..., Harness], server_side: dict[str, Any]
) -> None:
    value = signed_in(make_harness, "boss@example.com", **server_side)
    rotated = make_harness(**server_side, secret_key=NEW_KEY, previous_secret_keys=(OLD_KEY,))
    assert carrying(value, rotated).get("/").status_code == 200
    assert rotated.app.calls[-1]["REMOTE_USER"] == "boss@example.com"
    assert_no_session(value, make_harness(**server_side, secret_key=NEW_KEY))
    assert_no_session(value, make_harness(**server_side, secret_key=NEW_KEY + "-other"))


def test_a_session_used_after_a_rotation_moves_to_the_new_key(
    make_harness: Callable[..., Harness], server_side: dict[str, Any], clock: FakeClock
) -> None:
    value = signed_in(make_harness, "boss@example.com", **server_side)
    rotated = make_harness(**server_side, secret_key=NEW_KEY, previous_secret_keys=(OLD_KEY,))
    browser = carrying(value, rotated)
    assert browser.get("/").status_code == 200
    clock.advance(SEEN_EVERY + 1)  # "last seen" is written again: the cookie is signed anew
    assert browser.get("/").status_code == 200
    renewed = browser.get_cookie(SESSION).value
    assert renewed != value
    dropped = make_harness(**server_side, secret_key=NEW_KEY)
    assert carrying(renewed, dropped).get("/").status_code == 200
    assert_no_session(value, make_harness(**server_side, secret_key=NEW_KEY))


@pytest.mark.parametrize("old", ["dropped-key", "unsigned"])
def test_signing_in_ends_the_session_a_cookie_names_that_the_gate_no_longer_accepts(
    make_harness: Callable[..., Harness], server_side: dict[str, Any], old: str
) -> None:
    """Signing in ends the browser's old session. One whose cookie is signed with a key
    this gate dropped (or lacks), or made before ids were signed, is no session here,
    but its record must not stay behind, listed and alive for a gate that still accepts
    it, until it expires."""
    value = signed_in(make_harness, "boss@example.com", **server_side)
    sid = value.partition(".")[0]
    sent = value if old == "dropped-key" else sid
    rotated = make_harness(**server_side, secret_key=NEW_KEY)
    browser = carrying(sent, rotated)
    assert rotated.login("boss@example.com", client=browser).status_code == 303
    assert browser.get_cookie(SESSION).value not in (value, sid)
    # A gate that kept the old key no longer finds the old session: it was ended.
    assert_no_session(value, make_harness(**server_side))


def test_a_forged_or_unsigned_session_id_is_no_session(
    make_harness: Callable[..., Harness], server_side: dict[str, Any]
) -> None:
    value = signed_in(make_harness, "boss@example.com", **server_side)
    harness = make_harness(**server_side)
    sid, _, signature = value.partition(".")
    assert_no_session(sid, harness)  # as a session made before ids were signed
    assert_no_session(f"{sid}.{signature[::-1]}", harness)
    assert_no_session(f"{sid}.", harness)
    assert carrying(value, harness).get("/").status_code == 200


def test_an_app_token_works_for_its_tenant_and_client_only_and_outlives_a_key_rotation(
    make_harness: Callable[..., Harness], server_side: dict[str, Any]
) -> None:
    settings = {**server_side, "app_tokens": True}
    first = make_harness(**settings)
    assert first.login("boss@example.com").status_code == 303
    token, _ = make_token(first.client)

    def status(harness: Harness) -> int:
        return ToolClient(harness.gate).get("/", headers=bearer(token)).status_code

    assert status(first) == 200
    assert status(make_harness(**settings, client_id="another-client")) == 401
    other_tenant = make_harness(**settings, auth0_domain=f"http://127.0.0.1:{free_port()}")
    assert status(other_tenant) == 401
    assert status(make_harness(**settings, secret_key=NEW_KEY)) == 200
    assert status(first) == 200  # refused elsewhere, not revoked


def test_a_sign_in_under_way_finishes_across_a_key_rotation(
    make_harness: Callable[..., Harness], server_side: dict[str, Any]
) -> None:
    """The code page was shown before the rotation (or by a host not yet rotated): its
    form, CSRF token included, is still taken by a gate that keeps the old key."""
    before = make_harness(**server_side)
    started = before.start("boss@example.com")
    assert started.status_code == 200
    code = before.tenant.last_message(to="boss@example.com").code
    after = make_harness(**server_side, secret_key=NEW_KEY, previous_secret_keys=(OLD_KEY,))
    browser = after.new_browser()
    browser.set_cookie("pwless_gate_browser", before.client.get_cookie("pwless_gate_browser").value)
    done = after.submit_code(started, code, client=browser)
    assert done.status_code == 303, done.get_data(as_text=True)
    assert browser.get("/").status_code == 200
