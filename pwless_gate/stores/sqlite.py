"""Sessions in one SQLite file: durable state on one machine with nothing to install.

The cookie holds only a random 256-bit id signed with the secret key
(:mod:`~pwless_gate.stores.signed_ids`: checked before the file is read, so a
session ends with the key that signed it); the record lives in the
``sessions`` table under the sha256 of that id, beside the sha256 of the
user's ``sub`` (for "sign out everywhere" and the sessions page) and its expiry, so a copy of the
file holds no usable cookie. Logout deletes the row: every process on the
machine stops accepting the session once its verified-session cache entry
expires (``session_cache_ttl`` seconds). The throttle counters and kept values
(:class:`~pwless_gate.throttle.SQLiteThrottle`) and the refresh locks of
:mod:`pwless_gate.renew` live in the same file, so every worker shares them.

The file is opened in WAL mode (readers never wait for the writer) with a
busy timeout, created with mode 0600, and used through one connection per
thread and process (a connection never crosses a fork). Its schema version
is ``PRAGMA user_version``: an older file is upgraded at start-up, a newer
one stops start-up. Expired rows are deleted every few hundred writes; no
cron job is needed.

Any SQLite error while serving is raised as
:class:`~pwless_gate.errors.StoreUnavailable` naming the file and the error
class (``SQLite at /var/lib/gate.sqlite3: OperationalError``); the gate then
fails closed (503), as with Redis. A file that cannot be created, opened or
upgraded at start-up is a :class:`~pwless_gate.errors.ConfigError` naming
``PWLESS_GATE_STORE``.

This store does not share state between machines (use Redis) and does not
work on network filesystems, where SQLite's locking is unreliable.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence

from ..apptokens import AppToken, newest_first
from ..errors import ConfigError, StoreUnavailable
from ..sessions import Session, oldest_first
from .signed_ids import SignedIds

SETTING = "PWLESS_GATE_STORE"
SCHEMA_VERSION = 4
#: The statements that bring a file from version ``i`` to ``i + 1``.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE sessions (key TEXT PRIMARY KEY, user TEXT NOT NULL,"
        " record TEXT NOT NULL, expires_at REAL NOT NULL) WITHOUT ROWID",
        "CREATE INDEX sessions_user ON sessions (user)",
        "CREATE INDEX sessions_expiry ON sessions (expires_at)",
        "CREATE TABLE throttle (key TEXT NOT NULL, window INTEGER NOT NULL,"
        " hits INTEGER NOT NULL, expires_at REAL NOT NULL,"
        " PRIMARY KEY (key, window)) WITHOUT ROWID",
        "CREATE INDEX throttle_expiry ON throttle (expires_at)",
        "CREATE TABLE locks (key TEXT PRIMARY KEY, token TEXT NOT NULL,"
        " expires_at REAL NOT NULL) WITHOUT ROWID",
    ),
    (
        # App tokens: the sha256 of the token, the sha256 of its owner's sub.
        "CREATE TABLE app_tokens (key TEXT PRIMARY KEY, user TEXT NOT NULL,"
        " record TEXT NOT NULL, expires_at REAL NOT NULL, used_at REAL) WITHOUT ROWID",
        "CREATE INDEX app_tokens_user ON app_tokens (user)",
        "CREATE INDEX app_tokens_expiry ON app_tokens (expires_at)",
    ),
    (
        # Saved forms (pwless_gate.savedforms): the sha256 of the handle, the record
        # (up to saved_form_max_bytes of body, so not WITHOUT ROWID); and who last signed
        # in on each browser (hashes of the browser id and of the person).
        "CREATE TABLE saved_forms (key TEXT PRIMARY KEY, record TEXT NOT NULL,"
        " expires_at REAL NOT NULL)",
        "CREATE INDEX saved_forms_expiry ON saved_forms (expires_at)",
        "CREATE TABLE browser_users (key TEXT PRIMARY KEY, user TEXT NOT NULL,"
        " expires_at REAL NOT NULL) WITHOUT ROWID",
        "CREATE INDEX browser_users_expiry ON browser_users (expires_at)",
    ),
    (
        # One value per key kept for a while (Throttle.remember: the latest start per
        # identifier), under the sha256 of its name and key.
        "CREATE TABLE kept (key TEXT PRIMARY KEY, value TEXT NOT NULL,"
        " expires_at REAL NOT NULL) WITHOUT ROWID",
        "CREATE INDEX kept_expiry ON kept (expires_at)",
    ),
)
_SWEEP = tuple(
    f"DELETE FROM {table} WHERE expires_at <= ?"  # noqa: S608 (fixed table names)
    for table in (
        "sessions",
        "throttle",
        "locks",
        "app_tokens",
        "saved_forms",
        "browser_users",
        "kept",
    )
)
#: How often (seconds, per thread) a connection checks that its file is still the one at
#: the path: a file removed or replaced under a running gate is an outage, not a new start.
FILE_CHECK_SECONDS = 1.0
#: Seconds between tries to put a new file in WAL mode while another process does it.
WAL_RETRY = 0.01


class FileGone(sqlite3.OperationalError):
    """The file at the path was removed or replaced while the gate ran."""


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class SQLiteDatabase:
    """The file, its connections and its schema; shared by the store and the throttle.

    Raises :class:`ConfigError` when the file cannot be created, opened or
    upgraded, or has a newer schema than this code knows.
    """

    def __init__(
        self,
        path: str,
        *,
        busy_timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
        sweep_every: int = 500,
        setting: str = SETTING,
    ) -> None:
        self.path = path
        #: The variable a start-up error names (``PWLESS_GATE_STATE_DIR`` for the default file).
        self.setting = setting
        self.location = f"SQLite at {path}"
        self._busy_timeout = busy_timeout
        self._clock = clock
        self._sweep_every = sweep_every
        # The first write sweeps: rows expired while the gate was down go soon, and start-up
        # itself never waits for a write lock another process holds.
        self._writes = sweep_every - 1
        self._local = threading.local()
        self._identity = self._create()
        try:
            self.version = self._upgrade()
        except sqlite3.Error as exc:
            raise ConfigError(self.setting, f"{self.location}: {_describe(exc)}") from None

    def _create(self) -> tuple[int, int]:
        """Create the file readable by this user alone (and a missing directory for it,
        0700), before SQLite opens it; return its device and inode."""
        try:
            os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise ConfigError(
                self.setting,
                f"cannot create {self.path}: {exc.strerror or type(exc).__name__}",
            ) from None
        try:
            stat = os.fstat(fd)
        finally:
            os.close(fd)
        return stat.st_dev, stat.st_ino

    def _upgrade(self) -> int:
        """Bring the schema to :data:`SCHEMA_VERSION`. A current file is only read (a
        worker starting while another process writes does not wait for the lock)."""
        current = int(self.connection().execute("PRAGMA user_version").fetchone()[0])
        if current == SCHEMA_VERSION:
            return current
        with self.transaction() as conn:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise ConfigError(
                    self.setting,
                    f"{self.location} has schema v{version}, newer than this pwless-gate "
                    f"knows (v{SCHEMA_VERSION}); upgrade pwless-gate or use another file",
                )
            for statements in _MIGRATIONS[version:]:
                for statement in statements:
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        return SCHEMA_VERSION

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (a new one after a fork).

        Raises :class:`FileGone` when the file at the path is no longer the one
        the gate created or opened (checked at most every
        :data:`FILE_CHECK_SECONDS`): SQLite would go on writing to the removed
        file, or open an empty one, and sessions would vanish or split.
        """
        now = time.monotonic()
        if now >= getattr(self._local, "checked", 0.0) + FILE_CHECK_SECONDS:
            self._check_file()
            self._local.checked = now
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn
        conn = sqlite3.connect(
            self.path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False
        )
        try:
            _write_ahead(conn, self._busy_timeout)
            # WAL with NORMAL loses at most the last commits on power loss, never consistency.
            conn.execute("PRAGMA synchronous = NORMAL")
        except BaseException:
            conn.close()
            raise
        self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``: the write lock from the start, so two
        writers never deadlock upgrading a read; rolled back on any error."""
        conn = self.connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _check_file(self) -> None:
        try:
            stat = os.stat(self.path)
        except OSError:
            raise FileGone("the file is gone; restart to start a new one") from None
        if (stat.st_dev, stat.st_ino) != self._identity:
            raise FileGone("the file was replaced; restart to open the new one")

    def unavailable(self, exc: sqlite3.Error) -> StoreUnavailable:
        """The error to raise for ``exc``: the file, the error class and SQLite's own words
        (``database is locked``, ``database or disk is full``, ``file is not a database``).

        This thread's connection is closed and the next call opens a new one: a
        connection that met a damaged or unreadable file keeps failing after the file
        is whole again, so without this a worker would answer 503 until restarted.
        """
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            self._local.conn = None
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        return StoreUnavailable(f"{self.location}: {_describe(exc)}")

    def wrote(self) -> None:
        """Count a write; every ``sweep_every`` writes, delete the expired rows (a sweep
        that cannot run now, the file being busy, is left to the next one)."""
        self._writes += 1
        if self._writes % self._sweep_every == 0:
            with contextlib.suppress(sqlite3.Error):
                self.sweep()

    def sweep(self) -> int:
        """Delete expired sessions, counters and locks; returns how many rows went."""
        now = self._clock()
        with self.transaction() as conn:
            return sum(conn.execute(statement, (now,)).rowcount for statement in _SWEEP)


def _write_ahead(conn: sqlite3.Connection, patience: float) -> None:
    """Put the file in WAL mode, waiting up to ``patience`` seconds for other processes.

    Workers starting together on a new file all switch it at once, and SQLite answers
    "database is locked" at once, without the busy timeout, where waiting could deadlock
    (each holds a read lock and wants the write lock): the ones turned away try again.
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(WAL_RETRY)


