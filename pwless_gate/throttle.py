"""Local rate limits: how often codes may be sent and checked, before Auth0 is asked.

Auth0 has its own limits (50 code sends per hour per IP, three tries per
code); these come first, so a flood never spends the tenant's quota and a
guesser is stopped without a network call. Each limit is ``count/seconds``
over a sliding window (two fixed windows, the older one weighed by
how much of it still counts), kept in memory (per process), in SQLite (shared by
every worker on the machine) or in Redis (shared by every worker and host).

The limits of one step are counted together, all or none
(:meth:`Throttle.hit_all`): a hit refused by one limit is counted by no
other, so a request turned away for one reason does not use up another
limit (an attacker's refused guesses do not eat into a person's ceiling).

Beside the counters, a throttle remembers one value per key for a while
(:meth:`Throttle.remember`): the code views keep each identifier's latest
start there, so wrong codes count against the latest code, as Auth0 counts
them.

This module counts; it does not decide which keys to count (the login views
do) or what to answer (a 429 page with ``Retry-After``).
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol

from .config import Limit
from .errors import StoreUnavailable
from .stores.redis import is_cluster, location
from .stores.sqlite import SQLiteDatabase, digest

log = logging.getLogger("pwless_gate.throttle")

#: Keys kept in memory per limit (name and period); see :class:`MemoryThrottle`.
MAX_KEYS_PER_LIMIT = 50_000


class Hit(NamedTuple):
    """One hit to count: the limit's ``name`` (its kind), the ``key`` counted, the limit."""

    name: str
    key: str
    limit: Limit


class Throttle(Protocol):
    """Counts hits per key; answers how long to wait, 0 when the hit is allowed."""

    def hit(self, name: str, key: str, limit: Limit) -> int:
        """Count one hit on one limit; the same as ``hit_all([Hit(name, key, limit)])``."""
        ...

    def hit_all(self, hits: Sequence[Hit]) -> int:
        """Count one hit on every limit, or on none.

        Returns 0 when each limit allows one more hit (all are then counted);
        otherwise the longest wait in seconds, and nothing is counted.
        """
        ...

    def first(self, name: str, key: str, period: int) -> bool:
        """Whether ``key`` is new under ``name``: not seen in the last ``period``
        seconds (up to two, as a sliding window of one hit counts). A new key is
        remembered; when in doubt (no room for it), it is new."""
        ...

    def remember(self, name: str, key: str, value: str, period: int) -> None:
        """Keep ``value`` for ``key`` under ``name`` for ``period`` seconds, in place
        of any earlier one. A new key that finds no room (memory, full) is not kept."""
        ...

    def recall(self, name: str, key: str) -> str | None:
        """The value kept for ``key`` under ``name``; None when none is (never kept,
        or its period has passed)."""
        ...


def _weight(limit: Limit, now: float) -> float:
    """How much of the previous window still overlaps the last ``period`` seconds."""
    return 1 - (now % limit.period) / limit.period


def _fits(limit: Limit, weight: float, current: int, previous: int) -> bool:
    # The Lua script of RedisThrottle says the same, in the same order of operations.
    return previous * weight + current + 1 <= limit.count


def _wait(limit: Limit, now: float, current: int, previous: int) -> int:
    """Seconds until one more hit fits (0: it fits now) under a sliding window.

    ``current`` and ``previous`` are the hits already counted in this window
    and the one before. The previous window is weighed by how much of it
    still overlaps the last ``period`` seconds, so a burst at a window's edge
    cannot double the limit as plain fixed windows allow. Refused hits are
    not counted, so waiting the answer is always enough.
    """
    period = limit.period
    start = now - now % period
    if _fits(limit, _weight(limit, now), current, previous):
        return 0
    room = limit.count - current - 1
    if room >= 0 and previous:
        ready = start + period * (1 - room / previous)
    else:
        # Not before the next window, where this window becomes "previous".
        ready = start + period * (2 - (limit.count - 1) / current if current else 1)
    return max(1, math.ceil(ready - now))


