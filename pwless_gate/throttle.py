"""Local rate limits: how often codes may be sent and checked, before Auth0 is asked.

Auth0 has its own limits (50 code sends per hour per IP, three tries per
code); these come first, so a flood never spends the tenant's quota and a
guesser is stopped without a network call. Each limit is ``count/seconds``
over fixed windows, kept in memory (per process) or in Redis (shared by every
worker and host).

This module counts; it does not decide which keys to count (the login views
do) or what to answer (a 429 page with ``Retry-After``).
"""

from __future__ import annotations

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


class MemoryThrottle:
    """Fixed-window counters in this process, bounded in size."""

    def __init__(self, *, clock: Callable[[], float] = time.time, max_period: int = 86400) -> None:
        self._clock = clock
        self._counts: TTLCache[str, int] = TTLCache(maxsize=_MAX_KEYS, ttl=max_period, timer=clock)
        self._lock = threading.Lock()

    def hit(self, name: str, key: str, limit: Limit) -> int:
        if limit.off:
            return 0
        now = self._clock()
        window = int(now // limit.period)
        slot = f"{name}:{key}:{limit.period}:{window}"
        with self._lock:
            count = self._counts.get(slot, 0) + 1
            self._counts[slot] = count
        if count > limit.count:
            return max(1, int((window + 1) * limit.period - now))
        return 0


class RedisThrottle:
    """Fixed-window counters in Redis, shared by every worker and host.

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
        slot = f"{self._namespace}:throttle:{name}:{key}:{limit.period}:{window}"
        try:
            pipe = self._redis.pipeline(transaction=True)
            pipe.incr(slot)
            pipe.expire(slot, limit.period + 1)
            count, _ = pipe.execute()
        except Exception as exc:  # redis-py raises many kinds; all mean "not now"
            raise StoreUnavailable(f"throttle counter unavailable: {type(exc).__name__}") from exc
        if int(count) > limit.count:
            return max(1, int((window + 1) * limit.period - now))
        return 0
