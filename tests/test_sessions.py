from __future__ import annotations

import dataclasses
import secrets
import sys
import threading
import time

import pytest

from pwless_gate.auth0 import Auth0Client
from pwless_gate.cookies import MAX_SESSION_COOKIE
from pwless_gate.errors import SessionTooLarge
from pwless_gate.renew import Renewer
from pwless_gate.sessions import (
    ACCESS_TOKEN_MARGIN,
    HANDLE,
    MAX_IP,
    SEEN_EVERY,
    Session,
    SessionCache,
    new_handle,
    new_session_id,
)
from pwless_gate.stores import CookieStore

from .helpers import KEYS, FakeClock

KEY = b"k" * 32


def make_session(now: float, lifetime: float = 3600, **claims: str) -> Session:
    return Session(
        sid=new_session_id(),
        remote_user="ada@example.com",
        connection="email",
        claims={"sub": "email|abc", "email": "ada@example.com", **claims},
        created_at=now,
        expires_at=now + lifetime,
    )


def test_cookie_store_round_trip() -> None:
    store = CookieStore([KEY])
    session = make_session(1000.0)
    value = store.save(session)
    loaded = store.load(value)
    assert loaded is not None
    assert loaded.sid == session.sid
    assert loaded.claims["email"] == "ada@example.com"


@pytest.mark.parametrize("value", ["", "garbage", "a.b", "eyJ9.AAAA", "x" * 5000])
def test_cookie_store_refuses_garbage(value: str) -> None:
    assert CookieStore([KEY]).load(value) is None


def test_key_rotation() -> None:
    old = CookieStore([b"o" * 32]).save(make_session(1000.0))
    assert CookieStore([b"o" * 32, KEY]).load(old) is not None
    assert CookieStore([KEY]).load(old) is None


def test_cache_only_holds_verified_sessions(clock: FakeClock) -> None:
    cache = SessionCache(CookieStore([KEY]), maxsize=100, ttl=60, clock=clock)
    for i in range(500):
        assert cache.lookup(f"forged-{i}") is None
    assert len(cache) == 0
    value = CookieStore([KEY]).save(make_session(clock()))
    entry = cache.lookup(value)
    assert entry is not None
    assert entry.environ["REMOTE_USER"] == "ada@example.com"
    assert entry.user.email == "ada@example.com"
    assert len(cache) == 1


def test_cache_is_bounded(clock: FakeClock) -> None:
    store = CookieStore([KEY])
    cache = SessionCache(store, maxsize=10, ttl=60, clock=clock)
    for _ in range(50):
        assert cache.lookup(store.save(make_session(clock()))) is not None
    assert len(cache) == 10


def test_expired_session_is_refused_even_when_cached(clock: FakeClock) -> None:
    store = CookieStore([KEY])
    cache = SessionCache(store, ttl=3600, clock=clock)
    value = cache.save(make_session(clock(), lifetime=60))
    assert cache.lookup(value) is not None
    clock.advance(61)
    assert cache.lookup(value) is None
    assert len(cache) == 0


def test_user_claims_are_read_only(clock: FakeClock) -> None:
    cache = SessionCache(CookieStore([KEY]), clock=clock)
    entry = cache.lookup(cache.save(make_session(clock())))
    assert entry is not None
    with pytest.raises(TypeError):
        entry.user.claims["email"] = "boss@example.com"  # type: ignore[index]


def test_parallel_lookup_replace_and_forget_never_raise() -> None:
    """A browser's parallel requests while its session is refreshed or forgotten.

    cachetools' ``get`` is ``in`` then ``[]``: another thread removing the entry
    between the two made ``lookup`` raise ``KeyError`` (a 500).
    """
    store = CookieStore([KEY])
    cache = SessionCache(store, maxsize=4, ttl=60)
    value = store.save(make_session(time.time()))
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                cache.lookup(value)
        except BaseException as exc:  # any escape is the failure
            errors.append(exc)

    def churn() -> None:
        session = make_session(time.time())
        for _ in range(3_000):
            cache.forget(value)
            cache.replace(value, session)
            for i in range(3):  # evictions of other entries in a small cache
                cache.save(make_session(time.time(), sub=f"other-{i}"))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        readers = [threading.Thread(target=reader) for _ in range(3)]
        for thread in readers:
            thread.start()
        churn()
    finally:
        stop.set()
        for thread in readers:
            thread.join()
        sys.setswitchinterval(interval)
    assert errors == []


