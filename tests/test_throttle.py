"""The sliding-window throttle, in memory (SQLite and Redis share the same arithmetic);
counting several limits all or none, and bounded memory per limit, in memory, in SQLite
and in Redis."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pwless_gate.config import Limit
from pwless_gate.stores.redis import connect
from pwless_gate.stores.sqlite import SQLiteDatabase
from pwless_gate.throttle import (
    Hit,
    MemoryThrottle,
    RedisThrottle,
    SQLiteThrottle,
    Throttle,
    _wait,
)

from .helpers import FakeClock
from .procs import redis_url_for

MakeThrottle = Callable[[FakeClock], Throttle]
_namespaces = itertools.count()


def test_limit_within_a_window(clock: FakeClock) -> None:
    clock.now = 1_000_000.0  # the start of a 100 s window
    throttle = MemoryThrottle(clock=clock)
    limit = Limit.parse("3/100")
    assert [throttle.hit("t", "k", limit) for _ in range(3)] == [0, 0, 0]
    wait = throttle.hit("t", "k", limit)
    # Three hits at a window's start count as spread over it: the next fits
    # once a third of the next window has passed.
    assert wait == 134
    assert throttle.hit("t", "other", limit) == 0
    clock.advance(133)
    assert throttle.hit("t", "k", limit) > 0
    clock.advance(1)
    assert throttle.hit("t", "k", limit) == 0


def test_a_burst_at_a_window_edge_cannot_double_the_limit(clock: FakeClock) -> None:
    clock.now = 1_000_000.0 + 95  # five seconds before the window ends
    throttle = MemoryThrottle(clock=clock)
    limit = Limit.parse("3/100")
    assert [throttle.hit("t", "k", limit) for _ in range(3)] == [0, 0, 0]
    clock.advance(10)  # five seconds into the next window
    assert throttle.hit("t", "k", limit) > 0  # fixed windows would allow three more here
    clock.advance(100)  # the burst has slid out
    assert throttle.hit("t", "k", limit) == 0


def test_waiting_the_announced_time_is_enough(clock: FakeClock) -> None:
    clock.now = 1_000_000.0 + 50
    throttle = MemoryThrottle(clock=clock)
    limit = Limit.parse("5/100")
    for _ in range(5):
        throttle.hit("t", "k", limit)
    wait = throttle.hit("t", "k", limit)
    assert wait > 0
    clock.advance(wait)
    assert throttle.hit("t", "k", limit) == 0


def test_off() -> None:
    throttle = MemoryThrottle()
    limit = Limit.parse("off")
    assert all(throttle.hit("t", "k", limit) == 0 for _ in range(1000))


@settings(max_examples=200, deadline=None)
@given(
    count=st.integers(1, 10),
    period=st.integers(1, 1000),
    gaps=st.lists(st.floats(0, 500, allow_nan=False), min_size=1, max_size=40),
)
def test_the_announced_wait_is_always_enough_and_the_limit_holds(
    count: int, period: int, gaps: list[float]
) -> None:
    clock = FakeClock()
    throttle = MemoryThrottle(clock=clock)
    limit = Limit(count, period)
    allowed_at: list[float] = []
    for gap in gaps:
        clock.advance(gap)
        wait = throttle.hit("t", "k", limit)
        if wait:
            clock.advance(wait)
            assert throttle.hit("t", "k", limit) == 0
        allowed_at.append(clock())
        # Never more than twice the limit in any period (the sliding estimate's bound).
        recent = [t for t in allowed_at if t > clock() - period]
        assert len(recent) <= 2 * count


@pytest.fixture(params=["memory", "sqlite", "redis", "sentinel", "cluster"])
def make_throttle(request: pytest.FixtureRequest, tmp_path: Path) -> MakeThrottle:
    """A throttle on a given clock: in this process, in a SQLite file of its own, or in
    a real redis-server (alone, behind sentinels, or in a cluster of three masters)."""
    if request.param == "memory":
        return lambda clock: MemoryThrottle(clock=clock)
    if request.param == "sqlite":
        files = (tmp_path / f"throttle-{n}.sqlite3" for n in itertools.count())

        def sqlite(clock: FakeClock) -> Throttle:
            return SQLiteThrottle(SQLiteDatabase(str(next(files)), clock=clock), clock=clock)

        return sqlite
    request.applymarker(pytest.mark.slow)
    redis = connect(redis_url_for(request, request.param))
    # A namespace each, so throttles made in one test (or example) share nothing.
    return lambda clock: RedisThrottle(redis, namespace=f"t{next(_namespaces)}", clock=clock)


def test_a_hit_refused_by_one_limit_counts_against_none(
    make_throttle: MakeThrottle, clock: FakeClock
) -> None:
    clock.now = 1_000_000.0  # the start of a 100 s window
    throttle = make_throttle(clock)
    pair, total = Limit.parse("1/100"), Limit.parse("5/100")
    guess = [Hit("verify-id", "10.0.0.1|bob", pair), Hit("verify-id-total", "bob", total)]
    assert throttle.hit_all(guess) == 0
    # Refused by the pair limit, again and again: the total must not move.
    assert all(throttle.hit_all(guess) > 0 for _ in range(10))
    others = [throttle.hit("verify-id-total", "bob", total) for _ in range(5)]
    assert others[:4] == [0, 0, 0, 0]
    assert others[4] > 0
    # And the other way round: refused by the total, the pair limit does not move.
    fresh = [Hit("verify-id", "10.0.0.2|bob", pair), Hit("verify-id-total", "bob", total)]
    assert throttle.hit_all(fresh) > 0
    assert throttle.hit("verify-id", "10.0.0.2|bob", pair) == 0


def test_the_answer_is_the_longest_wait(make_throttle: MakeThrottle, clock: FakeClock) -> None:
    clock.now = 1_000_000.0
    throttle = make_throttle(clock)
    short, long = Limit.parse("1/10"), Limit.parse("1/1000")
    hits = [Hit("short", "k", short), Hit("long", "k", long)]
    assert throttle.hit_all(hits) == 0
    assert throttle.hit_all(hits) == throttle.hit("long", "k", long) > 10


def test_off_limits_are_not_counted(make_throttle: MakeThrottle, clock: FakeClock) -> None:
    throttle = make_throttle(clock)
    limit = Limit.parse("2/100")
    hits = [Hit("off", "k", Limit.parse("off")), Hit("on", "k", limit)]
    assert [throttle.hit_all(hits) for _ in range(2)] == [0, 0]
    assert throttle.hit_all(hits) > 0
    assert throttle.hit_all([]) == 0


def test_a_flood_of_new_keys_leaves_live_counters_alone(
    make_throttle: MakeThrottle, clock: FakeClock
) -> None:
    clock.now = 1_000_000.0
    throttle = make_throttle(clock)
    if isinstance(throttle, MemoryThrottle):
        throttle = MemoryThrottle(clock=clock, max_keys=20)
    limit = Limit.parse("2/900")
    # Someone guessing at alice's code has used up her limit; the flooder, theirs.
    assert [throttle.hit("verify-id", "alice", limit) for _ in range(2)] == [0, 0]
    assert [throttle.hit("send-id", "flooder", limit) for _ in range(2)] == [0, 0]
    for i in range(300):  # sends to random addresses, each a new key
        throttle.hit("send-id", f"10.0.0.9|random{i}@example.com", limit)
    assert throttle.hit("verify-id", "alice", limit) > 0  # still counted, not reset
    assert throttle.hit("send-id", "flooder", limit) > 0
    assert throttle.hit("verify-id", "carol", limit) == 0  # another limit has its own room


def test_a_full_limit_makes_new_keys_wait_rather_than_evict(clock: FakeClock) -> None:
    clock.now = 1_000_000.0 + 50  # halfway through a 100 s window
    throttle = MemoryThrottle(clock=clock, max_keys=3)
    limit = Limit.parse("5/100")
    assert [throttle.hit("send-id", f"k{i}", limit) for i in range(3)] == [0, 0, 0]
    wait = throttle.hit("send-id", "new", limit)
    assert wait == 150  # until k0's windows have passed: the end of the next window
    assert [throttle.hit("send-id", f"k{i}", limit) for i in range(3)] == [0, 0, 0]
    assert throttle.hit("verify-id", "new", limit) == 0
    clock.advance(wait - 1)
    assert throttle.hit("send-id", "new", limit) > 0
    clock.advance(1)
    assert throttle.hit("send-id", "new", limit) == 0  # the expired counters made room
    assert [throttle.hit("send-id", f"m{i}", limit) for i in range(2)] == [0, 0]
    # Full again: a hit refused for want of room counts against none of the step's limits.
    full = [Hit("send-id", "newer", limit), Hit("send-ip", "10.0.0.1", Limit.parse("1/100"))]
    assert throttle.hit_all(full) > 0
    assert throttle.hit("send-ip", "10.0.0.1", Limit.parse("1/100")) == 0


def test_first_says_whether_a_key_is_new_in_its_window(
    make_throttle: MakeThrottle, clock: FakeClock
) -> None:
    clock.now = 1_000_000.0  # the start of a 100 s window
    throttle = make_throttle(clock)
    assert throttle.first("seen", "10.0.0.1 a", 100) is True
    assert [throttle.first("seen", "10.0.0.1 a", 100) for _ in range(3)] == [False] * 3
    assert throttle.first("seen", "10.0.0.1 b", 100) is True
    assert throttle.first("other", "10.0.0.1 a", 100) is True  # another name, its own keys
    clock.advance(99)
    assert throttle.first("seen", "10.0.0.1 a", 100) is False
    clock.advance(101)  # both windows passed
    assert throttle.first("seen", "10.0.0.1 a", 100) is True


def test_first_takes_a_key_for_new_when_the_table_is_full(clock: FakeClock) -> None:
    """A full table must not make every key look seen (a repeat is not counted, so that
    would stop counting): a key without room is new, and is not kept."""
    clock.now = 1_000_000.0
    throttle = MemoryThrottle(clock=clock, max_keys=2)
    assert [throttle.first("seen", k, 100) for k in ("a", "b")] == [True, True]
    assert [throttle.first("seen", "c", 100) for _ in range(3)] == [True] * 3
    assert throttle.first("seen", "a", 100) is False


def test_remember_keeps_the_latest_value_of_a_key_for_its_period(
    make_throttle: MakeThrottle, clock: FakeClock
) -> None:
    clock.now = 1_000_000.0
    throttle = make_throttle(clock)
    assert throttle.recall("latest-start", "ada@example.com") is None
    throttle.remember("latest-start", "ada@example.com", "tx-1", 900)
    clock.advance(100)
    throttle.remember("latest-start", "ada@example.com", "tx-2", 900)  # replaces tx-1
    throttle.remember("latest-start", "eve@example.com", "tx-3", 900)
    assert throttle.recall("latest-start", "ada@example.com") == "tx-2"
    assert throttle.recall("latest-start", "eve@example.com") == "tx-3"
    assert throttle.recall("other", "ada@example.com") is None  # another name, its own keys
    clock.advance(899)  # the period counts from the latest value
    assert throttle.recall("latest-start", "ada@example.com") == "tx-2"
    assert throttle.recall("latest-start", "eve@example.com") == "tx-3"
    clock.advance(1)
    assert throttle.recall("latest-start", "ada@example.com") is None
    assert throttle.recall("latest-start", "eve@example.com") is None


def test_a_full_memory_throttle_keeps_live_values_and_no_new_key(clock: FakeClock) -> None:
    """As counters: a flood of new keys cannot push out a live value (a person's latest
    start); a new key finds no room until the oldest value's period has passed."""
    clock.now = 1_000_000.0
    throttle = MemoryThrottle(clock=clock, max_keys=2)
    throttle.remember("latest-start", "ada", "tx-1", 100)
    clock.advance(10)
    throttle.remember("latest-start", "bob", "tx-2", 100)
    for i in range(50):
        throttle.remember("latest-start", f"flood{i}", "tx", 100)
    assert throttle.recall("latest-start", "flood0") is None
    throttle.remember("latest-start", "bob", "tx-3", 100)  # a kept key is replaced in place
    assert throttle.recall("latest-start", "ada") == "tx-1"
    assert throttle.recall("latest-start", "bob") == "tx-3"
    clock.advance(91)  # ada's period has passed: room for one
    throttle.remember("latest-start", "carol", "tx-4", 100)
    assert throttle.recall("latest-start", "carol") == "tx-4"
    assert throttle.recall("latest-start", "ada") is None
    assert throttle.recall("latest-start", "bob") == "tx-3"


