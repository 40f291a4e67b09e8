"""Optional Prometheus metrics, when ``prometheus-client`` is installed.

Counters of the audit events (logins started, codes sent, logins succeeded and
failed, throttles, logouts, allow-list refusals, by reason) and a histogram of
Auth0's latency by endpoint and outcome, in the default registry, so an app
that already exports Prometheus metrics exports these too. With
``metrics=true`` the gate also serves them at ``{prefix}/metrics``.

Without prometheus-client every function here does nothing.
"""

from __future__ import annotations

import importlib
from typing import Any

try:
    prometheus_client: Any = importlib.import_module("prometheus_client")
except ImportError:  # the optional extra is not installed
    prometheus_client = None

AVAILABLE = prometheus_client is not None

_events: Any = None
_auth0: Any = None


def _ensure() -> None:
    global _events, _auth0
    if prometheus_client is None or _events is not None:
        return
    _events = prometheus_client.Counter(
        "pwless_gate_events_total",
        "Sign-in events of the gate, as in the audit log.",
        ["event", "reason"],
    )
    _auth0 = prometheus_client.Histogram(
        "pwless_gate_auth0_request_seconds",
        "Time spent waiting for Auth0, by endpoint and outcome.",
        ["endpoint", "outcome"],
        buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    )


def count_event(event: str, reason: str) -> None:
    """Count one audit event."""
    _ensure()
    if _events is not None:
        _events.labels(event=event, reason=reason or "-").inc()


def observe_auth0(endpoint: str, seconds: float, outcome: str) -> None:
    """Record one call to Auth0 (``outcome``: ok, error, unavailable)."""
    _ensure()
    if _auth0 is not None:
        _auth0.labels(endpoint=endpoint, outcome=outcome).observe(seconds)


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus's text format, and its content type."""
    _ensure()
    if prometheus_client is None:
        return b"", "text/plain"
    body: bytes = prometheus_client.generate_latest()
    return body, str(prometheus_client.CONTENT_TYPE_LATEST)
