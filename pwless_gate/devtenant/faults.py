"""Injected failures, for testing how a client copes with a tenant that misbehaves.

A fault makes the next ``times`` requests to one path fail in one ``mode``:
``500`` (an HTML error page), ``timeout`` (a long stall before answering),
``garbage`` (200 with an HTML body labelled ``application/json``, as a
confused proxy would send) or ``429`` (the documented rate-limit answer).
A "timeout" stall ends early when the server stops.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from .constants import FAULT_MODES, MAX_FAULT_TIMES

_FIELDS = frozenset({"path", "mode", "times"})


@dataclass
class Fault:
    """``mode`` for the next ``times`` requests to ``path``."""

    path: str
    mode: str
    times: int

    def to_json(self) -> dict[str, object]:
        """Return the fault as ``/_dev/faults`` shows it."""
        return {"path": self.path, "mode": self.mode, "times": self.times}


def parse_fault(body: dict[str, object]) -> Fault:
    """Return the fault a ``POST /_dev/faults`` body describes.

    Raises ValueError naming the first problem.
    """
    unknown = [name for name in body if name not in _FIELDS]
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(unknown)}")
    return make_fault(body.get("path"), body.get("mode"), body.get("times", 1))


def make_fault(path: object, mode: object, times: object) -> Fault:
    """Return a validated fault. Raises ValueError naming the first problem."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError("path must be a string starting with /")
    if path.startswith("/_dev"):
        raise ValueError("the /_dev endpoints cannot be faulted")
    if mode not in FAULT_MODES:
        raise ValueError(f"mode must be one of {', '.join(FAULT_MODES)}")
    if isinstance(times, bool) or not isinstance(times, int) or not 1 <= times <= MAX_FAULT_TIMES:
        raise ValueError(f"times must be an integer from 1 to {MAX_FAULT_TIMES}")
    return Fault(path, str(mode), times)


class Faults:
    """Pending faults, first added first used, per path."""

    def __init__(self) -> None:
        self._pending: dict[str, deque[Fault]] = {}

    def add(self, fault: Fault) -> None:
        """Queue ``fault`` behind any other fault of its path."""
        self._pending.setdefault(fault.path, deque()).append(fault)

    def take(self, path: str) -> str | None:
        """Use one repetition of the first fault of ``path``; return its mode, or None."""
        queue = self._pending.get(path)
        if not queue:
            return None
        fault = queue[0]
        fault.times -= 1
        if fault.times <= 0:
            queue.popleft()
        if not queue:
            del self._pending[path]
        return fault.mode

    def listing(self) -> list[dict[str, object]]:
        """Return every pending fault, as JSON."""
        return [fault.to_json() for queue in self._pending.values() for fault in queue]

    def clear(self) -> None:
        """Drop every pending fault."""
        self._pending.clear()
