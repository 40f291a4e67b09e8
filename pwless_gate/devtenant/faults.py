"""Injected failures, for testing how a client copes with a tenant that misbehaves.

A fault makes the next ``times`` requests to one path fail in one ``mode``:
``500`` (an HTML error page), ``timeout`` (a long stall before answering),
``garbage`` (200 with an HTML body labelled ``application/json``, as a
confused proxy would send) or ``429`` (the documented rate-limit answer).
``latency`` is not a failure: the request waits ``ms`` milliseconds, then is
answered normally, as a real tenant 50 to 500 ms away would. ``times`` 0 keeps a
fault until the faults are cleared. A stall ends early when the server stops.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from .constants import FAULT_MODES, MAX_FAULT_TIMES, MAX_LATENCY_MS

_FIELDS = frozenset({"path", "mode", "times", "ms"})


@dataclass
class Fault:
    """``mode`` for the next ``times`` requests to ``path`` (0: until cleared).

    ``ms`` is the delay of a ``latency`` fault.
    """

    path: str
    mode: str
    times: int
    ms: int = 0

    def to_json(self) -> dict[str, object]:
        """Return the fault as ``/_dev/faults`` shows it."""
        shown: dict[str, object] = {"path": self.path, "mode": self.mode, "times": self.times}
        if self.mode == "latency":
            shown["ms"] = self.ms
        return shown


def parse_fault(body: dict[str, object]) -> Fault:
    """Return the fault a ``POST /_dev/faults`` body describes.

    Raises ValueError naming the first problem.
    """
    unknown = [name for name in body if name not in _FIELDS]
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(unknown)}")
    return make_fault(body.get("path"), body.get("mode"), body.get("times", 1), body.get("ms"))


def make_fault(path: object, mode: object, times: object, ms: object = None) -> Fault:
    """Return a validated fault. Raises ValueError naming the first problem."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError("path must be a string starting with /")
    if path.startswith("/_dev"):
        raise ValueError("the /_dev endpoints cannot be faulted")
    if mode not in FAULT_MODES:
        raise ValueError(f"mode must be one of {', '.join(FAULT_MODES)}")
    if isinstance(times, bool) or not isinstance(times, int) or not 0 <= times <= MAX_FAULT_TIMES:
        raise ValueError(f"times must be an integer from 0 (until cleared) to {MAX_FAULT_TIMES}")
    if mode != "latency":
        if ms is not None:
            raise ValueError("ms goes only with mode latency")
        return Fault(path, str(mode), times)
    if isinstance(ms, bool) or not isinstance(ms, int) or not 0 <= ms <= MAX_LATENCY_MS:
        raise ValueError(f"ms must be an integer from 0 to {MAX_LATENCY_MS}")
    return Fault(path, str(mode), times, ms)


class Faults:
    """Pending faults, first added first used, per path."""

    def __init__(self) -> None:
        self._pending: dict[str, deque[Fault]] = {}

    def add(self, fault: Fault) -> None:
        """Queue ``fault`` behind any other fault of its path."""
        self._pending.setdefault(fault.path, deque()).append(fault)

    def take(self, path: str) -> Fault | None:
        """Use one repetition of the first fault of ``path``; return it, or None."""
        queue = self._pending.get(path)
        if not queue:
            return None
        fault = queue[0]
        if fault.times == 0:  # until cleared
            return fault
        fault.times -= 1
        if fault.times <= 0:
            queue.popleft()
        if not queue:
            del self._pending[path]
        return fault

    def listing(self) -> list[dict[str, object]]:
        """Return every pending fault, as JSON."""
        return [fault.to_json() for queue in self._pending.values() for fault in queue]

    def clear(self) -> None:
        """Drop every pending fault."""
        self._pending.clear()
