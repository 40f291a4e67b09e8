"""Rate limits (token buckets) and brute-force protection for the local tenant."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from .constants import BRUTE_FORCE_THRESHOLD, MAX_TRACKED_KEYS

# Tokens are floats; a refill that should land exactly on a whole token may
# land a hair below it.
_EPSILON = 1e-9


@dataclass(frozen=True)
class Quota:
    """The outcome of taking one request from a bucket.

    ``reset`` is the Unix second at which the bucket is full again (Auth0's
    limiter reports that); ``retry_after`` the seconds until one request is
    allowed, 0 when this one was.
    """

    allowed: bool
    limit: int
    remaining: int
    reset: int
    retry_after: int

    def headers(self) -> list[tuple[str, str]]:
        """Return the ``x-ratelimit-*`` headers (and ``Retry-After`` when refused)."""
        headers = [
            ("x-ratelimit-limit", str(self.limit)),
            ("x-ratelimit-remaining", str(self.remaining)),
            ("x-ratelimit-reset", str(self.reset)),
        ]
        if not self.allowed:
            headers.append(("Retry-After", str(self.retry_after)))
        return headers


class RateLimiter:
    """Token buckets of ``capacity`` requests refilled at ``refill`` per ``seconds``, by key."""

    def __init__(
        self, capacity: int, refill: int, seconds: float, clock: Callable[[], float]
    ) -> None:
        self.capacity = capacity
        self._refill = refill
        self._seconds = seconds
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def take(self, key: str) -> Quota:
        """Take one request for ``key`` and say whether it is allowed."""
        now = self._clock()
        tokens = self._level(key, now)
        allowed = tokens >= 1 - _EPSILON
        if allowed:
            tokens = max(0.0, tokens - 1)
        self._remember(key, tokens, now)
        return self._quota(allowed, tokens, now)

    def exhausted(self, retry_after: int) -> Quota:
        """Return the quota of an empty bucket that refills a token in ``retry_after`` seconds."""
        now = self._clock()
        full_in = retry_after + (self.capacity - 1) * self._seconds / self._refill
        return Quota(False, self.capacity, 0, math.ceil(now + full_in), retry_after)

    def _level(self, key: str, now: float) -> float:
        tokens, at = self._buckets.get(key, (float(self.capacity), now))
        gained = max(0.0, now - at) * self._refill / self._seconds
        return min(float(self.capacity), tokens + gained)

    def _remember(self, key: str, tokens: float, now: float) -> None:
        if len(self._buckets) >= MAX_TRACKED_KEYS and key not in self._buckets:
            self._buckets = {
                k: v for k, v in self._buckets.items() if self._level(k, now) < self.capacity
            }
        self._buckets[key] = (tokens, now)

    def _quota(self, allowed: bool, tokens: float, now: float) -> Quota:
        per_token = self._seconds / self._refill
        reset = math.ceil(now + (self.capacity - tokens) * per_token - _EPSILON)
        retry_after = 0 if allowed else max(1, math.ceil((1 - tokens) * per_token - _EPSILON))
        return Quota(allowed, self.capacity, math.floor(tokens + _EPSILON), reset, retry_after)


class BruteForceGuard:
    """Blocks one user from one IP after too many consecutive failed logins.

    A successful login from that IP resets the count. A block lasts for the
    life of the tenant (Auth0 lifts it only by an administrator or an unblock
    email, neither of which exists here).
    """

    def __init__(self, threshold: int = BRUTE_FORCE_THRESHOLD) -> None:
        self._threshold = threshold
        self._failures: dict[tuple[str, str], int] = {}

    def is_blocked(self, user: str, ip: str) -> bool:
        """Return True when ``user`` may no longer try from ``ip``."""
        return self._failures.get((user, ip), 0) >= self._threshold

    def failed(self, user: str, ip: str) -> None:
        """Count one failed login."""
        if len(self._failures) >= MAX_TRACKED_KEYS:
            self._failures = {k: n for k, n in self._failures.items() if n >= self._threshold}
        key = (user, ip)
        self._failures[key] = self._failures.get(key, 0) + 1

    def succeeded(self, user: str, ip: str) -> None:
        """Forget the failures of ``user`` from ``ip``."""
        self._failures.pop((user, ip), None)
