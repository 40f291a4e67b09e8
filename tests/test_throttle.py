"""The sliding-window throttle, in memory (Redis shares the same arithmetic)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pwless_gate.config import Limit
from pwless_gate.throttle import MemoryThrottle

from .helpers import FakeClock


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
