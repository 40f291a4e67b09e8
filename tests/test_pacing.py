"""The pacer: answers of real and refused starts released at the same moment."""

from __future__ import annotations

import time

import pytest

from pwless_gate.pacing import PRIOR_SECONDS, RELEASE_OVER, Pacer


def ago(seconds: float) -> float:
    """A ``perf_counter`` reading of ``seconds`` ago: a start that took that long."""
    return time.perf_counter() - seconds


def test_a_refused_start_is_held_until_the_recent_real_ones_would_end() -> None:
    pacer = Pacer()
    for seconds in (0.030, 0.040, 0.035):
        pacer.release(ago(seconds), real=True)
    begun = time.perf_counter()
    hold = pacer.release(begun, real=False)
    assert hold == pytest.approx(0.035, abs=0.002)  # the second slowest, not a stall
    assert time.perf_counter() - begun >= 0.035  # and it did wait that long


def test_refused_starts_never_move_the_release_moment() -> None:
    pacer = Pacer()
    pacer.release(ago(0.005), real=True)
    pacer.release(ago(0.006), real=True)
    pacer.release(ago(0.300), real=False)  # slow, but not real
    assert pacer.release(time.perf_counter(), real=False) == pytest.approx(0.005, abs=0.0005)


def test_a_real_start_counts_itself() -> None:
    pacer = Pacer()
    pacer.release(ago(0.010), real=True)
    hold = pacer.release(ago(0.020), real=True)
    assert 0.010 <= hold < 0.020  # the second slowest of the two; it is past already


def test_before_any_real_start_a_typical_round_trip_is_used() -> None:
    pacer = Pacer(sleep=lambda seconds: None)  # the spin alone ends the wait
    assert pacer.release(ago(0.001), real=False) == PRIOR_SECONDS


def test_only_the_last_real_starts_count() -> None:
    pacer = Pacer()
    for _ in range(2):
        pacer.release(ago(0.050), real=True)
    for _ in range(RELEASE_OVER):
        pacer.release(ago(0.002), real=True)
    assert pacer.release(time.perf_counter(), real=False) < 0.010
