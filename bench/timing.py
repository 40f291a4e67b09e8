"""Timing WSGI calls in process: interleaved rounds, environ copied per call.

Each variant's environ is built once; every call gets a fresh ``copy()`` of
it (the gate and the apps mutate the environ), and the cost of that copy,
measured in the same round, is subtracted. The body is iterated and
``close()`` called when present, as a server would.

Time is this thread's CPU time (``time.thread_time``), not the wall clock:
on a shared machine, the time the scheduler gives to other processes in the
middle of a batch would otherwise count as ours.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

clock = time.thread_time

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment


def _write(data: bytes) -> None:
    return None


def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
    return _write


def call(app: WSGIApplication, environ: WSGIEnvironment) -> tuple[str, list[tuple[str, str]]]:
    """One request through ``app``; returns its status and headers."""
    seen: list[Any] = []

    def record(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen[:] = [status, headers]
        return _write

    result = app(dict(environ), record)
    try:
        b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return seen[0], seen[1]


def _calls(app: WSGIApplication, environ: WSGIEnvironment, n: int) -> float:
    copy = environ.copy
    respond = start_response
    started = clock()
    for _ in range(n):
        result = app(copy(), respond)
        for _chunk in result:
            pass
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return clock() - started


def _copies(environ: WSGIEnvironment, n: int) -> float:
    copy = environ.copy
    started = clock()
    for _ in range(n):
        copy()
    return clock() - started


def per_call(fn: Callable[[dict[str, Any]], object], environ: WSGIEnvironment, n: int) -> float:
    """Best µs of ``fn(copy of environ)`` over 7 batches, the copy subtracted.

    The minimum, as ``timeit`` advises for one small step: what is slower than
    the best batch is cache and allocator noise, not the step.
    """
    copy = environ.copy
    samples = []
    for _ in range(7):
        gc.collect()
        started = clock()
        for _ in range(n):
            fn(copy())
        spent = clock() - started
        samples.append((spent - _copies(environ, n)) / n * 1e6)
    return min(samples)


@dataclass
class Variant:
    """One way of serving the same request in process."""

    name: str
    app: WSGIApplication
    environ: WSGIEnvironment
    #: Calls per round when not the common number (for the slow Flask references).
    per_round: int | None = None
    samples: list[float] = field(default_factory=list)
    copy_us: list[float] = field(default_factory=list)

    @property
    def median_us(self) -> float:
        return statistics.median(self.samples)


def interleaved(variants: Sequence[Variant], *, rounds: int, per_round: int) -> None:
    """Fill each variant's ``samples`` (µs per call), alternating variants every round.

    The starting variant rotates each round so none always runs first.
    """
    for variant in variants:
        _calls(variant.app, variant.environ, 1000)  # warm up
    for r in range(rounds):
        order = list(variants[r % len(variants) :]) + list(variants[: r % len(variants)])
        for variant in order:
            n = variant.per_round or per_round
            gc.collect()
            spent = _calls(variant.app, variant.environ, n)
            copying = _copies(variant.environ, n)
            variant.samples.append((spent - copying) / n * 1e6)
            variant.copy_us.append(copying / n * 1e6)
