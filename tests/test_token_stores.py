"""The app token stores: SQLite (schema v2, upgraded from v1) and Redis (one server,
Sentinel, Cluster) keep the same things and answer the same way."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from pwless_gate.apptokens import (
    TOKEN_ID,
    AppToken,
    TokenStore,
    new_token,
    new_token_id,
    token_hash,
)
from pwless_gate.stores.redis import RedisTokenStore, connect
from pwless_gate.stores.sqlite import SQLiteDatabase, SQLiteStore, SQLiteTokenStore

from .helpers import KEYS, FakeClock, make_session


def token(
    now: float, sub: str = "email|ada", who: str = "ada@example.com", days: float = 30
) -> AppToken:
    return AppToken(
        key=token_hash(new_token()),
        token_id=new_token_id(),
        sub=sub,
        remote_user=who,
        connection="email",
        claims={"sub": sub, "email": who},
        name="pip on my laptop",
        created_at=now,
        expires_at=now + days * 86400,
    )


@pytest.fixture(params=["sqlite", "redis", "sentinel", "cluster"])
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> TokenStore:
    if request.param == "sqlite":
        database = SQLiteDatabase(str(tmp_path / "gate.sqlite3"), clock=clock)
        return SQLiteTokenStore(database, clock=clock)
    from .procs import redis_url_for

    return RedisTokenStore(connect(redis_url_for(request, request.param)), clock=clock)


def test_add_find_list_and_revoke(store: TokenStore, clock: FakeClock) -> None:
    first = token(clock())
    clock.advance(60)
    second = token(clock())
    other = token(clock(), sub="email|bob", who="bob@example.com")
    for made in (first, second, other):
        store.add_token(made)
    found = store.find_token(first.key)
    assert found is not None
    assert found.token_id == first.token_id
    assert found.claims == first.claims
    assert found.used_at == 0
    assert store.find_token(token_hash(new_token())) is None
    assert [t.token_id for t in store.tokens_of("email|ada")] == [
        second.token_id,
        first.token_id,
    ]
    assert len(store.all_tokens()) == 3
    assert store.revoke_tokens("email|ada", lambda t: t.token_id == first.token_id) == 1
    assert store.find_token(first.key) is None
    assert [t.token_id for t in store.tokens_of("email|ada")] == [second.token_id]
    assert store.revoke_tokens("email|bob", lambda t: t.token_id == second.token_id) == 0
    assert store.revoke_tokens("email|ada", lambda t: True) == 1
    assert store.tokens_of("email|ada") == []
    assert store.find_token(other.key) is not None


def test_first_use_is_told_once(store: TokenStore, clock: FakeClock) -> None:
    made = token(clock())
    store.add_token(made)
    assert store.mark_token_used(made.key, clock()) is True
    assert store.mark_token_used(made.key, clock() + 60) is False
    found = store.find_token(made.key)
    assert found is not None
    assert found.used_at == clock() + 60
    store.revoke_tokens(made.sub, lambda t: True)
    assert store.mark_token_used(made.key, clock() + 120) is None
    assert store.find_token(made.key) is None


def test_an_expired_token_is_gone(store: TokenStore, clock: FakeClock) -> None:
    made = token(clock(), days=1)
    store.add_token(made)
    clock.advance(86400 + 1)
    assert store.find_token(made.key) is None
    assert store.tokens_of(made.sub) == []
    assert store.all_tokens() == []


def test_only_the_hash_is_stored(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "gate.sqlite3"
    store = SQLiteTokenStore(SQLiteDatabase(str(path), clock=clock), clock=clock)
    secret = new_token()
    made = token(clock())
    store.add_token(AppToken(**{**_fields(made), "key": token_hash(secret)}))
    rows = sqlite3.connect(path).execute("SELECT key, record FROM app_tokens").fetchall()
    assert rows[0][0] == token_hash(secret)
    assert secret not in repr(rows)


def test_a_v1_file_is_upgraded_and_keeps_its_sessions(tmp_path: Path, clock: FakeClock) -> None:
    from pwless_gate.stores import sqlite as module

    path = tmp_path / "gate.sqlite3"
    conn = sqlite3.connect(path)
    for statement in module._MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    database = SQLiteDatabase(str(path), clock=clock)
    assert database.version == module.SCHEMA_VERSION
    value = SQLiteStore(database, keys=KEYS, clock=clock).save(make_session(clock()))
    reopened = SQLiteDatabase(str(path), clock=clock)
    assert SQLiteStore(reopened, keys=KEYS, clock=clock).load(value) is not None
    tokens = SQLiteTokenStore(reopened, clock=clock)
    made = token(clock())
    tokens.add_token(made)
    assert tokens.find_token(made.key) is not None


def _fields(made: AppToken) -> dict[str, Any]:
    return {name: getattr(made, name) for name in AppToken.__slots__}  # type: ignore[attr-defined]


def test_token_ids_are_well_formed_and_never_read_as_an_option() -> None:
    """An id is given on the command line (``tokens revoke --token-id ID``): one that
    starts with ``-`` would be taken for an option (1 in 64 ids, before)."""
    ids = [new_token_id() for _ in range(2000)]
    assert all(TOKEN_ID.match(i) for i in ids)
    assert not [i for i in ids if i.startswith("-")]
    assert len(set(ids)) == len(ids)