# -- what the sessions page needs of a record ---------------------------------------


def test_handle_ip_and_browser_survive_the_record() -> None:
    session = Session(
        sid=new_session_id(),
        remote_user="ada@example.com",
        connection="email",
        claims={"sub": "email|abc"},
        created_at=1000.0,
        expires_at=5000.0,
        handle=new_handle(),
        ip="2001:db8::1",
        agent="Firefox on Linux",
    )
    loaded = Session.from_record(session.to_record())
    assert (loaded.handle, loaded.ip, loaded.agent) == (
        session.handle,
        "2001:db8::1",
        "Firefox on Linux",
    )
    assert HANDLE.match(session.handle)
    assert new_handle() != new_handle()


def old_record() -> dict[str, object]:
    """A record as the code before handles wrote it."""
    return {
        "sid": "s" * 43,
        "u": "ada@example.com",
        "c": "email",
        "cl": {"sub": "email|abc"},
        "ca": 1000,
        "ex": 5000,
        "sa": 1200,
    }


def test_a_record_without_the_new_fields_loads_with_a_stable_handle() -> None:
    first = Session.from_record(old_record())
    again = Session.from_record(old_record())
    assert first.handle == again.handle
    assert HANDLE.match(first.handle)
    assert first.handle not in "s" * 43
    assert (first.ip, first.agent, first.seen_at) == ("", "", 1200.0)
    other = Session.from_record({**old_record(), "sid": "t" * 43})
    assert other.handle != first.handle


@pytest.mark.parametrize(
    ("field", "value"),
    [("h", "short"), ("h", 12345), ("h", "../" * 6), ("ip", "x" * 500), ("ua", "\x00" * 5)],
    ids=["short-handle", "number-handle", "odd-handle", "long-ip", "control-ua"],
)
def test_odd_stored_fields_are_bounded_or_replaced(field: str, value: object) -> None:
    session = Session.from_record({**old_record(), field: value})
    assert HANDLE.match(session.handle)
    assert len(session.ip) <= MAX_IP
    assert session.agent.isprintable()


def test_a_listed_session_is_due_for_a_last_seen_write_once_a_minute(clock: FakeClock) -> None:
    cache = SessionCache(CookieStore([KEY]), clock=clock, touch_every=SEEN_EVERY)
    value = cache.save(make_session(clock()))
    entry = cache.lookup(value)
    assert entry is not None
    assert entry.refresh_at == clock() + SEEN_EVERY
    untouched = SessionCache(CookieStore([KEY]), clock=clock)
    cached = untouched.lookup(untouched.save(make_session(clock())))
    assert cached is not None
    assert cached.refresh_at is None  # no write on the hot path without a listing store


def test_the_cookie_store_cannot_list_or_end_sessions(clock: FakeClock) -> None:
    cache = SessionCache(CookieStore([KEY]), clock=clock)
    assert cache.index is None
    with pytest.raises(TypeError):
        cache.sessions_of("email|abc")
    with pytest.raises(TypeError):
        cache.revoke_where("email|abc", lambda s: True)


def test_the_cookie_store_refuses_a_record_too_large_for_cookies() -> None:
    store = CookieStore([KEY])
    fits = make_session(1000.0, groups=secrets.token_urlsafe(3000))
    assert store.load(store.save(fits)) == fits
    too_large = make_session(1000.0, groups=secrets.token_urlsafe(4800))
    with pytest.raises(SessionTooLarge) as raised:
        store.save(too_large)
    assert raised.value.size > raised.value.limit == MAX_SESSION_COOKIE


