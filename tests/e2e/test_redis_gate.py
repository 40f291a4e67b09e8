"""The gate with the Redis store: shared sessions, revocation, Redis going away and back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ..helpers import FakeClock, hidden
from ..procs import RedisServer, require_binary

pytestmark = pytest.mark.slow


def test_login_keeps_only_an_id_in_the_cookie(make_harness: Any, redis_url: str) -> None:
    harness = make_harness(redis_url=redis_url)
    done = harness.login("ada@example.com")
    assert done.status_code == 303
    value = harness.client.get_cookie("pwless_gate_session").value
    assert len(value) == 87  # a random id and its signature
    assert harness.client.get("/").status_code == 200
    assert harness.app.calls[-1]["REMOTE_USER"] == "ada@example.com"


def test_session_works_on_another_gate_sharing_redis_and_the_key(
    make_harness: Any, redis_url: str
) -> None:
    one = make_harness(redis_url=redis_url)
    two = make_harness(redis_url=redis_url)
    other_key = make_harness(redis_url=redis_url, secret_key="another-key-for-host-two")
    assert one.login("bo@example.com").status_code == 303
    value = one.client.get_cookie("pwless_gate_session").value
    browser = two.new_browser()
    browser.set_cookie("pwless_gate_session", value)
    assert browser.get("/").status_code == 200
    stranger = other_key.new_browser()  # the cookie value is signed with the key
    stranger.set_cookie("pwless_gate_session", value)
    assert stranger.get("/").status_code == 302


def test_logout_on_one_gate_is_seen_by_the_other_after_the_cache_ttl(
    make_harness: Any, redis_url: str, clock: FakeClock
) -> None:
    one = make_harness(redis_url=redis_url, session_cache_ttl=5)
    two = make_harness(redis_url=redis_url, session_cache_ttl=5)
    assert one.login("cy@example.com").status_code == 303
    value = one.client.get_cookie("pwless_gate_session").value
    other = two.new_browser()
    other.set_cookie("pwless_gate_session", value)
    assert other.get("/").status_code == 200  # now cached in "two"
    page = one.client.get("/_gate/logout").get_data(as_text=True)
    one.client.post("/_gate/logout", data={"csrf_token": hidden(page, "csrf_token")})
    stolen = one.new_browser()
    stolen.set_cookie("pwless_gate_session", value)
    assert stolen.get("/").status_code == 302  # revoked at once where it was revoked
    clock.advance(6)
    assert other.get("/").status_code == 302  # and everywhere after the cache TTL


def test_sign_out_everywhere(make_harness: Any, redis_url: str) -> None:
    harness = make_harness(redis_url=redis_url)
    browsers = [harness.new_browser() for _ in range(3)]
    for browser in browsers:
        assert harness.login("dee@example.com", client=browser).status_code == 303
    sub = (harness.app.calls and None) or None
    browsers[0].get("/")
    sub = harness.app.calls[-1]["pwless_gate.user"].sub
    assert harness.gate.sign_out_everywhere(sub) == 3
    assert all(b.get("/").status_code == 302 for b in browsers)


def test_cookie_store_cannot_sign_out_everywhere(make_harness: Any) -> None:
    harness = make_harness(store="cookie")
    with pytest.raises(TypeError):
        harness.gate.sign_out_everywhere("email|x")


def test_redis_down_fails_closed_and_recovers(
    make_harness: Any, tmp_path: Path, clock: FakeClock
) -> None:
    server = RedisServer(require_binary("redis-server", "Redis tests"), tmp_path)
    server.start()
    try:
        harness = make_harness(redis_url=server.url, session_cache_ttl=5, redis_timeout=0.5)
        cached = harness.new_browser()
        assert harness.login("eve@example.com", client=cached).status_code == 303
        assert cached.get("/").status_code == 200
        uncached = harness.new_browser()
        assert harness.login("fay@example.com", client=uncached).status_code == 303
        harness.gate.sessions.forget(uncached.get_cookie("pwless_gate_session").value)
        server.stop()

        calls = len(harness.app.calls)
        assert cached.get("/").status_code == 200  # still in this process's cache
        answer = uncached.get("/")
        assert answer.status_code == 503
        assert "Retry-After" in answer.headers
        api = uncached.get("/", headers={"Accept": "application/json"})
        assert api.status_code == 503
        assert api.json is not None
        assert harness.start("gus@example.com").status_code == 503  # the throttle needs Redis
        assert len(harness.app.calls) == calls + 1
        clock.advance(6)
        assert cached.get("/").status_code == 503  # its cache entry expired

        server.start()  # an empty Redis: the old sessions are gone, logins work again
        assert cached.get("/").status_code == 302
        assert harness.login("hal@example.com").status_code == 303
    finally:
        server.stop()
