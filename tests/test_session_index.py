"""Listing a person's sessions and ending them by handle, in SQLite and in Redis."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from pwless_gate.sessions import Session, SessionCache, new_handle, new_session_id
from pwless_gate.stores.redis import RedisStore, connect
from pwless_gate.stores.signed_ids import SignedIds
from pwless_gate.stores.sqlite import SQLiteDatabase, SQLiteStore, digest

from .helpers import KEYS, FakeClock, make_session, session_key
from .procs import REDIS_KINDS, redis_url_for


@dataclass
class Backend:
    """A store, and a way to write a record as older code did (straight into the store)."""

    store: SQLiteStore | RedisStore
    write_raw: Callable[[str, dict[str, Any], str], None]


def _sqlite(tmp_path: Path, clock: FakeClock) -> Backend:
    database = SQLiteDatabase(str(tmp_path / "gate.sqlite3"), clock=clock)

    def write_raw(value: str, record: dict[str, Any], sub: str) -> None:
        database.connection().execute(
            "INSERT INTO sessions (key, user, record, expires_at) VALUES (?, ?, ?, ?)",
            (session_key(value), digest(sub), json.dumps(record), record["ex"]),
        )

    return Backend(SQLiteStore(database, keys=KEYS, clock=clock), write_raw)


def _redis(url: str, clock: FakeClock) -> Backend:
    redis = connect(url)

    def write_raw(value: str, record: dict[str, Any], sub: str) -> None:
        key = f"pwless_gate:session:{session_key(value)}"
        redis.set(key, json.dumps(record), ex=3600)
        redis.sadd(f"pwless_gate:user:{hashlib.sha256(sub.encode()).hexdigest()}", key)

    return Backend(RedisStore(redis, keys=KEYS, clock=clock), write_raw)


@pytest.fixture(params=["sqlite", *REDIS_KINDS])
def backend(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Backend:
    """Each store that lists sessions: SQLite, and Redis alone, with Sentinel and as a Cluster
    (where a user's sessions and their list live in other slots)."""
    if request.param == "sqlite":
        return _sqlite(tmp_path, clock)
    return _redis(redis_url_for(request, request.param), clock)


def session_of(clock: FakeClock, sub: str, started: float = 0, **fields: Any) -> Session:
    return replace(make_session(clock() + started, sub=sub), handle=new_handle(), **fields)


def test_sessions_of_a_user_oldest_first_and_all_sessions(
    backend: Backend, clock: FakeClock
) -> None:
    store = backend.store
    second = session_of(clock, "email|me", started=10, agent="Firefox on Linux", ip="10.0.0.2")
    first = session_of(clock, "email|me", agent="Safari on iPhone", ip="10.0.0.1")
    someone = session_of(clock, "email|other", started=5)
    for session in (second, first, someone):
        store.save(session)

    mine = store.sessions_of("email|me")
    assert [s.handle for s in mine] == [first.handle, second.handle]
    assert [(s.agent, s.ip) for s in mine] == [
        ("Safari on iPhone", "10.0.0.1"),
        ("Firefox on Linux", "10.0.0.2"),
    ]
    assert store.sessions_of("email|nobody") == []
    assert [s.handle for s in store.all_sessions()] == [
        first.handle,
        someone.handle,
        second.handle,
    ]


def test_revoke_one_by_handle_ends_only_that_one(backend: Backend, clock: FakeClock) -> None:
    store = backend.store
    keep = session_of(clock, "email|me")
    end = session_of(clock, "email|me")
    theirs = session_of(clock, "email|other")
    values = {s.handle: store.save(s) for s in (keep, end, theirs)}

    assert store.revoke_where("email|me", lambda s: s.handle == end.handle) == 1
    assert store.load(values[end.handle]) is None
    assert store.load(values[keep.handle]) is not None
    # Another person's handle under my sub ends nothing, theirs stays.
    assert store.revoke_where("email|me", lambda s: s.handle == theirs.handle) == 0
    assert store.load(values[theirs.handle]) is not None
    # Ending it again finds nothing.
    assert store.revoke_where("email|me", lambda s: s.handle == end.handle) == 0
    assert [s.handle for s in store.sessions_of("email|me")] == [keep.handle]


def test_revoke_every_other_session(backend: Backend, clock: FakeClock) -> None:
    store = backend.store
    sessions = [session_of(clock, "email|me", started=i) for i in range(4)]
    values = [store.save(s) for s in sessions]
    here = sessions[2].handle
    assert store.revoke_where("email|me", lambda s: s.handle != here) == 3
    assert [store.load(v) is not None for v in values] == [False, False, True, False]


def test_a_record_written_before_handles_is_listed_and_ended(
    backend: Backend, clock: FakeClock
) -> None:
    value = SignedIds(KEYS).new()[1]
    record = {
        "sid": new_session_id(),
        "u": "ada@example.com",
        "c": "email",
        "cl": {"sub": "email|old", "email": "ada@example.com"},
        "ca": int(clock()),
        "ex": int(clock()) + 3600,
    }
    backend.write_raw(value, record, "email|old")
    store = backend.store
    assert store.load(value) is not None
    [listed] = store.sessions_of("email|old")
    assert (listed.ip, listed.agent) == ("", "")
    assert [s.handle for s in store.sessions_of("email|old")] == [listed.handle]  # stable
    assert store.revoke_where("email|old", lambda s: s.handle == listed.handle) == 1
    assert store.load(value) is None


def test_the_cache_forgets_what_it_ended_at_once(backend: Backend, clock: FakeClock) -> None:
    cache = SessionCache(backend.store, ttl=60, clock=clock)
    one = session_of(clock, "email|me")
    two = session_of(clock, "email|me")
    values = [cache.save(one), cache.save(two)]
    assert all(cache.lookup(v) is not None for v in values)
    assert cache.revoke_where("email|me", lambda s: s.handle == one.handle) == 1
    assert cache.lookup(values[0]) is None  # not served from this process's cache
    assert cache.lookup(values[1]) is not None
    assert [s.handle for s in cache.sessions_of("email|me")] == [two.handle]


def test_sqlite_does_not_list_expired_sessions(tmp_path: Path, clock: FakeClock) -> None:
    store = _sqlite(tmp_path, clock).store
    store.save(session_of(clock, "email|me"))
    lasting = session_of(clock, "email|me")
    store.save(replace(lasting, expires_at=clock() + 7200))
    clock.advance(3601)
    assert [s.handle for s in store.sessions_of("email|me")] == [lasting.handle]
    assert [s.handle for s in store.all_sessions()] == [lasting.handle]


def test_redis_drops_members_whose_record_is_gone(redis_url: str, clock: FakeClock) -> None:
    redis = connect(redis_url)
    store = RedisStore(redis, keys=KEYS, clock=clock)
    gone = store.save(session_of(clock, "email|me"))
    kept = session_of(clock, "email|me")
    store.save(kept)
    store.revoke(gone)  # logout deletes the record, not the set member
    user_key = f"pwless_gate:user:{hashlib.sha256(b'email|me').hexdigest()}"
    assert redis.scard(user_key) == 2
    assert [s.handle for s in store.sessions_of("email|me")] == [kept.handle]
    assert redis.scard(user_key) == 1


def test_redis_lists_every_session_in_bounded_scans(redis_url: str, clock: FakeClock) -> None:
    redis = connect(redis_url)
    store = RedisStore(redis, keys=KEYS, clock=clock)
    for i in range(1200):  # other keys: the SCAN skips them, over several steps
        redis.set(f"pwless_gate:throttle:{i}", "1")
    saved = [session_of(clock, f"email|u{i % 7}", started=i) for i in range(600)]
    for session in saved:  # more sessions than one MGET batch
        store.save(session)
    listed = store.all_sessions()
    assert [s.handle for s in listed] == [s.handle for s in saved]