class _Counters:
    """The counters of one limit (one name and period), at most ``max_keys`` of them.

    key → ``[window, current, previous]``: the last window counted, its hits,
    and the hits of the window before it. Counting moves a key to the end, so
    the keys stay in the order their counters expire (two periods after the
    start of their last window), oldest first.
    """

    def __init__(self, name: str, period: int, max_keys: int) -> None:
        self.name = name
        self.period = period
        self.max_keys = max_keys
        self.full = False
        self._entries: OrderedDict[str, list[int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def counts(self, key: str, window: int) -> tuple[int, int]:
        """The hits counted in ``window`` and in the one before, for ``key``."""
        entry = self._entries.get(key)
        if entry is None:
            return 0, 0
        last, current, previous = entry
        if last == window:
            return current, previous
        return (0, current) if last == window - 1 else (0, 0)

    def room(self, key: str, now: float) -> int:
        """Seconds until ``key`` can be counted for want of room; 0 when it can now."""
        if key in self._entries:
            return 0
        window = int(now // self.period)
        while self._entries:
            oldest = next(iter(self._entries.values()))
            if oldest[0] >= window - 1:
                break
            self._entries.popitem(last=False)
        if len(self._entries) < self.max_keys:
            self.full = False
            return 0
        if not self.full:
            self.full = True
            log.warning("throttle %s holds %d keys: new keys wait", self.name, self.max_keys)
        oldest = next(iter(self._entries.values()))
        return max(1, math.ceil((oldest[0] + 2) * self.period - now))

    def count(self, key: str, window: int) -> None:
        current, previous = self.counts(key, window)
        self._entries[key] = [window, current + 1, previous]
        self._entries.move_to_end(key)


class _Windows:
    """What both throttles share: one hit is a batch of one, and ``off`` limits count nothing."""

    _clock: Callable[[], float]

    def hit(self, name: str, key: str, limit: Limit) -> int:
        return self.hit_all([Hit(name, key, limit)])

    def hit_all(self, hits: Sequence[Hit]) -> int:
        live = [h for h in hits if not h.limit.off]
        return self._hit_live(live, self._clock()) if live else 0

    def first(self, name: str, key: str, period: int) -> bool:
        return self.hit(name, key, Limit(1, period)) == 0

    def _hit_live(self, hits: Sequence[Hit], now: float) -> int:
        raise NotImplementedError


class MemoryThrottle(_Windows):
    """Sliding-window counters in this process, bounded in size per limit.

    Each limit (name and period) keeps its own counters, at most ``max_keys``
    of them, so a flood of one kind (sends to random addresses) cannot push
    out another kind's counters (the guesses at one person's code). A
    counter is forgotten only once its windows have passed, never to make
    room: when a limit holds ``max_keys`` live counters, a *new* key waits
    (until the oldest counter expires) instead of evicting one. Evicting
    would let whoever floods a limit reset counters, their own among them;
    refusing only delays keys not yet seen, and fails closed as the gate
    does when Redis is away. The per-IP send limit bounds how many new keys
    one IP can make; deployments beyond ``max_keys`` people signing in per
    two periods want :class:`RedisThrottle`, whose keys expire on their own.
    """

    def __init__(
        self, *, clock: Callable[[], float] = time.time, max_keys: int = MAX_KEYS_PER_LIMIT
    ) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._limits: dict[tuple[str, int], _Counters] = {}
        #: name → key → (value, expiry), each in the order it expires (one period per name).
        self._kept: dict[str, OrderedDict[str, tuple[str, float]]] = {}
        self._kept_full: set[str] = set()
        self._lock = threading.Lock()

    def _hit_live(self, hits: Sequence[Hit], now: float) -> int:
        with self._lock:
            longest = 0
            for name, key, limit in hits:
                counters = self._counters(name, limit)
                current, previous = counters.counts(key, int(now // limit.period))
                wait = max(_wait(limit, now, current, previous), counters.room(key, now))
                longest = max(longest, wait)
            if not longest:
                for name, key, limit in hits:
                    self._counters(name, limit).count(key, int(now // limit.period))
        return longest

    def first(self, name: str, key: str, period: int) -> bool:
        # As a hit on a limit of one, but a key that finds no room is new (and not kept):
        # a full table must not make every key look seen.
        limit = Limit(1, period)
        now = self._clock()
        window = int(now // period)
        with self._lock:
            counters = self._counters(name, limit)
            if _wait(limit, now, *counters.counts(key, window)):
                return False
            if not counters.room(key, now):
                counters.count(key, window)
        return True

    def remember(self, name: str, key: str, value: str, period: int) -> None:
        # As counters are, a kept value is dropped only once its period has passed, never
        # to make room: a flood of new keys cannot push out a live one.
        now = self._clock()
        with self._lock:
            kept = self._kept.setdefault(name, OrderedDict())
            while kept and next(iter(kept.values()))[1] <= now:
                kept.popitem(last=False)
            if key not in kept and len(kept) >= self._max_keys:
                if name not in self._kept_full:
                    self._kept_full.add(name)
                    log.warning("throttle %s holds %d keys: new keys are not kept", name, len(kept))
                return
            self._kept_full.discard(name)
            kept[key] = (value, now + period)
            kept.move_to_end(key)

    def recall(self, name: str, key: str) -> str | None:
        with self._lock:
            kept = self._kept.get(name)
            found = None if kept is None else kept.get(key)
        if found is None or found[1] <= self._clock():
            return None
        return found[0]

    def _counters(self, name: str, limit: Limit) -> _Counters:
        found = self._limits.get((name, limit.period))
        if found is None:
            found = self._limits[name, limit.period] = _Counters(name, limit.period, self._max_keys)
        return found


#: Counts one hit on every limit, or on none. KEYS: per hit, the counter of
#: its current window, then of the previous one. ARGV: per hit, the limit's
#: count, the weight of the previous window, and the TTL of a new counter.
#: Returns 1 (counted) or 0, then the counts read, current and previous per hit.
_HIT_ALL = """
local counts = {1}
for i = 1, #KEYS / 2 do
  local current = tonumber(redis.call('GET', KEYS[2 * i - 1]) or '0')
  local previous = tonumber(redis.call('GET', KEYS[2 * i]) or '0')
  counts[2 * i] = current
  counts[2 * i + 1] = previous
  if previous * tonumber(ARGV[3 * i - 1]) + current + 1 > tonumber(ARGV[3 * i - 2]) then
    counts[1] = 0
  end
end
if counts[1] == 1 then
  for i = 1, #KEYS / 2 do
    redis.call('INCR', KEYS[2 * i - 1])
    redis.call('EXPIRE', KEYS[2 * i - 1], ARGV[3 * i])
  end
end
return counts
"""


class RedisThrottle(_Windows):
    """Sliding-window counters in Redis, shared by every worker and host.

    ``redis`` is a ``redis.Redis`` client. The limits of one step are checked
    and counted by one Lua script, so no other worker sees a refused hit even
    for a moment. Keys are per limit (``<namespace>:throttle:<name>:…``) and
    expire two periods after their window starts, so memory follows traffic.
    Errors of Redis propagate as :class:`~pwless_gate.errors.StoreUnavailable`
    naming the server (the gate then fails closed).

    In a Redis Cluster the keys of one script must be in one hash slot, and
    no smaller group than all of them will do: the limits of one step share
    counters with other steps (one IP's send counter with every address it
    sends to, one address's total with every IP), so any split by step or by
    key would count one counter under two names. The keys are therefore
    ``{<namespace>:throttle}:…``: one slot, on one master, for every counter
    of a gate. Only sign-in steps touch them (never an authenticated request),
    and each expires after two periods, so that one slot stays small and
    the counting stays exact. Outside a cluster the names have no braces,
    as before.
    """

    def __init__(
        self, redis: Any, *, namespace: str = "pwless_gate", clock: Callable[[], float] = time.time
    ) -> None:
        self._redis = redis
        self._clock = clock
        self._script: Any = None
        self._location = location(redis)
        # A cluster runs a script only on keys of one slot: the hash tag puts every
        # counter of this namespace in one slot (see the class docstring).
        tag = "{%s:throttle}" if is_cluster(redis) else "%s:throttle"
        self._prefix = tag % namespace

    def _hit_live(self, hits: Sequence[Hit], now: float) -> int:
        keys: list[str] = []
        args: list[str | int] = []
        for name, key, limit in hits:
            window = int(now // limit.period)
            prefix = f"{self._prefix}:{name}:{key}:{limit.period}:"
            keys += [f"{prefix}{window}", f"{prefix}{window - 1}"]
            args += [limit.count, repr(_weight(limit, now)), 2 * limit.period + 1]
        try:
            if self._script is None:  # registering a script asks a cluster for its slots
                self._script = self._redis.register_script(_HIT_ALL)
            counted, *counts = self._script(keys=keys, args=args)
        except Exception as exc:  # redis-py raises many kinds; all mean "not now"
            raise StoreUnavailable(f"{self._location}: {type(exc).__name__}") from exc
        if counted:
            return 0
        waits = [
            _wait(limit, now, int(counts[2 * i]), int(counts[2 * i + 1]))
            for i, (_, _, limit) in enumerate(hits)
        ]
        return max(1, *waits)

    def remember(self, name: str, key: str, value: str, period: int) -> None:
        # Kept with its expiry on this throttle's clock, as counters are counted by it;
        # Redis's own TTL only clears it away.
        expires_at = self._clock() + period
        try:
            self._redis.set(f"{self._prefix}:{name}:{key}", f"{expires_at!r} {value}", ex=period)
        except Exception as exc:
            raise StoreUnavailable(f"{self._location}: {type(exc).__name__}") from exc

    def recall(self, name: str, key: str) -> str | None:
        try:
            raw = self._redis.get(f"{self._prefix}:{name}:{key}")
        except Exception as exc:
            raise StoreUnavailable(f"{self._location}: {type(exc).__name__}") from exc
        if raw is None:
            return None
        expires_at, _, value = (raw.decode() if isinstance(raw, bytes) else str(raw)).partition(" ")
        try:
            live = float(expires_at) > self._clock()
        except ValueError:  # not written by this class: nothing kept
            return None
        return value if live else None


class SQLiteThrottle(_Windows):
    """Sliding-window counters in the SQLite file, shared by every worker on the machine.

    ``database`` is the :class:`~pwless_gate.stores.sqlite.SQLiteDatabase` the
    sessions use. The limits of one step are read and counted in one
    ``BEGIN IMMEDIATE`` transaction, so no other worker sees a refused hit.
    A counter row is keyed by the sha256 of the limit and the key (no
    address on disk) and its window; it expires two periods after its window
    starts and is swept with the other expired rows. Errors of SQLite
    propagate as :class:`~pwless_gate.errors.StoreUnavailable` naming the file.
    """

    def __init__(self, database: SQLiteDatabase, *, clock: Callable[[], float] = time.time) -> None:
        self._database = database
        self._clock = clock

    def _hit_live(self, hits: Sequence[Hit], now: float) -> int:
        rows = [
            (digest(f"{name}\0{key}\0{limit.period}"), int(now // limit.period), limit)
            for name, key, limit in hits
        ]
        try:
            with self._database.transaction() as conn:
                waits = []
                for row_key, window, limit in rows:
                    counts = dict(
                        conn.execute(
                            "SELECT window, hits FROM throttle"
                            " WHERE key = ? AND window IN (?, ?) AND expires_at > ?",
                            (row_key, window, window - 1, now),
                        ).fetchall()
                    )
                    waits.append(
                        _wait(limit, now, counts.get(window, 0), counts.get(window - 1, 0))
                    )
                if not any(waits):
                    for row_key, window, limit in rows:
                        conn.execute(
                            "INSERT INTO throttle (key, window, hits, expires_at)"
                            " VALUES (?, ?, 1, ?) ON CONFLICT (key, window)"
                            " DO UPDATE SET hits = hits + 1",
                            (row_key, window, (window + 2) * limit.period),
                        )
            if not any(waits):
                self._database.wrote()
        except sqlite3.Error as exc:
            raise self._database.unavailable(exc) from exc
        return max(waits)

    def remember(self, name: str, key: str, value: str, period: int) -> None:
        try:
            self._database.connection().execute(
                "INSERT INTO kept (key, value, expires_at) VALUES (?, ?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value,"
                " expires_at = excluded.expires_at",
                (digest(f"{name}\0{key}"), value, self._clock() + period),
            )
            self._database.wrote()
        except sqlite3.Error as exc:
            raise self._database.unavailable(exc) from exc

    def recall(self, name: str, key: str) -> str | None:
        try:
            row = (
                self._database.connection()
                .execute(
                    "SELECT value FROM kept WHERE key = ? AND expires_at > ?",
                    (digest(f"{name}\0{key}"), self._clock()),
                )
                .fetchone()
            )
        except sqlite3.Error as exc:
            raise self._database.unavailable(exc) from exc
        return None if row is None else str(row[0])
