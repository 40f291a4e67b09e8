"""Local rate limits: how often codes may be sent and checked, before Auth0 is asked.

Auth0 has its own limits (50 code sends per hour per IP, three tries per
code); these come first, so a flood never spends the tenant's quota and a
guesser is stopped without a network call. Each limit is ``count/seconds``
over a sliding window (two fixed windows, the older one weighed by
how much of it still counts), kept in memory (per process) or in Redis (shared by every
worker and host).

This module counts; it does not decide which keys to count (the login views
do) or what to answer (a 429 page with ``Retry-After``).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from cachetools import TTLCache

from .config import Limit
from .errors import StoreUnavailable

_MAX_KEYS = 200_000


class Throttle(Protocol):
    """Counts hits per key; answers how long to wait, 0 when the hit is allowed."""

    def hit(self, name: str, key: str, limit: Limit) -> int: ...


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
    into = (now - start) / period
    if previous * (1 - into) + current + 1 <= limit.count:
        return 0
    room = limit.count - current - 1
    if room >= 0 and previous:
        ready = start + period * (1 - room / previous)
    else:
        # Not before the next window, where this window becomes "previous".
        ready = start + period * (2 - (limit.count - 1) / current if current else 1)
    return max(1, math.ceil(ready - now))


class MemoryThrottle:
    """Sliding-window counters in this process, bounded in size."""

    def __init__(self, *, clock: Callable[[], float] = time.time, max_period: int = 86400) -> None:
        self._clock = clock
        self._counts: TTLCache[str, int] = TTLCache(
            maxsize=_MAX_KEYS, ttl=2 * max_period, timer=clock
        )
        self._lock = threading.Lock()

    def hit(self, name: str, key: str, limit: Limit) -> int:
        if limit.off:
            return 0
        now = self._clock()
        window = int(now // limit.period)
        prefix = f"{name}:{key}:{limit.period}:"
        with self._lock:
            current = self._counts.get(f"{prefix}{window}", 0)
            previous = self._counts.get(f"{prefix}{window - 1}", 0)
            wait = _wait(limit, now, current, previous)
            if not wait:
                self._counts[f"{prefix}{window}"] = current + 1
        return wait


class RedisThrottle:
    """Sliding-window counters in Redis, shared by every worker and host.

    ``redis`` is a ``redis.Redis`` client. Errors of Redis propagate as
    :class:`~pwless_gate.errors.StoreUnavailable` (the gate then fails closed).
    """

    def __init__(
        self, redis: Any, *, namespace: str = "pwless_gate", clock: Callable[[], float] = time.time
    ) -> None:
        self._redis = redis
        self._namespace = namespace
        self._clock = clock

    def hit(self, name: str, key: str, limit: Limit) -> int:
        if limit.off:
            return 0
        now = self._clock()
        window = int(now // limit.period)
        prefix = f"{self._namespace}:throttle:{name}:{key}:{limit.period}:"
        try:
            pipe = self._redis.pipeline(transaction=True)
            pipe.incr(f"{prefix}{window}")
            pipe.expire(f"{prefix}{window}", 2 * limit.period + 1)
            pipe.get(f"{prefix}{window - 1}")
            current, _, previous = pipe.execute()
            wait = _wait(limit, now, int(current) - 1, int(previous or 0))
            if wait:  # refused hits do not count
                self._redis.decr(f"{prefix}{window}")
        except Exception as exc:  # redis-py raises many kinds; all mean "not now"
            raise StoreUnavailable(f"throttle counter unavailable: {type(exc).__name__}") from exc
        return wait
