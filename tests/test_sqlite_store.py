"""The SQLite session store on a real file: records, revocation, expiry, the file's
mode and schema, and failures."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import stat
import time
from pathlib import Path

import pytest

from pwless_gate.errors import ConfigError, StoreUnavailable
from pwless_gate.sessions import SessionCache
from pwless_gate.stores.sqlite import SCHEMA_VERSION, SQLiteDatabase, SQLiteStore

from .helpers import KEYS, FakeClock, make_session, session_key, unknown_value


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "gate.sqlite3"


def open_store(path: Path, clock: FakeClock, **options: int) -> SQLiteStore:
    return SQLiteStore(SQLiteDatabase(str(path), clock=clock, **options), keys=KEYS, clock=clock)


def test_round_trip_keeps_only_a_hash_of_the_id(path: Path, clock: FakeClock) -> None:
    store = open_store(path, clock)
    session = make_session(clock())
    value = store.save(session)
    assert len(value) == 87  # a 256-bit id, ".", its HMAC-SHA256: URL-safe base64
    assert store.load(value) == session
    keys = [k for (k,) in sqlite3.connect(path).execute("SELECT key FROM sessions")]
    assert keys == [session_key(value)]
    assert value.encode() not in path.read_bytes()


@pytest.mark.parametrize("value", ["", "x", "a" * 42, "a" * 44, "../../etc", "a" * 42 + "!"])
def test_malformed_and_unknown_ids(path: Path, clock: FakeClock, value: str) -> None:
    store = open_store(path, clock)
    assert store.load(value) is None
    assert store.load(unknown_value()) is None


def test_revoke_ends_the_session_and_update_after_it_writes_nothing(
    path: Path, clock: FakeClock
) -> None:
    store = open_store(path, clock)
    session = make_session(clock())
    value = store.save(session)
    renewed = make_session(clock())
    assert store.update(value, renewed) == value
    assert store.load(value) == renewed
    store.revoke(value)
    assert store.load(value) is None
    assert store.update(value, renewed) is None
    assert store.load(value) is None


def test_revoke_user_ends_every_session_of_that_user_only(path: Path, clock: FakeClock) -> None:
    store = open_store(path, clock)
    mine = [store.save(make_session(clock(), sub="email|me")) for _ in range(3)]
    theirs = store.save(make_session(clock(), sub="email|them"))
    cache = SessionCache(store, clock=clock)
    assert cache.lookup(mine[0]) is not None
    assert cache.revoke_user("email|me") == 3
    assert [store.load(v) for v in mine] == [None, None, None]
    assert cache.lookup(mine[0]) is None
    assert store.load(theirs) is not None


def test_expired_sessions_are_not_loaded_and_are_swept(path: Path, clock: FakeClock) -> None:
    store = open_store(path, clock, sweep_every=3)  # the 1st write sweeps, then every 3rd
    short = store.save(make_session(clock(), lifetime=10))
    long = store.save(make_session(clock(), lifetime=1000))
    clock.advance(11)
    assert store.load(short) is None
    assert store.update(short, make_session(clock())) is None  # writes nothing
    for _ in range(3):  # three more writes: one of them sweeps
        store.save(make_session(clock()))
    rows = sqlite3.connect(path).execute("SELECT count(*) FROM sessions").fetchone()[0]
    assert rows == 4  # the long one and the three new ones: the expired row is gone
    assert store.load(long) is not None


def test_the_file_is_created_readable_by_its_owner_only(path: Path, clock: FakeClock) -> None:
    open_store(path, clock).save(make_session(clock()))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_older_file_is_reopened_and_a_newer_schema_refused(path: Path, clock: FakeClock) -> None:
    value = open_store(path, clock).save(make_session(clock()))
    database = SQLiteDatabase(str(path), clock=clock)
    assert database.version == SCHEMA_VERSION
    assert SQLiteStore(database, keys=KEYS, clock=clock).load(value) is not None
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(ConfigError) as caught:
        SQLiteDatabase(str(path), clock=clock)
    assert caught.value.setting == "PWLESS_GATE_STORE"
    assert f"v{SCHEMA_VERSION + 1}" in caught.value.problem
    assert "\n" not in str(caught.value)


def test_a_v3_file_is_upgraded_and_keeps_values_for_the_throttle(
    path: Path, clock: FakeClock
) -> None:
    """v4 adds the table of values a throttle keeps (an identifier's latest start):
    under a hash of the name and key, no address on disk, swept once expired."""
    from pwless_gate.stores import sqlite as module
    from pwless_gate.throttle import SQLiteThrottle

    conn = sqlite3.connect(path)
    for statements in module._MIGRATIONS[:3]:
        for statement in statements:
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 3")
    conn.commit()
    conn.close()
    value = open_store(path, clock).save(make_session(clock()))
    database = SQLiteDatabase(str(path), clock=clock, sweep_every=1)
    assert database.version == SCHEMA_VERSION == 4
    assert SQLiteStore(database, keys=KEYS, clock=clock).load(value) is not None
    throttle = SQLiteThrottle(database, clock=clock)
    throttle.remember("latest-start", "ada@example.com", "tx-1", 900)
    assert throttle.recall("latest-start", "ada@example.com") == "tx-1"
    assert b"ada@example.com" not in path.read_bytes()
    clock.advance(900)
    throttle.remember("latest-start", "bob@example.com", "tx-2", 900)  # each write sweeps
    rows = sqlite3.connect(path).execute("SELECT value FROM kept").fetchall()
    assert rows == [("tx-2",)]


def test_a_corrupt_file_stops_start_up_in_one_line(path: Path, clock: FakeClock) -> None:
    path.write_bytes(b"not a database, " * 512)
    with pytest.raises(ConfigError) as caught:
        SQLiteDatabase(str(path), clock=clock)
    assert caught.value.setting == "PWLESS_GATE_STORE"
    assert str(path) in caught.value.problem
    assert "\n" not in str(caught.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_directory_stops_start_up_in_one_line(
    tmp_path: Path, clock: FakeClock
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(ConfigError) as caught:
        SQLiteDatabase(str(locked / "gate.sqlite3"), clock=clock)
    assert caught.value.setting == "PWLESS_GATE_STORE"
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("where", ["a-file/gate.sqlite3", "."], ids=["under-a-file", "a-directory"])
def test_a_path_that_cannot_be_a_file_stops_start_up(
    tmp_path: Path, clock: FakeClock, where: str
) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    with pytest.raises(ConfigError) as caught:
        SQLiteDatabase(str(tmp_path / where), clock=clock)
    assert caught.value.setting == "PWLESS_GATE_STORE"
    assert "\n" not in str(caught.value)


def test_a_missing_directory_is_made_for_the_file_and_only_for_its_owner(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "state" / "deeper" / "gate.sqlite3"
    SQLiteDatabase(str(path), clock=clock)
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_errors_while_serving_are_store_unavailable_naming_the_file(
    path: Path, clock: FakeClock
) -> None:
    store = open_store(path, clock)
    value = store.save(make_session(clock()))
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE sessions")
    for attempt in (
        lambda: store.load(value),
        lambda: store.save(make_session(clock())),
        lambda: store.update(value, make_session(clock())),
        lambda: store.revoke(value),
        lambda: store.revoke_user("email|abc"),
    ):
        with pytest.raises(StoreUnavailable) as caught:
            attempt()
        assert str(caught.value) == f"SQLite at {path}: OperationalError (no such table: sessions)"


@pytest.mark.parametrize("how", ["removed", "replaced"])
def test_a_file_removed_or_replaced_under_the_gate_is_an_outage(
    path: Path, clock: FakeClock, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(path, clock)
    value = store.save(make_session(clock()))
    for name in (path.name, f"{path.name}-wal", f"{path.name}-shm"):
        (path.parent / name).unlink(missing_ok=True)
    if how == "replaced":
        SQLiteDatabase(str(path), clock=clock)  # a new, empty file at the same path
    monkeypatch.setattr("pwless_gate.stores.sqlite.FILE_CHECK_SECONDS", 0.0)
    with pytest.raises(StoreUnavailable) as caught:
        store.load(value)
    assert str(caught.value).startswith(f"SQLite at {path}: FileGone (the file ")
    with pytest.raises(StoreUnavailable):
        store.save(make_session(clock()))


def test_a_file_damaged_then_repaired_is_served_again_without_a_restart(
    path: Path, clock: FakeClock
) -> None:
    """A connection that met an unreadable file keeps failing after the file is whole
    again: the gate opens a new one after any error, so a worker recovers by itself."""
    store = open_store(path, clock)
    value = store.save(make_session(clock()))
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    header = path.read_bytes()[:100]
    with path.open("r+b") as file:
        file.write(b"\0" * 100)
    with pytest.raises(StoreUnavailable) as caught:
        store.load(value)
    assert str(caught.value) == f"SQLite at {path}: DatabaseError (file is not a database)"
    with path.open("r+b") as file:
        file.write(header)
    assert store.load(value) is not None
    assert store.save(make_session(clock()))


def test_a_locked_database_is_unavailable_not_a_hang(path: Path, clock: FakeClock) -> None:
    store = SQLiteStore(
        SQLiteDatabase(str(path), clock=clock, busy_timeout=0.1), keys=KEYS, clock=clock
    )
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreUnavailable):
            store.save(make_session(clock()))
    finally:
        holder.execute("ROLLBACK")
    assert store.save(make_session(clock()))


def test_one_refresh_lock_at_a_time_until_released_or_expired(path: Path, clock: FakeClock) -> None:
    first, second = open_store(path, clock), open_store(path, clock)
    value = unknown_value()
    token = first.acquire_refresh_lock(value, 5)
    assert token is not None
    assert second.acquire_refresh_lock(value, 5) is None
    assert second.acquire_refresh_lock(unknown_value(), 5) is not None
    second.release_refresh_lock(value, "not-the-token")
    assert second.acquire_refresh_lock(value, 5) is None
    first.release_refresh_lock(value, token)
    again = second.acquire_refresh_lock(value, 5)
    assert again is not None
    clock.advance(6)
    assert first.acquire_refresh_lock(value, 5) is not None


def _open_at(path: str, start: float, answers: multiprocessing.Queue[str]) -> None:
    """A worker booting: wait for the common start, open the file, say how it went."""
    while time.time() < start:
        pass
    try:
        SQLiteDatabase(path)
    except ConfigError as exc:
        answers.put(str(exc))
    else:
        answers.put("ok")


def test_workers_booting_together_on_a_new_file_all_start(tmp_path: Path) -> None:
    """gunicorn's workers open the default file at the same moment on a first start.
    Switching a new file to WAL, SQLite turns all but one away at once ("database is
    locked", no busy wait); those must try again, not stop the worker (gunicorn then
    shuts down with "App failed to load")."""
    forking = multiprocessing.get_context("fork")
    for trial in range(12):
        path = str(tmp_path / f"new-{trial}.sqlite3")
        answers: multiprocessing.Queue[str] = forking.Queue()
        start = time.time() + 0.2
        workers = [forking.Process(target=_open_at, args=(path, start, answers)) for _ in range(6)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(30)
        said = [answers.get(timeout=5) for _ in workers]
        assert said == ["ok"] * len(workers), (trial, said)
        assert SQLiteDatabase(path).version == SCHEMA_VERSION
