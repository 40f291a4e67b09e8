"""The saved-form stores: SQLite (schema v3, upgraded from v2) and Redis (one server,
Sentinel, Cluster) keep forms and each browser's last person, and hand a form out once."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from pwless_gate.savedforms import FormStore, Record, digest
from pwless_gate.stores.redis import RedisFormStore, connect
from pwless_gate.stores.signed_ids import SignedIds
from pwless_gate.stores.sqlite import SQLiteDatabase, SQLiteFormStore, SQLiteStore

from .helpers import KEYS, FakeClock, make_session


@pytest.fixture(params=["sqlite", "redis", "sentinel", "cluster"])
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> FormStore:
    if request.param == "sqlite":
        database = SQLiteDatabase(str(tmp_path / "gate.sqlite3"), clock=clock)
        return SQLiteFormStore(database, clock=clock)
    from .procs import redis_url_for

    return RedisFormStore(connect(redis_url_for(request, request.param)), clock=clock)


def record(now: float, body: bytes = b"a=1&b=2") -> str:
    return Record(
        browser="b" * 32,
        handle=digest("handle"),
        who="",
        armed="",
        path="/notes/save",
        query="draft=1",
        content_type="application/x-www-form-urlencoded",
        body=body,
        expires_at=now + 900,
    ).dumps()


def test_a_form_is_kept_read_and_taken_once(store: FormStore, clock: FakeClock) -> None:
    key = digest("handle-1")
    kept = record(clock(), bytes(range(256)) * 1024)  # any bytes, 256 KiB
    store.put_form(key, kept, clock() + 900)
    assert store.get_form(key) == kept
    assert store.get_form(digest("handle-2")) is None
    assert store.take_form(key) == kept
    assert store.take_form(key) is None
    assert store.get_form(key) is None


def test_of_many_takers_one_gets_the_form(store: FormStore, clock: FakeClock) -> None:
    key = digest("handle-race")
    store.put_form(key, record(clock()), clock() + 900)
    got: list[str | None] = []
    threads = [threading.Thread(target=lambda: got.append(store.take_form(key))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sum(1 for g in got if g is not None) == 1


def test_a_browser_s_person_is_remembered_until_it_expires(
    store: FormStore, clock: FakeClock
) -> None:
    store.put_browser_user("browser-1", "person-a", clock() + 60)
    assert store.get_browser_user("browser-1") == "person-a"
    store.put_browser_user("browser-1", "person-b", clock() + 60)
    assert store.get_browser_user("browser-1") == "person-b"
    assert store.get_browser_user("browser-2") is None


def test_sqlite_forgets_expired_forms(tmp_path: Path, clock: FakeClock) -> None:
    database = SQLiteDatabase(str(tmp_path / "gate.sqlite3"), clock=clock)
    forms = SQLiteFormStore(database, clock=clock)
    forms.put_form("k", record(clock()), clock() + 900)
    forms.put_browser_user("b", "p", clock() + 60)
    clock.advance(901)
    assert forms.get_form("k") is None
    assert forms.take_form("k") is None
    assert forms.get_browser_user("b") is None
    database.sweep()
    rows = sqlite3.connect(database.path).execute("SELECT count(*) FROM saved_forms").fetchone()
    assert rows == (0,)


def test_a_v2_file_is_upgraded_and_keeps_its_sessions(tmp_path: Path, clock: FakeClock) -> None:
    from pwless_gate.stores import sqlite as module

    path = tmp_path / "gate.sqlite3"
    conn = sqlite3.connect(path)
    for statements in module._MIGRATIONS[:2]:
        for statement in statements:
            conn.execute(statement)
    session = make_session(clock())
    sid, value = SignedIds(KEYS).new()
    conn.execute(  # a v2 file with a session in it
        "INSERT INTO sessions (key, user, record, expires_at) VALUES (?, ?, ?, ?)",
        (module.digest(sid), module.digest("email|abc"), module._json(session), 9e9),
    )
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    database = SQLiteDatabase(str(path), clock=clock)
    assert database.version == module.SCHEMA_VERSION
    assert SQLiteStore(database, keys=KEYS, clock=clock).load(value) is not None
    forms = SQLiteFormStore(database, clock=clock)
    forms.put_form("k", record(clock()), clock() + 900)
    assert forms.take_form("k") is not None
