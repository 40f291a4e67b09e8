"""Server-side session ids signed with the secret key: the SQLite and Redis stores keep a
session as long as the key that signed its cookie value is kept, and never ask their
database about a value no kept key signed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from pwless_gate.errors import StoreUnavailable
from pwless_gate.stores.redis import RedisStore, connect
from pwless_gate.stores.signed_ids import SignedIds
from pwless_gate.stores.sqlite import SQLiteDatabase, SQLiteStore

from .helpers import FakeClock, make_session
from .procs import REDIS_KINDS, free_port, redis_url_for

OLD = b"the-old-secret-key-0123456789abc"
NEW = b"the-new-secret-key-0123456789abc"

#: A store over one shared database, made with the keys given (oldest first).
MakeStore = Callable[[Sequence[bytes]], SQLiteStore | RedisStore]


@pytest.fixture(params=["sqlite", *REDIS_KINDS])
def make_store(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> MakeStore:
    """SQLite, and Redis alone, with Sentinel and as a Cluster."""
    if request.param == "sqlite":
        database = SQLiteDatabase(str(tmp_path / "gate.sqlite3"), clock=clock)
        return lambda keys: SQLiteStore(database, keys=keys, clock=clock)
    redis = connect(redis_url_for(request, request.param))
    return lambda keys: RedisStore(redis, keys=keys, clock=clock)


def test_a_session_lives_as_long_as_its_key_is_kept(
    make_store: MakeStore, clock: FakeClock
) -> None:
    session = make_session(clock())
    value = make_store([OLD]).save(session)
    rotated = make_store([OLD, NEW])
    assert rotated.load(value) == session
    dropped = make_store([NEW])
    assert dropped.load(value) is None
    assert dropped.update(value, session) is None  # nor written by its value
    assert rotated.load(value) == session
    # Ended by it, though (a sign-in or logout in the browser holding it): naming the id
    # takes knowing it, the session's secret.
    dropped.revoke(value)
    assert rotated.load(value) is None


def test_a_session_written_again_gets_a_value_signed_with_the_newest_key(
    make_store: MakeStore, clock: FakeClock
) -> None:
    session = make_session(clock())
    value = make_store([OLD]).save(session)
    rotated = make_store([OLD, NEW])
    renewed = rotated.update(value, session)
    assert renewed is not None
    assert renewed != value
    assert renewed.partition(".")[0] == value.partition(".")[0]  # the same session
    assert rotated.update(renewed, session) == renewed  # signed alike each time
    assert make_store([NEW]).load(renewed) == session
    make_store([NEW]).revoke(renewed)
    assert rotated.load(value) is None  # one session, whichever value names it


def test_refresh_locks_are_per_session_whichever_key_signed_the_value(
    make_store: MakeStore, clock: FakeClock
) -> None:
    value = make_store([OLD]).save(make_session(clock()))
    rotated = make_store([OLD, NEW])
    renewed = rotated.update(value, make_session(clock()))
    assert renewed is not None
    token = rotated.acquire_refresh_lock(value, 5)
    assert token is not None
    assert rotated.acquire_refresh_lock(renewed, 5) is None
    rotated.release_refresh_lock(renewed, token)
    assert rotated.acquire_refresh_lock(renewed, 5) is not None


def test_an_unsigned_or_forged_value_is_no_session(make_store: MakeStore, clock: FakeClock) -> None:
    store = make_store([OLD])
    session = make_session(clock())
    value = store.save(session)
    sid, _, signature = value.partition(".")
    naming = [
        sid,  # as values were before they were signed: that session ends once
        f"{sid}.{signature[::-1]}",
        SignedIds([NEW]).sign(sid),
    ]
    malformed = [f"{sid}.", f"{sid}.{signature}x", f"{sid}.{signature}.{signature}"]
    for other in naming + malformed:
        assert store.load(other) is None, other
        assert store.update(other, session) is None, other
    for other in malformed:
        store.revoke(other)
    assert store.load(value) == session
    # A value of the right shape ends the session its id names, signed or not: it is
    # sent by the browser holding it (sign-in, logout), and naming the id takes knowing it.
    store.revoke(naming[0])
    assert store.load(value) is None


def test_a_value_no_key_signed_never_reaches_the_database() -> None:
    """Redis is away: a value signed with a kept key asks it (503), a forged one does not."""
    store = RedisStore(connect(f"redis://127.0.0.1:{free_port()}/0", timeout=0.5), keys=[OLD])
    sid, value = SignedIds([OLD]).new()
    with pytest.raises(StoreUnavailable):
        store.load(value)
    for other in (sid, SignedIds([NEW]).sign(sid), f"{sid}.{'A' * 43}"):
        assert store.load(other) is None
        assert store.update(other, make_session(0)) is None
    store.revoke(f"{sid}.")  # no id to name: nothing asked
    with pytest.raises(StoreUnavailable):  # ending by the id it names asks the store
        store.revoke(sid)


def test_signed_ids_need_a_key() -> None:
    with pytest.raises(ValueError, match="key"):
        SignedIds([])
