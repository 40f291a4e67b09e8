"""Rate limits (token buckets, one per endpoint family), brute-force protection and
suspicious-IP throttling."""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass

from .constants import (
    BRUTE_FORCE_BLOCK_SECONDS,
    BRUTE_FORCE_THRESHOLD,
    GLOBAL_BURST,
    GLOBAL_REFILL,
    GLOBAL_REFILL_SECONDS,
    JWKS_BURST,
    JWKS_REFILL,
    JWKS_REFILL_SECONDS,
    MAX_TRACKED_KEYS,
    OAUTH_BURST,
    OAUTH_REFILL,
    OAUTH_REFILL_SECONDS,
    START_BURST,
    START_REFILL,
    START_REFILL_SECONDS,
    SUSPICIOUS_LOGIN_BURST,
    SUSPICIOUS_LOGIN_REFILL_SECONDS,
    SUSPICIOUS_SIGNUP_BURST,
    SUSPICIOUS_SIGNUP_REFILL_SECONDS,
    USERINFO_BURST,
    USERINFO_REFILL,
    USERINFO_REFILL_SECONDS,
)

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

    def has_room(self, key: str) -> bool:
        """Return True when ``key`` could take one request now; takes nothing."""
        return self._level(key, self._clock()) >= 1 - _EPSILON

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


class Family(enum.Enum):
    """An endpoint family with a rate-limit bucket of its own (see ``constants.py``)."""

    START = "/passwordless/start"
    OAUTH = "/oauth/token"
    USERINFO = "/userinfo"
    JWKS = "/.well-known/jwks.json"
    #: Every other path Auth0 answers, under its global limit.
    GLOBAL = "*"


_BUCKETS = {
    Family.START: (START_BURST, START_REFILL, START_REFILL_SECONDS),
    Family.OAUTH: (OAUTH_BURST, OAUTH_REFILL, OAUTH_REFILL_SECONDS),
    Family.USERINFO: (USERINFO_BURST, USERINFO_REFILL, USERINFO_REFILL_SECONDS),
    Family.JWKS: (JWKS_BURST, JWKS_REFILL, JWKS_REFILL_SECONDS),
    Family.GLOBAL: (GLOBAL_BURST, GLOBAL_REFILL, GLOBAL_REFILL_SECONDS),
}


class RateLimits:
    """One :class:`RateLimiter` per endpoint family."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._limiters = {
            family: RateLimiter(burst, refill, seconds, clock)
            for family, (burst, refill, seconds) in _BUCKETS.items()
        }

    def __getitem__(self, family: Family) -> RateLimiter:
        return self._limiters[family]


class BruteForceGuard:
    """Blocks one user from one IP after too many consecutive failed logins.

    A successful login from that IP resets the count. A block lasts
    ``block_seconds`` from the last failed attempt (Auth0 also lifts it by an
    administrator or the unblock email, neither of which exists here).
    """

    def __init__(
        self,
        clock: Callable[[], float],
        threshold: int = BRUTE_FORCE_THRESHOLD,
        block_seconds: float = BRUTE_FORCE_BLOCK_SECONDS,
    ) -> None:
        self._clock = clock
        self._threshold = threshold
        self._block_seconds = block_seconds
        self._failures: dict[tuple[str, str], tuple[int, float]] = {}  # -> (count, last at)

    def is_blocked(self, user: str, ip: str) -> bool:
        """Return True when ``user`` may no longer try from ``ip``."""
        count, last = self._failures.get((user, ip), (0, 0.0))
        if count < self._threshold:
            return False
        if self._clock() - last >= self._block_seconds:
            del self._failures[(user, ip)]
            return False
        return True

    def failed(self, user: str, ip: str) -> None:
        """Count one failed login."""
        if len(self._failures) >= MAX_TRACKED_KEYS:
            self._failures = {k: v for k, v in self._failures.items() if v[0] >= self._threshold}
        key = (user, ip)
        self._failures[key] = (self._failures.get(key, (0, 0.0))[0] + 1, self._clock())

    def succeeded(self, user: str, ip: str) -> None:
        """Forget the failures of ``user`` from ``ip``."""
        self._failures.pop((user, ip), None)


class SuspiciousIps:
    """Auth0's suspicious-IP throttling: failed logins and signups counted per IP.

    Each kind fills its own bucket (see ``constants.py``); while either is
    empty, every login from that IP is refused. Logins that succeed without
    creating a user cost nothing.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self._failed_logins = RateLimiter(
            SUSPICIOUS_LOGIN_BURST, 1, SUSPICIOUS_LOGIN_REFILL_SECONDS, clock
        )
        self._signups = RateLimiter(
            SUSPICIOUS_SIGNUP_BURST, 1, SUSPICIOUS_SIGNUP_REFILL_SECONDS, clock
        )

    def is_throttled(self, ip: str) -> bool:
        """Return True when logins from ``ip`` are refused for now."""
        return not (self._failed_logins.has_room(ip) and self._signups.has_room(ip))

    def failed_login(self, ip: str) -> None:
        """Count one failed login from ``ip``."""
        self._failed_logins.take(ip)

    def signed_up(self, ip: str) -> None:
        """Count one user created by a login from ``ip``."""
        self._signups.take(ip)