class _OutgrownStore(CookieStore):
    """A cookie store in which a renewed record no longer fits (longer tokens, say)."""

    def update(self, cookie_value: str, session: Session) -> str:
        raise SessionTooLarge(MAX_SESSION_COOKIE + 1, MAX_SESSION_COOKIE)


def test_a_renewal_that_outgrows_the_cookies_ends_the_session(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Not a 500 on the app's paths: the person is asked to sign in again, and the log
    says why."""
    cache = SessionCache(_OutgrownStore([KEY]), ttl=60, clock=clock, idle_timeout=600)
    value = cache.save(make_session(clock()))
    entry = cache.lookup(value)
    assert entry is not None
    clock.advance(400)  # "last seen" is due: it is written
    auth0 = Auth0Client("http://127.0.0.1:9", "c", "s")  # not called: no token to refresh
    renewer = Renewer(auth0=auth0, sessions=cache, clock=clock, idle_timeout=600)
    with caplog.at_level("ERROR", logger="pwless_gate"):
        renewal = renewer.renew(value, entry)
    assert renewal.entry is None
    assert not renewal.unavailable
    assert len(cache) == 0
    assert any("PWLESS_GATE_STORE" in r.getMessage() for r in caplog.records)


def test_a_last_seen_write_keeps_tokens_another_process_refreshed(
    tmp_path: pytest.TempPathFactory, clock: FakeClock
) -> None:
    """Two processes on one SQLite file, the second's clock 30 s ahead (hosts out of
    step). The second refreshes the session's tokens; the first, whose cached copy is
    still fresh and whose clock says the old token has a minute and a half left, then
    writes "last seen". That write must keep the refreshed tokens: writing its cached
    record back would restore a refresh token Auth0 has rotated away, and the next
    refresh, a reuse, would end the session (and revoke the family)."""
    from pwless_gate.stores.sqlite import SQLiteDatabase, SQLiteStore

    path = str(tmp_path / "gate.sqlite3")  # type: ignore[operator]
    ahead = FakeClock()
    ahead.now = clock.now + 30
    first = SessionCache(
        SQLiteStore(SQLiteDatabase(path, clock=clock), keys=KEYS, clock=clock),
        ttl=5,
        clock=clock,
        idle_timeout=240,
    )
    second = SessionCache(
        SQLiteStore(SQLiteDatabase(path, clock=ahead), keys=KEYS, clock=ahead),
        ttl=5,
        clock=ahead,
        idle_timeout=240,
    )
    start = clock() - 59  # "last seen" is due at the first process in one second
    session = dataclasses.replace(
        make_session(start),
        access_token="at-old",
        access_expires_at=clock() + ACCESS_TOKEN_MARGIN + 90,
        refresh_token="rt-old",
    )
    value = first.save(session)
    cached = first.lookup(value)
    assert cached is not None
    # The second process refreshes (its clock says the token is due) and saves the result.
    refreshed = dataclasses.replace(session, access_token="at-new", refresh_token="rt-new")
    assert second.replace(value, refreshed) == value
    clock.advance(2)  # still within the first process's 5 s cache: its copy has at-old
    auth0 = Auth0Client("http://127.0.0.1:9", "c", "s")  # not called: no refresh is due here
    renewal = Renewer(auth0=auth0, sessions=first, clock=clock, idle_timeout=240).renew(
        value, cached
    )
    assert renewal.entry is not None
    stored = SQLiteStore(SQLiteDatabase(path, clock=clock), keys=KEYS, clock=clock).load(value)
    assert stored is not None
    assert (stored.access_token, stored.refresh_token) == ("at-new", "rt-new")
    assert stored.seen_at == clock()  # and "last seen" was written
    assert renewal.entry.session.refresh_token == "rt-new"