@pytest.mark.slow
def test_redis_counters_are_kept_per_limit_and_expire(any_redis_url: str, clock: FakeClock) -> None:
    redis = connect(any_redis_url)
    throttle = RedisThrottle(redis, namespace="ns", clock=clock)
    for i in range(50):
        step = [
            Hit("send-id", f"10.0.0.1|u{i}", Limit.parse("5/900")),
            Hit("send-id-total", f"u{i}", Limit.parse("9/3600")),
        ]
        assert throttle.hit_all(step) == 0
    keys = [k.decode() for k in redis.scan_iter("*ns:throttle*")]  # {ns:throttle} in a cluster
    assert len(keys) == 100
    assert {k.split(":")[2] for k in keys} == {"send-id", "send-id-total"}
    for key in keys:
        period = 900 if ":send-id:" in key else 3600
        assert 0 < redis.ttl(key) <= 2 * period + 1


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    counts=st.tuples(st.integers(1, 5), st.integers(1, 8)),
    periods=st.tuples(st.integers(1, 300), st.integers(1, 300)),
    steps=st.lists(
        st.tuples(st.floats(0, 200, allow_nan=False), st.sampled_from(["both", "a", "b"])),
        min_size=1,
        max_size=30,
    ),
)
def test_hit_all_answers_as_the_limits_fed_only_allowed_hits(
    make_throttle: MakeThrottle,
    counts: tuple[int, int],
    periods: tuple[int, int],
    steps: list[tuple[float, str]],
) -> None:
    """Each limit sees exactly the hits allowed: none refused by it or by another."""
    clock = FakeClock()
    throttle = make_throttle(clock)
    limits = {name: Limit(c, p) for name, c, p in zip("ab", counts, periods, strict=True)}
    allowed: dict[str, list[float]] = {"a": [], "b": []}
    for gap, which in steps:
        clock.advance(gap)
        now = clock()
        names = "ab" if which == "both" else which
        expected = max(_model_wait(limits[n], now, allowed[n]) for n in names)
        got = throttle.hit_all([Hit(n, "k", limits[n]) for n in names])
        assert got == expected
        if not got:
            for n in names:
                allowed[n].append(now)


def _model_wait(limit: Limit, now: float, allowed: list[float]) -> int:
    """The wait a limit answers, from the times of the hits it allowed."""
    window = int(now // limit.period)
    windows = [int(t // limit.period) for t in allowed]
    return _wait(limit, now, windows.count(window), windows.count(window - 1))