def _describe(exc: sqlite3.Error) -> str:
    return f"{type(exc).__name__} ({exc})" if str(exc) else type(exc).__name__


class SQLiteStore:
    """A :class:`~pwless_gate.sessions.SessionStore` in a SQLite file.

    ``keys`` sign and check the cookie values (the gate's
    :attr:`~pwless_gate.config.GateConfig.signing_keys`, oldest first).
    """

    def __init__(
        self,
        database: SQLiteDatabase,
        *,
        keys: Sequence[bytes],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.database = database
        self._ids = SignedIds(keys)
        self._clock = clock

    def save(self, session: Session) -> str:
        sid, value = self._ids.new()
        try:
            self.database.connection().execute(
                "INSERT INTO sessions (key, user, record, expires_at) VALUES (?, ?, ?, ?)",
                (
                    digest(sid),
                    digest(str(session.claims["sub"])),
                    _json(session),
                    session.expires_at,
                ),
            )
        except sqlite3.Error as exc:
            raise self.database.unavailable(exc) from exc
        self._wrote()
        return value

    def load(self, cookie_value: str) -> Session | None:
        sid = self._ids.unsign(cookie_value)
        if sid is None:
            return None
        try:
            row = (
                self.database.connection()
                .execute(
                    "SELECT record FROM sessions WHERE key = ? AND expires_at > ?",
                    (digest(sid), self._clock()),
                )
                .fetchone()
            )
        except sqlite3.Error as exc:
            raise self.database.unavailable(exc) from exc
        if row is None:
            return None
        try:
            return Session.from_record(json.loads(row[0]))
        except (KeyError, TypeError, ValueError):
            return None

    def update(self, cookie_value: str, session: Session) -> str | None:
        """Replace the record only if the session still exists (one ``UPDATE``), so a
        renewal racing a logout never writes the ended session back; None then. The
        value returned is signed with the newest key."""
        sid = self._ids.unsign(cookie_value)
        if sid is None:
            return None
        try:
            changed = (
                self.database.connection()
                .execute(
                    "UPDATE sessions SET record = ?, expires_at = ?"
                    " WHERE key = ? AND expires_at > ?",
                    (_json(session), session.expires_at, digest(sid), self._clock()),
                )
                .rowcount
            )
        except sqlite3.Error as exc:
            raise self.database.unavailable(exc) from exc
        self._wrote()
        return self._ids.sign(sid) if changed else None

    def revoke(self, cookie_value: str) -> None:
        # Signed with a key kept or not: a session no longer accepted is ended all the same.
        sid = self._ids.named(cookie_value)
        if sid is None:
            return
        self._execute("DELETE FROM sessions WHERE key = ?", (digest(sid),))

    def revoke_user(self, sub: str) -> int:
        """Delete every session of the user ``sub``; returns how many were live."""
        return self._execute(
            "DELETE FROM sessions WHERE user = ? AND expires_at > ?", (digest(sub), self._clock())
        )

    def sessions_of(self, sub: str) -> list[Session]:
        """The live sessions of the user ``sub``, oldest first (by the user index)."""
        rows = self._rows(
            "SELECT record FROM sessions WHERE user = ? AND expires_at > ?",
            (digest(sub), self._clock()),
        )
        return _sessions(record for (record,) in rows)

    def all_sessions(self) -> list[Session]:
        """Every live session, oldest first: a scan of the table, for operators."""
        rows = self._rows("SELECT record FROM sessions WHERE expires_at > ?", (self._clock(),))
        return _sessions(record for (record,) in rows)

    def revoke_where(self, sub: str, select: Callable[[Session], bool]) -> int:
        """Delete the live sessions of ``sub`` that ``select`` picks, in one transaction;
        returns how many went."""
        try:
            with self.database.transaction() as conn:
                rows = conn.execute(
                    "SELECT key, record FROM sessions WHERE user = ? AND expires_at > ?",
                    (digest(sub), self._clock()),
                ).fetchall()
                chosen = [(key,) for key, record in rows if _picked(record, select)]
                conn.executemany("DELETE FROM sessions WHERE key = ?", chosen)
        except sqlite3.Error as exc:
            raise self.database.unavailable(exc) from exc
        return len(chosen)

    def _rows(self, statement: str, args: tuple[object, ...]) -> list[tuple[str]]:
        try:
            return list(self.database.connection().execute(statement, args).fetchall())
        except sqlite3.Error as exc:
            raise self.database.unavailable(exc) from exc

    def acquire_refresh_lock(self, cookie_value: str, seconds: float) -> str | None:
        """Take the session's refresh lock for ``seconds``; return its token, or None
        when another process holds it (an expired lock is taken over)."""
        token = secrets.token_hex(16)
        now = self._clock()
        try:
            with self.database.transaction() as conn:
                key = self._lock_key(cookie_value)
                conn.execute("DELETE FROM locks WHERE key = ? AND expires_at <= ?", (key, now))
                taken = conn.execute(
                    "INSERT OR IGNORE INTO locks (key, token, expires_at) VALUES (?, ?, ?)",
                    (key, token, now + seconds),
                ).rowcount
        except sqlite3.Error as exc:
            raise self.database.unavailable(exc) from exc
        return token if taken else None

    def release_refresh_lock(self, cookie_value: str, token: str) -> None:
        """Give the lock back if ``token`` still holds it. Never raises: a lock not
        given back ends by itself after its few seconds."""
        with contextlib.suppress(sqlite3.Error):
            self.database.connection().execute(
                "DELETE FROM locks WHERE key = ? AND token = ?",
                (self._lock_key(cookie_value), token),
            )

    def _lock_key(self, cookie_value: str) -> str:
        """A session's lock, by its id: the same whichever key signed the cookie value
        (one signed with a previous key and its renewal signed with the newest)."""
        return digest(self._ids.unsign(cookie_value) or cookie_value)

    def _execute(self, statement: str, args: tuple[object, ...]) -> int:
        try:
            count = self.database.connection().execute(statement, args).rowcount
        except sqlite3.Error as exc:
            raise self.database.unavailable(exc) from exc
        return int(count)

    def _wrote(self) -> None:
        try:
            self.database.wrote()
        except sqlite3.Error as exc:
            raise self.database.unavailable(exc) from exc


def _json(session: Session) -> str:
    return json.dumps(session.to_record(), separators=(",", ":"))


def _session(record: str) -> Session | None:
    try:
        return Session.from_record(json.loads(record))
    except (KeyError, TypeError, ValueError):
        return None


def _sessions(records: Iterable[str]) -> list[Session]:
    """The well-formed sessions among ``records``, oldest first."""
    found = [s for s in map(_session, records) if s is not None]
    return sorted(found, key=oldest_first)


def _picked(record: str, select: Callable[[Session], bool]) -> bool:
    session = _session(record)
    return session is not None and select(session)


class SQLiteTokenStore:
    """A :class:`~pwless_gate.apptokens.TokenStore` in the same SQLite file.

    The ``app_tokens`` table holds the sha256 of each token (never the token),
    the sha256 of its owner's ``sub``, the record, its expiry and when it was
    last used. Expired tokens are swept with the other expired rows.
    """

    def __init__(self, database: SQLiteDatabase, *, clock: Callable[[], float] = time.time) -> None:
        self.database = database
        self._clock = clock

    def add_token(self, token: AppToken) -> None:
        record = json.dumps(token.to_record(), separators=(",", ":"))
        self._execute(
            "INSERT INTO app_tokens (key, user, record, expires_at) VALUES (?, ?, ?, ?)",
            (token.key, digest(token.sub), record, token.expires_at),
        )
        try:
            self.database.wrote()
        except sqlite3.Error as exc:
            raise self.database.unavailable(exc) from exc

    def find_token(self, key: str) -> AppToken | None:
        rows = self._rows(
            "SELECT key, record, used_at FROM app_tokens WHERE key = ? AND expires_at > ?",
            (key, self._clock()),
        )
        found = _tokens(rows)
        return found[0] if found else None

    def mark_token_used(self, key: str, at: float) -> bool | None:
        """One ``UPDATE`` says whether this is the first use (so one process audits it)."""
        if self._execute(
            "UPDATE app_tokens SET used_at = ? WHERE key = ? AND used_at IS NULL", (at, key)
        ):
            return True
        if self._execute("UPDATE app_tokens SET used_at = ? WHERE key = ?", (at, key)):
            return False
        return None

    def tokens_of(self, sub: str) -> list[AppToken]:
        return _tokens(
            self._rows(
                "SELECT key, record, used_at FROM app_tokens WHERE user = ? AND expires_at > ?",
                (digest(sub), self._clock()),
            )
        )

    def all_tokens(self) -> list[AppToken]:
        return _tokens(
            self._rows(
                "SELECT key, record, used_at FROM app_tokens WHERE expires_at > ?",
                (self._clock(),),
            )
        )

    def revoke_tokens(self, sub: str, select: Callable[[AppToken], bool]) -> int:
        """Delete the live tokens of ``sub`` that ``select`` picks, in one transaction."""
        try:
            with self.database.transaction() as conn:
                rows = conn.execute(
                    "SELECT key, record, used_at FROM app_tokens WHERE user = ? AND expires_at > ?",
                    (digest(sub), self._clock()),
                ).fetchall()
                chosen = [(t.key,) for t in _tokens(rows) if select(t)]
                conn.executemany("DELETE FROM app_tokens WHERE key = ?", chosen)
        except sqlite3.Error as exc:
            raise self.database.unavailable(exc) from exc
        return len(chosen)

    def _rows(self, statement: str, args: tuple[object, ...]) -> list[tuple[str, str, float]]:
        try:
            return list(self.database.connection().execute(statement, args).fetchall())
        except sqlite3.Error as exc:
            raise self.database.unavailable(exc) from exc

    def _execute(self, statement: str, args: tuple[object, ...]) -> int:
        try:
            return int(self.database.connection().execute(statement, args).rowcount)
        except sqlite3.Error as exc:
            raise self.database.unavailable(exc) from exc


def _tokens(rows: Iterable[tuple[str, str, float | None]]) -> list[AppToken]:
    """The well-formed tokens among ``rows`` (key, record, used_at), newest first."""
    found = []
    for key, record, used_at in rows:
        try:
            found.append(AppToken.from_record(key, json.loads(record), used_at or 0.0))
        except (KeyError, TypeError, ValueError):
            continue
    return sorted(found, key=newest_first)


class SQLiteFormStore:
    """A :class:`~pwless_gate.savedforms.FormStore` in the same SQLite file.

    ``saved_forms`` holds kept forms, one per browser, under a hash of its id;
    ``browser_users`` who last signed in on each browser. Expired rows are
    swept with the others.
    """

    def __init__(self, database: SQLiteDatabase, *, clock: Callable[[], float] = time.time) -> None:
        self.database = database
        self._clock = clock

    def put_form(self, key: str, record: str, expires_at: float) -> None:
        self._write(
            "INSERT OR REPLACE INTO saved_forms (key, record, expires_at) VALUES (?, ?, ?)",
            (key, record, expires_at),
        )

    def get_form(self, key: str) -> str | None:
        return self._one(
            "SELECT record FROM saved_forms WHERE key = ? AND expires_at > ?", (key, self._clock())
        )

    def take_form(self, key: str) -> str | None:
        """Read and delete in one transaction: of two requests, one gets the record."""
        try:
            with self.database.transaction() as conn:
                row = conn.execute(
                    "SELECT record FROM saved_forms WHERE key = ? AND expires_at > ?",
                    (key, self._clock()),
                ).fetchone()
                conn.execute("DELETE FROM saved_forms WHERE key = ?", (key,))
        except sqlite3.Error as exc:
            raise self.database.unavailable(exc) from exc
        return str(row[0]) if row else None

    def put_browser_user(self, key: str, user: str, expires_at: float) -> None:
        self._write(
            "INSERT OR REPLACE INTO browser_users (key, user, expires_at) VALUES (?, ?, ?)",
            (key, user, expires_at),
        )

    def get_browser_user(self, key: str) -> str | None:
        return self._one(
            "SELECT user FROM browser_users WHERE key = ? AND expires_at > ?", (key, self._clock())
        )

    def _one(self, statement: str, args: tuple[object, ...]) -> str | None:
        try:
            row = self.database.connection().execute(statement, args).fetchone()
        except sqlite3.Error as exc:
            raise self.database.unavailable(exc) from exc
        return str(row[0]) if row else None

    def _write(self, statement: str, args: tuple[object, ...]) -> None:
        try:
            self.database.connection().execute(statement, args)
            self.database.wrote()
        except sqlite3.Error as exc:
            raise self.database.unavailable(exc) from exc
